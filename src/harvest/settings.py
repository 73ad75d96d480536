"""The one typed settings object. Every setting is `HARVEST_<NAME>` in the environment or `.env`.

Nothing else in Harvest reads `os.environ`; code asks `get_settings()` (built on call, never at import).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from harvest.errors import ConfigError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Environment = Literal["development", "production"]

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_API_TOKEN = "change-me"  # noqa: S105 - refused outside development by the validator below
MIN_PRODUCTION_TOKEN_CHARS = 32
# URL query parameters that carry secrets (libpq's password=, MongoDB's, S3-style signatures, tokens)
_SECRET_PARAMS = re.compile(r"(pass(word|wd)?|pwd|secret|token|key|signature|credential)", re.IGNORECASE)


# Requests per client (address) per time unit on the API's expensive endpoints; `off` (or 0) disables one.
DEFAULT_RATE_LIMITS = "search=30/s,crawl=10/min,run=30/min,train=5/min,predict=30/s"
_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}


def parse_rate_limits(text: str) -> dict[str, tuple[float, float]]:
    """`search=30/s,crawl=10/min` -> {"search": (30, 1), "crawl": (10, 60)}; `off`/0 leaves a group out."""
    limits: dict[str, tuple[float, float]] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        group, sep, spec = part.partition("=")
        count, slash, unit = spec.strip().partition("/")
        if not sep or not group.strip():
            raise ValueError(f"{part!r} is not GROUP=COUNT/UNIT (e.g. search=30/s, crawl=10/min, run=off)")
        if count.strip().lower() in {"off", "0", "none", "unlimited"}:
            continue
        try:
            number = float(count)
        except ValueError:
            raise ValueError(f"{part!r}: {count!r} is not a number of requests") from None
        window = _UNITS.get(unit.strip().lower() or "s") if slash or not unit else None
        if window is None or not 0 < number <= 1e6:
            raise ValueError(f"{part!r} is not GROUP=COUNT/UNIT with a unit of s, min or h (e.g. 30/s)")
        limits[group.strip()] = (number, window)
    return limits


class Settings(BaseSettings):
    """Harvest settings; see `.env.example` for one line of documentation per field."""

    model_config = SettingsConfigDict(
        env_prefix="HARVEST_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    environment: Environment = "development"
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("harvest"))
    database_url: str | None = None
    database_name: str = "harvest"
    raw_store_url: str | None = None
    object_store_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    embeddings_url: str | None = None
    api_token: SecretStr = SecretStr(DEFAULT_API_TOKEN)
    log_level: LogLevel = "INFO"
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)
    crawl_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    crawl_max_response_mb: float = Field(default=10.0, gt=0, le=1024)
    crawl_timeout_s: float = Field(default=30.0, gt=0, le=600)
    crawl_retries: int = Field(default=2, ge=0, le=10)
    chromium_path: Path = Path("/usr/bin/chromium")
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    chunk_max_tokens: int = Field(default=320, ge=16, le=8192)
    chunk_overlap_tokens: int = Field(default=32, ge=0, le=4096)
    chunk_min_tokens: int = Field(default=24, ge=0, le=4096)
    near_duplicate_threshold: float = Field(default=0.85, ge=0.5, le=1.0)
    process_max_chars: int = Field(default=1_000_000, ge=1000)
    process_batch_size: int = Field(default=50, ge=1, le=5000)
    embedding_device: Literal["auto", "cpu", "cuda"] = "auto"
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = "torch"
    embedding_threads: int = Field(default=0, ge=0, le=256)
    embedding_batch_size: int = Field(default=0, ge=0, le=4096)
    embedding_max_tokens: int = Field(default=0, ge=0, le=8192)
    embeddings_token: SecretStr | None = None
    embed_batch_chunks: int = Field(default=256, ge=1, le=100_000)
    hnsw_m: int = Field(default=16, ge=2, le=100)
    hnsw_ef_construction: int = Field(default=64, ge=4, le=1000)
    search_ef_search: int = Field(default=100, ge=1, le=1000)
    search_rrf_k: int = Field(default=20, ge=1, le=10_000)
    search_vector_weight: float = Field(default=1.0, ge=0, le=100)
    search_keyword_weight: float = Field(default=0.4, ge=0, le=100)
    search_max_query_chars: int = Field(default=1000, ge=10, le=100_000)
    search_chunk_evidence: float = Field(default=0.3, ge=0, le=10)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_public_reads: bool = False
    api_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_max_body_mb: float = Field(default=1.0, gt=0, le=1024)
    api_rate_limits: Annotated[dict[str, tuple[float, float]], NoDecode] = Field(
        default_factory=lambda: parse_rate_limits(DEFAULT_RATE_LIMITS)
    )
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    worker_heartbeat_s: float = Field(default=10.0, gt=0, le=600)
    worker_stalled_after_s: float = Field(default=60.0, gt=0, le=86_400)
    job_max_attempts: int = Field(default=3, ge=1, le=20)
    job_retry_wait_s: float = Field(default=5.0, ge=0, le=3600)
    update_all_schedule: str | None = None
    database_autostart: bool = True
    worker_stop_grace_s: float = Field(default=5.0, ge=0, le=3600)
    worker_reconnect_max_s: float = Field(default=30.0, ge=0.1, le=3600)
    worker_nice: int | None = Field(default=None, ge=0, le=19)
    entity_threshold: float = Field(default=88.0, ge=50, le=100)
    entity_type_thresholds: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    entity_resolve_threshold: float = Field(default=0.85, ge=0.5, le=1.0)
    backup_url: str | None = None
    backup_schedule: str = "0 3 * * *"
    backup_keep_daily: int = Field(default=7, ge=0, le=10_000)
    backup_keep_weekly: int = Field(default=4, ge=0, le=10_000)
    backup_encryption_key: SecretStr | None = None
    backup_compression_level: int = Field(default=3, ge=1, le=19)
    backup_max_mbps: float = Field(default=0.0, ge=0)
    pg_bin_dir: Path | None = None
    mlflow_tracking_uri: str | None = None
    mlflow_database: str = Field(default="mlflow", pattern=r"^[A-Za-z0-9_]{1,63}$")
    train_epochs: int = Field(default=100, ge=1, le=10_000)
    train_finetune_epochs: int = Field(default=3, ge=1, le=1000)
    train_patience: int = Field(default=30, ge=1, le=1000)
    train_batch_size: int = Field(default=32, ge=1, le=65_536)
    train_learning_rate: float = Field(default=3e-3, gt=0, le=1.0)
    train_seed: int = Field(default=42, ge=0, le=2**31 - 1)
    predict_batch_size: int = Field(default=64, ge=1, le=4096)
    predict_max_inputs: int = Field(default=1024, ge=1, le=100_000)
    retrain_margin: float = Field(default=0.01, ge=0, le=1.0)
    # Crawler-trap limits: defaults for every source (a source's own value, when set, wins).
    crawl_max_depth: int = Field(default=20, ge=0, le=100_000)
    crawl_max_pages: int = Field(default=10_000, ge=1, le=100_000_000)
    crawl_max_url_length: int = Field(default=2083, ge=64, le=1_000_000)
    crawl_max_path_repeats: int = Field(default=2, ge=1, le=1000)
    crawl_max_query_variants: int = Field(default=100, ge=1, le=100_000_000)
    crawl_max_years_ahead: int = Field(default=1, ge=0, le=1000)
    entity_match_probability: float = Field(default=0.85, gt=0.0, lt=1.0)
    entity_threads: int = Field(default=0, ge=0, le=256)
    entity_memory_limit: str = "2GB"
    entity_pairs_per_record: int = Field(default=10, ge=1, le=10_000)
    spark_master: str = ""
    # speed (issue 19)
    process_workers: int = Field(default=0, ge=0, le=256)
    crawl_revisit_min: int = Field(default=3600, ge=0, le=10 * 365 * 86400)
    crawl_revisit_max: int = Field(default=7 * 86400, ge=0, le=10 * 365 * 86400)
    # the embedded server's shared buffers in MB; 0: an eighth of this machine's memory, 128 MB to 1 GB
    embedded_shared_buffers_mb: int = Field(default=0, ge=0, le=1_048_576)

    @field_validator("embedded_shared_buffers_mb")
    @classmethod
    def _check_shared_buffers(cls, value: int) -> int:
        if 0 < value < 16:
            raise ValueError("must be 0 (sized to this machine) or at least 16 (MB)")
        return value

    @field_validator("crawl_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _check_mlflow_uri(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in {"postgresql", "postgresql+psycopg", "postgres", "http", "https", "file"}:
            raise ValueError("must be a postgresql://, http(s):// or file:// URI (unset: next to Harvest's)")
        return value

    @field_validator("update_all_schedule")
    @classmethod
    def _check_schedule(cls, value: str | None) -> str | None:
        if not value:
            return None
        from harvest.cron import check_cron

        return check_cron(value)

    @field_validator("api_rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: object) -> object:
        return parse_rate_limits(value) if isinstance(value, str) else value

    @field_validator("backup_schedule")
    @classmethod
    def _check_backup_schedule(cls, value: str | None) -> str:
        # "off" rather than None: a disabled schedule must reach child processes (settings_env skips None)
        if not value or value.strip().lower() in {"off", "none", "never", "false"}:
            return "off"
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError("must be a cron expression such as '0 3 * * *' (daily at 03:00), or 'off'")
        return value

    @field_validator("backup_url")
    @classmethod
    def _check_backup_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme == "s3" and not parts.netloc:
            raise ValueError("an S3 URL needs a bucket: s3://BUCKET/optional/prefix")
        if parts.scheme not in {"s3", "file", ""}:
            raise ValueError("must be s3://BUCKET/prefix, file:///path or a local directory")
        return value

    @field_validator("backup_encryption_key")
    @classmethod
    def _check_backup_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `harvest backup keygen`)")
        return value

    @field_validator("entity_type_thresholds", mode="before")
    @classmethod
    def _parse_thresholds(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("{"):
            import json

            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("is not TYPE=SCORE pairs or a JSON object") from None
        if isinstance(value, str):
            pairs = [part.strip() for part in value.split(",") if part.strip()]
            parsed: dict[str, float] = {}
            for pair in pairs:
                name, sep, number = pair.partition("=")
                try:
                    parsed[name.strip()] = float(number)
                except ValueError:
                    raise ValueError(f"{pair!r} is not TYPE=SCORE (e.g. person=92,product=85)") from None
                if not sep or not name.strip():
                    raise ValueError(f"{pair!r} is not TYPE=SCORE (e.g. person=92,product=85)")
            return parsed
        return value

    @field_validator("crawl_allowed_hosts")
    @classmethod
    def _check_hosts(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as error:
                raise ValueError(
                    f"{value!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)"
                ) from error
        return values

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme
        if not scheme.startswith("postgresql") and scheme != "postgres":
            raise ValueError("must be a postgresql:// URL (leave it unset for the embedded server)")
        return value

    @field_validator("raw_store_url")
    @classmethod
    def _check_raw_store_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme
        if scheme not in {"mongodb", "mongodb+srv", "postgresql"}:
            raise ValueError(
                "must be mongodb://… (MongoDB) or unset / postgresql (the raw_pages table in PostgreSQL)"
            )
        return value

    @field_validator("object_store_url")
    @classmethod
    def _check_object_store_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme == "s3":
            if not parts.netloc:
                raise ValueError("an S3 URL needs a bucket: s3://BUCKET/optional/prefix")
            return value
        if parts.scheme in {"file", ""}:
            return value
        raise ValueError("must be s3://BUCKET/prefix, file:///path or a local path")

    @model_validator(mode="after")
    def _overlap_below_chunk_size(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_max_tokens:
            raise ValueError("HARVEST_CHUNK_OVERLAP_TOKENS must be smaller than HARVEST_CHUNK_MAX_TOKENS")
        return self

    @model_validator(mode="after")
    def _revisit_min_below_max(self) -> Settings:
        if self.crawl_revisit_min > self.crawl_revisit_max:
            raise ValueError("HARVEST_CRAWL_REVISIT_MIN must not be larger than HARVEST_CRAWL_REVISIT_MAX")
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        token = self.api_token.get_secret_value()
        if self.environment == "production" and token == DEFAULT_API_TOKEN:
            raise ValueError("HARVEST_API_TOKEN must be set to a secret of your own in production")
        if self.environment == "production" and len(token) < MIN_PRODUCTION_TOKEN_CHARS:
            raise ValueError(
                f"HARVEST_API_TOKEN must be at least {MIN_PRODUCTION_TOKEN_CHARS} characters in production "
                f"(it has {len(token)}); e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self

    @property
    def embedded_database(self) -> bool:
        """True when Harvest runs its own PostgreSQL under the data directory."""
        return self.database_url is None

    @property
    def backup_cron(self) -> str | None:
        """The automatic backup's cron expression, None when disabled."""
        return None if self.backup_schedule == "off" else self.backup_schedule

    @property
    def database_identity(self) -> str:
        """Which database these settings mean, without secrets: lets a CLI recognise the API of its own
        installation (the same embedded data directory, or the same server and database)."""
        if self.database_url is None:
            return f"embedded:{self.data_dir}:{self.database_name}"
        parts = urlsplit(self.database_url)
        return f"{parts.username or ''}@{parts.hostname or ''}:{parts.port or 5432}{parts.path}?{parts.query}"

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = first.get("loc") or ()
    name = str(loc[0]) if loc else ""
    message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    if not name:  # a check across several settings names them in its own message
        return message
    setting = f"HARVEST_{name.upper()}"
    value = first.get("input")
    shown = (
        ""
        if name in {"api_token", "s3_secret_access_key", "backup_encryption_key"}
        or not isinstance(value, str)
        else f"={value!r}"
    )
    return f"{setting}{shown}: {message}"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (+ `.env`), turning validation errors into a ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from error


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return load_settings()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment of a child process that must see exactly these settings (e.g. a crawl worker)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    for name, value in settings:
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, dict):  # TYPE=SCORE pairs, or GROUP=COUNT/UNIT rate limits
            value = ",".join(f"{k}={_env_item(v)}" for k, v in value.items())
        env[f"HARVEST_{name.upper()}"] = str(value)
    return env


