"""Where Splink's SQL runs. DuckDB, embedded, is the default: all cores (`HARVEST_ENTITY_THREADS`), a
memory limit, and spilling to a temporary directory instead of failing. With `HARVEST_SPARK_MASTER`
set, the pairwise work (blocking, training, scoring, clustering) runs on Spark: the prepared columns
are handed over as Parquet, and the results come back the same way, so reading the input and writing
the outputs stay in DuckDB either way."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harvest.errors import ConfigError, InvalidInputError

logger = logging.getLogger(__name__)
DEFAULT_MEMORY_LIMIT = "2GB"


class Engine:
    """One linkage run's databases. Use as a context manager: temporary files go when it ends."""

    def __init__(
        self,
        *,
        threads: int = 0,
        memory_limit: str = "",
        temp_dir: Path | None = None,
        spark_master: str = "",
    ) -> None:
        import duckdb

        from harvest.entities import udfs

        self._scratch = Path(tempfile.mkdtemp(prefix="harvest-linkage-", dir=temp_dir))
        # a database file, not memory: candidate pairs of a big table (tens of millions of rows with
        # every column's level and weight) live on disk, and memory stays within the limit
        self._con = duckdb.connect(str(self._scratch / "linkage.duckdb"))
        if threads > 0:
            self._con.execute(f"SET threads = {int(threads)}").fetchall()
        self._con.execute(f"SET memory_limit = '{memory_limit or DEFAULT_MEMORY_LIMIT}'").fetchall()
        self._con.execute("SET preserve_insertion_order = true").fetchall()
        self._con.execute(f"SET temp_directory = '{self._scratch / 'spill'}'").fetchall()
        udfs.register(self._con)
        self.dialect = "spark" if spark_master else "duckdb"
        self._spark_master = spark_master
        self._spark: Any = None
        logging.getLogger("splink").setLevel(logging.WARNING)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def duckdb(self) -> Any:
        return self._con

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._con.execute(sql).fetchall()]

    # --- Splink -------------------------------------------------------------------------------

    def _db_api(self) -> Any:
        if self.dialect == "duckdb":
            from splink import DuckDBAPI

            return DuckDBAPI(connection=self._con)
        try:
            from pyspark.sql import SparkSession
            from splink import SparkAPI
        except ImportError as error:
            raise ConfigError(
                "HARVEST_SPARK_MASTER is set but pyspark is not installed: pip install 'harvest[spark]'"
            ) from error
        self._spark = (
            SparkSession.builder.master(self._spark_master).appName("harvest-entities").getOrCreate()
        )
        self._spark.sparkContext.setCheckpointDir(str(self._scratch / "checkpoints"))
        return SparkAPI(spark_session=self._spark)  # type: ignore[no-untyped-call]

    def linker(self, tables: list[str], settings: dict[str, Any], model_in: Path | None) -> Any:
        from splink import Linker

        db_api = self._db_api()
        registered = []
        for name in tables:
            if self._spark is not None:
                folder = self._scratch / f"{name}.parquet"
                self._con.execute(f"COPY {name} TO '{folder}' (FORMAT parquet)").fetchall()
                self._spark.read.parquet(str(folder)).createOrReplaceTempView(name)
            registered.append(db_api.register(name, dataset_display_name=name))
        if model_in is not None:
            settings = _reuse(model_in, settings)
        return Linker(registered if len(registered) > 1 else registered[0], settings, log_level=None)

    def predict(self, linker: Any, chunks: int, progress: Callable[[int], None]) -> str:
        if chunks == 1:
            result = linker.inference.predict(warning_mode="never")
            progress(1)
            return self.local(result)
        parts = []
        for index in range(1, chunks + 1):
            part = linker.inference.predict_chunk(
                left_chunk=(index, chunks), right_chunk=(1, 1), warning_mode="never"
            )
            parts.append(self.local(part))
            progress(index)
        name = "harvest_predictions"
        # a view over the chunks' tables: no second copy of every candidate pair
        self._con.execute(
            f"CREATE VIEW {name} AS " + " UNION ALL ".join(f"SELECT * FROM {p}" for p in parts)
        ).fetchall()
        return name

    def cluster(self, linker: Any, predictions: str, threshold: float) -> str:
        db_api = linker._db_api
        if self._spark is not None:
            folder = self._scratch / "predictions.parquet"
            self._con.execute(f"COPY {predictions} TO '{folder}' (FORMAT parquet)").fetchall()
            self._spark.read.parquet(str(folder)).createOrReplaceTempView("harvest_predictions_spark")
            frame = db_api.register(
                "harvest_predictions_spark", dataset_display_name="harvest_predictions_in"
            )
        else:
            frame = db_api.register(predictions, dataset_display_name="harvest_predictions_in")
        clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
            frame, threshold_match_probability=threshold
        )
        return self.local(clustered)

    def local(self, frame: Any) -> str:
        """A DuckDB table name holding a Splink result (copied over from Spark when Spark ran it)."""
        if self._spark is None:
            return str(frame.physical_name)
        folder = self._scratch / f"{frame.physical_name}.parquet"
        self._spark.table(frame.physical_name).write.mode("overwrite").parquet(str(folder))
        name = f"spark_{frame.physical_name}"
        self._con.execute(
            f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM read_parquet('{folder}/*.parquet')"
        ).fetchall()
        return name

    def count(self, table: str) -> int:
        return int(self._con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    def count_where(self, table: str, condition: str) -> int:
        return int(self._con.execute(f"SELECT count(*) FROM {table} WHERE {condition}").fetchall()[0][0])


def _reuse(model_in: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """A saved model's parameters for this run: its comparisons must be the ones the fields give."""
    import json

    try:
        saved = json.loads(model_in.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidInputError(f"{model_in} does not exist") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{model_in} is not a model written by Harvest (not JSON)") from error
    model = saved.get("splink") if isinstance(saved, dict) else None
    if not isinstance(model, dict) or "comparisons" not in model:
        raise InvalidInputError(f"{model_in} is not a model written by Harvest (no 'splink' section)")
    names = [c.get("output_column_name") for c in model["comparisons"]]
    wanted = [c["output_column_name"] for c in settings["comparisons"]]
    if names != wanted:
        raise InvalidInputError(
            f"{model_in} was trained on the fields {', '.join(map(str, names))}; this run compares "
            f"{', '.join(wanted)}"
        )
    return {
        **model,
        "blocking_rules_to_generate_predictions": settings["blocking_rules_to_generate_predictions"],
    }
