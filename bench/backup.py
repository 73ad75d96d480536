"""Backup benchmark: MB/s of `harvest backup create` and `harvest backup restore` against plain
`pg_dump -Fc` / `pg_restore` of the same database, in the same run, on the same embedded server.

  .venv/bin/python bench/backup.py           # ~8,000 pages: a database of ~300 MB
  .venv/bin/python bench/backup.py --quick   # ~1,500 pages: ~60 MB, same measurement

The database looks like a crawled, processed and embedded site: raw page versions (news-like HTML,
zstd-compressed as Harvest stores them), pages, documents with their text, chunks with full-text vectors
(GIN), 384-dimensional vectors with their HNSW index, entities and mentions. MB/s is the database's
size (pg_database_size) divided by the wall time of each operation:
  (a) `pg_dump -Fc` (the embedded PostgreSQL's own, default compression) into a file on local disk;
  (b) `pg_restore` of that file into a new, empty database;
  (c) `create_backup` to a directory (a local ObjectStore on the same disk): pg_dump + zstd, the raw
      store as JSONL, the manifest, checksums — what `harvest backup create --to DIR` runs;
  (d) `restore_backup` of it into a new, empty database: every checksum first, pg_restore, the raw
      store reloaded, ANALYZE — what `harvest backup restore` runs.
Both restores rebuild every index (HNSW, GIN, b-tree) from scratch. Ratios: (c)/(a) and (d)/(b).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np
from sqlalchemy import text

from harvest.backup import create_backup, restore_backup
from harvest.backup.pgtools import harvest_database, tool
from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.settings import Settings, load_settings
from harvest.storage import RawPageIn, open_raw_store

DIM = 384
CHUNKS_PER_DOC = 5
_TOPICS = (
    "market energy solar harbour council river storage battery vaccine museum railway festival election "
    "drought harvest satellite shipping tariff bridge wildfire telescope orchestra reactor lithium startup "
    "union pension glacier volcano library stadium airline factory hospital cinema"
)
WORDS = _TOPICS.split()


def article(n: int) -> tuple[str, list[str]]:
    rng = random.Random(n)
    paragraphs = [
        " ".join(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(9, 18))).capitalize() + "."
            for _ in range(rng.randint(3, 6))
        )
        for _ in range(CHUNKS_PER_DOC)
    ]
    nav = "".join(f"<a href='/section/{k}'>Section {k}</a> " for k in range(15))
    style = "".join(f".c{k}{{margin:{k}px;color:#{(k * 7919) % 0xFFFFFF:06x}}}" for k in range(120))
    body = "".join(f"<p class='c{k}'>{p}</p>" for k, p in enumerate(paragraphs))
    html = (
        f"<html lang='en'><head><title>Story {n}</title><style>{style}</style></head><body><nav>{nav}</nav>"
        f"<main><article><h1>Story {n}</h1>{body}</article></main><footer>© {n % 97}</footer></body></html>"
    )
    return html, paragraphs


def load(settings: Settings, pages: int) -> None:
    """Raw versions through the RawStore (as the crawler writes them), the rest by COPY."""
    engine = get_engine(settings)
    started = time.perf_counter()
    texts: list[list[str]] = []
    with open_raw_store(settings) as raw:
        batch = []
        for n in range(pages):
            html, paragraphs = article(n)
            texts.append(paragraphs)
            batch.append(RawPageIn("bench", f"https://bench.example/{n}", html.encode(), http_status=200))
            if len(batch) == 200:
                raw.upsert_many(batch)
                batch = []
        raw.upsert_many(batch)
    rng = np.random.default_rng(5)
    raw_conn = engine.raw_connection()
    try:
        conn = raw_conn.driver_connection
        assert conn is not None
        with conn.cursor() as cur:
            cur.execute("INSERT INTO sources (id, name) VALUES (1, 'bench')")
            with cur.copy("COPY pages (id, source_id, url, version, state, http_status) FROM STDIN") as copy:
                for n in range(pages):
                    copy.write_row((n + 1, 1, f"https://bench.example/{n}", 1, "active", 200))
            with cur.copy(
                "COPY documents (id, page_id, source_id, url, page_version, title, language, text) FROM STDIN"
            ) as copy:
                for n in range(pages):
                    copy.write_row(
                        (
                            n + 1,
                            n + 1,
                            1,
                            f"https://bench.example/{n}",
                            1,
                            f"Story {n}",
                            "en",
                            "\n\n".join(texts[n]),
                        )
                    )
            with cur.copy(
                "COPY chunks (id, document_id, ordinal, text, token_count, search_config) FROM STDIN"
            ) as copy:
                for n in range(pages):
                    for k, paragraph in enumerate(texts[n]):
                        copy.write_row((f"{n * CHUNKS_PER_DOC + k:064x}", n + 1, k, paragraph, 60, "english"))
            cur.execute(
                "INSERT INTO embedding_models (id, name, dimension, active) "
                "VALUES (1, 'synthetic', %s, true)",
                (DIM,),
            )
            chunks = pages * CHUNKS_PER_DOC
            with cur.copy("COPY chunk_embeddings (model_id, chunk_id, embedding) FROM STDIN") as copy:
                for start in range(0, chunks, 5000):
                    size = min(5000, chunks - start)
                    vectors = rng.normal(size=(size, DIM)).astype(np.float32)
                    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                    buffer = io.StringIO()
                    for offset, vector in enumerate(vectors):
                        buffer.write(f"1\t{start + offset:064x}\t[{','.join(f'{x:.6f}' for x in vector)}]\n")
                    copy.write(buffer.getvalue())
            cur.execute(
                "INSERT INTO entities (id, type, name) "
                "SELECT g, 'organization', 'Org ' || g FROM generate_series(1, 500) g"
            )
            cur.execute(
                "INSERT INTO entity_mentions "
                '(chunk_id, document_id, entity_id, start, "end", surface, score) '
                "SELECT c.id, c.document_id, 1 + (c.document_id % 500), 0, 5, 'Org', 95 "
                "FROM chunks c WHERE c.ordinal = 0"
            )
        conn.commit()
    finally:
        raw_conn.close()
    with engine.begin() as sa_conn:
        sa_conn.execute(text("SET maintenance_work_mem = '256MB'"))
        sa_conn.execute(
            text(
                f"CREATE INDEX ix_chunk_embeddings_hnsw_1 ON chunk_embeddings USING hnsw "
                f"((embedding::vector({DIM})) vector_cosine_ops) WITH (m = 16, ef_construction = 64) "
                "WHERE model_id = 1"
            )
        )
        sa_conn.execute(text("ANALYZE"))
    print(
        f"loaded {pages} pages, {pages * CHUNKS_PER_DOC} chunks and vectors "
        f"in {time.perf_counter() - started:.1f} s"
    )


def database_mb(settings: Settings, name: str) -> float:
    with get_engine(settings).connect() as conn:
        return float(conn.execute(text("SELECT pg_database_size(:n)"), {"n": name}).scalar_one()) / 1e6


def timed(label: str, mb: float, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:7.2f} s  {mb / seconds:7.1f} MB/s")
    return mb / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,500 pages instead of 8,000")
    args = parser.parse_args()
    pages = 1500 if args.quick else 8000
    work = Path(tempfile.mkdtemp(prefix="harvest-bench-backup-"))
    settings = load_settings(
        _env_file=None, data_dir=work / "data", log_level="WARNING", backup_schedule="off"
    )
    try:
        load(settings, pages)
        mb = database_mb(settings, settings.database_name)
        database = harvest_database(settings)
        env = database.env(settings)
        print(f"database {settings.database_name}: {mb:.1f} MB")
        dump_file = work / "plain.dump"
        base_backup = timed(
            "(a) pg_dump -Fc → file",
            mb,
            lambda: subprocess.run(
                [
                    str(tool(settings, "pg_dump")),
                    "-Fc",
                    f"--file={dump_file}",
                    f"--dbname={database.conninfo}",
                ],
                check=True,
                env=env,
            ),
        )
        target = database.named("plain_restored")
        subprocess.run(
            [
                str(tool(settings, "createdb")),
                f"--maintenance-db={database.named('postgres').conninfo}",
                target.name,
            ],
            check=True,
            env=env,
        )
        base_restore = timed(
            "(b) pg_restore file → empty database",
            mb,
            lambda: subprocess.run(
                [str(tool(settings, "pg_restore")), f"--dbname={target.conninfo}", str(dump_file)],
                check=True,
                env=env,
            ),
        )
        backups = work / "backups"
        ours_backup = timed(
            "(c) harvest backup create → directory", mb, lambda: create_backup(settings, to=str(backups))
        )
        stored = sum(p.stat().st_size for p in backups.rglob("*") if p.is_file())
        restored = load_settings(
            _env_file=None,
            data_dir=work / "data",
            log_level="WARNING",
            backup_schedule="off",
            database_name="harvest_restored",
        )
        ours_restore = timed(
            "(d) harvest backup restore → empty database",
            mb,
            lambda: restore_backup(restored, "latest", source=str(backups)),
        )
        print(
            f"sizes: pg_dump -Fc {dump_file.stat().st_size / 1e6:.1f} MB, "
            f"harvest backup {stored / 1e6:.1f} MB"
        )
        backup_ratio, restore_ratio = ours_backup / base_backup, ours_restore / base_restore
        print(
            f"backup (c)/(a) = {backup_ratio:.2f}, restore (d)/(b) = {restore_ratio:.2f} (target >= 0.8 each)"
        )
        print(f"RESULT backup_ratio={backup_ratio:.3f} restore_ratio={restore_ratio:.3f} mb={mb:.1f}")
    finally:
        dispose_engines()
        EmbeddedPostgres(settings.data_dir).stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