def _env_item(value: object) -> str:
    if isinstance(value, tuple) and len(value) == 2:
        count, window = value
        unit = {1.0: "s", 60.0: "min", 3600.0: "h"}[float(window)]
        return f"{count:g}/{unit}"
    return str(value)


def _mask_url_password(url: str) -> str:
    """The URL with its password masked, in the user part and in query parameters (password=…)."""
    from urllib.parse import parse_qsl, urlencode

    parts = original = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":****@", 1))
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(_SECRET_PARAMS.search(name) for name, _ in pairs):
            masked_pairs = [(n, "****" if _SECRET_PARAMS.search(n) else v) for n, v in pairs]
            parts = parts._replace(query=urlencode(masked_pairs, safe="/:*@"))
    if parts == original:
        return url
    # urlunsplit drops the // of an empty host (postgresql:///db?host=…): keep the original's
    return (
        parts.geturl().replace(f"{parts.scheme}:/", f"{parts.scheme}:///", 1)
        if not parts.netloc
        else parts.geturl()
    )


def masked(settings: Settings) -> dict[str, str]:
    """Settings as display strings: secrets, and passwords inside URLs, masked."""
    shown: dict[str, str] = {}
    for name, value in settings:
        if isinstance(value, SecretStr):
            text = "****" if value.get_secret_value() else ""
        elif value is None:
            text = ""
        elif isinstance(value, str) and "://" in value:
            text = _mask_url_password(value)
        else:
            text = str(value)
        shown[f"HARVEST_{name.upper()}"] = text
    return shown
