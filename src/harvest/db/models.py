"""SQLAlchemy 2 models: the system of record for structured data (see ARCHITECTURE.md's data flow).

Schema changes go through Alembic migrations in `harvest/db/migrations`; a test checks that the migrated
schema equals these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy import text as literal_sql  # `text` is also a column name in class bodies
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REGCONFIG, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RENDER_MODES = ("static", "browser")
RUN_STATUSES = ("queued", "running", "succeeded", "partial", "failed", "cancelled", "interrupted")
PAGE_STATES = ("active", "gone", "failed")
PIPELINE_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
STAGE_STATUSES = ("pending", "queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ENTITY_ORIGINS = ("import", "field", "candidate")
LINK_KINDS = ("merge", "split")
CANDIDATE_STATUSES = ("new", "accepted", "rejected")
# Keyword ranking weighs a word in the page title (A) above one in the chunk's heading path (B) above one
# in the text (D); search.keyword sets how much each weight counts.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector(search_config, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector(search_config, coalesce(heading, '')), 'B') || "
    "setweight(to_tsvector(search_config, text), 'D')"
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONB, list[str]: ARRAY(Text)}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class Source(Timestamped, Base):
    """A site (or set of URLs) to crawl, with its scope, politeness, rendering and labels."""

    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint(f"render_mode IN {RENDER_MODES}", name="render_mode"),
        CheckConstraint("max_depth IS NULL OR max_depth >= 0", name="max_depth"),
        CheckConstraint("max_pages IS NULL OR max_pages > 0", name="max_pages"),
        CheckConstraint("max_url_length IS NULL OR max_url_length > 0", name="max_url_length"),
        CheckConstraint("max_path_repeats IS NULL OR max_path_repeats > 0", name="max_path_repeats"),
        CheckConstraint("max_query_variants IS NULL OR max_query_variants > 0", name="max_query_variants"),
        CheckConstraint("max_years_ahead IS NULL OR max_years_ahead >= 0", name="max_years_ahead"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    start_urls: Mapped[list[str]] = mapped_column(server_default="{}")
    sitemap_urls: Mapped[list[str]] = mapped_column(server_default="{}")
    allowed_domains: Mapped[list[str]] = mapped_column(server_default="{}")
    include_patterns: Mapped[list[str]] = mapped_column(server_default="{}")
    exclude_patterns: Mapped[list[str]] = mapped_column(server_default="{}")
    max_depth: Mapped[int | None] = mapped_column(Integer)
    max_pages: Mapped[int | None] = mapped_column(Integer)
    # Crawler-trap limits; NULL = the HARVEST_CRAWL_* default (as for max_depth and max_pages).
    max_url_length: Mapped[int | None] = mapped_column(Integer)
    max_path_repeats: Mapped[int | None] = mapped_column(Integer)
    max_query_variants: Mapped[int | None] = mapped_column(Integer)
    max_years_ahead: Mapped[int | None] = mapped_column(Integer)
    render_mode: Mapped[str] = mapped_column(String(16), server_default="static")
    # [{"pattern": "...", "render": "browser"}]: per-URL-pattern overrides of render_mode.
    render_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    wait_for_selector: Mapped[str | None] = mapped_column(Text)
    concurrency_per_domain: Mapped[int] = mapped_column(Integer, server_default="4")
    delay_s: Mapped[float] = mapped_column(server_default="0")
    user_agent: Mapped[str | None] = mapped_column(Text)
    schedule: Mapped[str | None] = mapped_column(String(120))
    labels: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    extraction_rules: Mapped[dict[str, Any]] = mapped_column(server_default="{}")

    runs: Mapped[list[CrawlRun]] = relationship(back_populates="source", passive_deletes=True)


class CrawlRun(Timestamped, Base):
    """One crawl of one source: status, counts, and who is running it (for crash detection)."""

    __tablename__ = "crawl_runs"
    __table_args__ = (
        CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),
        # one crawl per source at a time, whatever the processes do
        Index(
            "uq_crawl_runs_one_live_per_source",
            "source_id",
            unique=True,
            postgresql_where=literal_sql("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(Text)  # host:pid of the process running it
    pages_fetched: Mapped[int] = mapped_column(Integer, server_default="0")
    pages_new: Mapped[int] = mapped_column(Integer, server_default="0")
    pages_changed: Mapped[int] = mapped_column(Integer, server_default="0")
    pages_unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    pages_gone: Mapped[int] = mapped_column(Integer, server_default="0")
    pages_failed: Mapped[int] = mapped_column(Integer, server_default="0")
    pages_robots_skipped: Mapped[int] = mapped_column(Integer, server_default="0")
    pages_not_due: Mapped[int] = mapped_column(Integer, server_default="0")  # known, not requested
    full: Mapped[bool] = mapped_column(Boolean, server_default="false")  # every known page revalidated
    message: Mapped[str | None] = mapped_column(Text)
    # links not followed because of a limit: {kind: {"count": n, "limit": value, "example": url}}
    limits: Mapped[dict[str, Any]] = mapped_column(server_default="{}")

    source: Mapped[Source] = relationship(back_populates="runs")
    errors: Mapped[list[CrawlError]] = relationship(back_populates="run", passive_deletes=True)


class CrawlError(Base):
    """A per-page failure recorded on a run; the crawl goes on."""

    __tablename__ = "crawl_errors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    run: Mapped[CrawlRun] = relationship(back_populates="errors")


class Page(Timestamped, Base):
    """The latest fetch state of one URL of one source; bodies live in the RawStore, by version."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("source_id", "url"),
        CheckConstraint(f"state IN {PAGE_STATES}", name="state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), server_default="active")
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    content_type: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default="0")  # latest RawStore version, 0 = none
    depth: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    # recrawl schedule (harvest.crawl.revisit): learned interval, and when the page is next worth asking
    revisit_interval_s: Mapped[int | None] = mapped_column(Integer)
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RawPage(Base):
    """A raw page version: the PostgreSQL backend of the RawStore (MongoDB holds the same in production)."""

    __tablename__ = "raw_pages"
    __table_args__ = (
        UniqueConstraint("source", "url", "version"),
        Index("ix_raw_pages_source_seq", "source", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # commit-ordered change cursor
    source: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    final_url: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    headers: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    render_mode: Mapped[str] = mapped_column(String(16), server_default="static")
    content_type: Mapped[str | None] = mapped_column(Text)
    body_encoding: Mapped[str] = mapped_column(String(16), server_default="zstd")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_size: Mapped[int] = mapped_column(Integer)  # uncompressed bytes
    meta: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Document(Timestamped, Base):
    """Clean text + metadata extracted from a page's latest processed version."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    page_version: Mapped[int] = mapped_column(Integer)  # the raw version this text came from
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, server_default="")
    text_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), index=True
    )
    skip_reason: Mapped[str | None] = mapped_column(Text)
    # how the text was obtained: extractor, truncated, …
    meta: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the process stage's version that made text and chunks: an older one is processed again
    processor_version: Mapped[int] = mapped_column(Integer, server_default="1")

    chunks: Mapped[list[Chunk]] = relationship(back_populates="document", passive_deletes=True)


class DocumentVersion(Base):
    """The text a document had for each processed page version (its history)."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "page_version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    page_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str | None] = mapped_column(String(64))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class DocumentBand(Base):
    """MinHash LSH bands of canonical documents: near-duplicate candidates found by an index lookup."""

    __tablename__ = "document_bands"

    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    band_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Chunk(Timestamped, Base):
    """A token-bounded piece of a document; its id is a hash of its content, so it survives re-processing."""

    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_document_id_ordinal", "document_id", "ordinal"),
        Index("ix_chunks_search_vector", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(Text)  # heading path below the title: "Setup > Databases"
    title: Mapped[str | None] = mapped_column(Text)  # the document's title, embedded and indexed with it
    # The document language's text-search configuration (search.text_config); keyword search stems
    # queries with the same one.
    search_config: Mapped[str] = mapped_column(REGCONFIG, server_default=literal_sql("'simple'::regconfig"))
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True), deferred=True
    )

    document: Mapped[Document] = relationship(back_populates="chunks")


class EmbeddingModel(Timestamped, Base):
    """A model whose vectors are stored; exactly one may be `active` (the one search uses)."""

    __tablename__ = "embedding_models"
    __table_args__ = (
        Index("uq_embedding_models_one_active", "active", unique=True, postgresql_where=text("active")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    dimension: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default="false")


class ChunkEmbedding(Base):
    """One vector per (model, chunk). The column has no fixed dimension, so models of any size share the
    table; each model gets its own partial HNSW index on `embedding::vector(dim)` (see embeddings.store)."""

    __tablename__ = "chunk_embeddings"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("embedding_models.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_id: Mapped[str] = mapped_column(
        ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    embedding: Mapped[Any] = mapped_column(Vector())
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class PipelineRun(Timestamped, Base):
    """One run of a source's pipeline (crawl → process → entities → embed) through the task queue."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (CheckConstraint(f"status IN {PIPELINE_STATUSES}", name="status"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    trigger: Mapped[str] = mapped_column(String(32), server_default="manual")  # manual | schedule | api
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message: Mapped[str | None] = mapped_column(Text)

    stages: Mapped[list[PipelineStage]] = relationship(
        back_populates="pipeline_run", passive_deletes=True, order_by="PipelineStage.position"
    )


class PipelineStage(Base):
    """A stage of a pipeline run: its queue job, status, timings, attempts and counts."""

    __tablename__ = "pipeline_stages"
    __table_args__ = (
        UniqueConstraint("pipeline_run_id", "stage"),
        CheckConstraint(f"status IN {STAGE_STATUSES}", name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pipeline_run_id: Mapped[int] = mapped_column(ForeignKey("pipeline_runs.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    job_id: Mapped[int | None] = mapped_column(BigInteger)  # procrastinate_jobs.id
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    message: Mapped[str | None] = mapped_column(Text)

    pipeline_run: Mapped[PipelineRun] = relationship(back_populates="stages")


class Entity(Timestamped, Base):
    """A known thing (organisation, person, product, place, or a type of the user's), with attributes.
    `cluster_id` is the entity that resolution found it to be the same as (itself when alone)."""

    __tablename__ = "entities"
    __table_args__ = (
        UniqueConstraint("type", "external_id"),
        CheckConstraint(f"origin IN {ENTITY_ORIGINS}", name="origin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(50), index=True)
    name: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    origin: Mapped[str] = mapped_column(String(16), server_default="import")
    cluster_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EntityAlias(Base):
    """A name an entity goes by; `normalized` is what matching compares (see entities.normalize)."""

    __tablename__ = "entity_aliases"
    __table_args__ = (
        UniqueConstraint("entity_id", "normalized"),
        Index(
            "ix_entity_aliases_normalized_trgm",
            "normalized",
            postgresql_using="gin",
            postgresql_ops={"normalized": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(Text)


class EntityMention(Base):
    """An entity found in a chunk: where, as what text, how sure."""

    __tablename__ = "entity_mentions"
    __table_args__ = (UniqueConstraint("chunk_id", "start", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chunk_id: Mapped[str] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), index=True)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    surface: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column()
    ambiguous: Mapped[bool] = mapped_column(Boolean, server_default="false")


class EntityScan(Base):
    """Which chunks were scanned against which version of the catalog (extraction is incremental)."""

    __tablename__ = "entity_scans"

    chunk_id: Mapped[str] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    catalog_version: Mapped[int] = mapped_column(BigInteger)


class EntityMatch(Base):
    """A pair resolution scored above its threshold (kept, so a rerun only compares new entities)."""

    __tablename__ = "entity_matches"

    entity_a: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True)
    entity_b: Mapped[int] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    score: Mapped[float] = mapped_column()


class EntityLink(Base):
    """A person's decision, kept across reruns: these two are the same (merge) or not (split)."""

    __tablename__ = "entity_links"
    __table_args__ = (
        UniqueConstraint("entity_a", "entity_b"),
        CheckConstraint(f"kind IN {LINK_KINDS}", name="kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity_a: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"))
    entity_b: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class EntityCandidate(Timestamped, Base):
    """A recurring name that matches no entity: proposed for review."""

    __tablename__ = "entity_candidates"
    __table_args__ = (CheckConstraint(f"status IN {CANDIDATE_STATUSES}", name="status"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    normalized: Mapped[str] = mapped_column(Text, unique=True)
    surface: Mapped[str] = mapped_column(Text)
    mentions: Mapped[int] = mapped_column(Integer, server_default="0")
    documents: Mapped[int] = mapped_column(Integer, server_default="0")
    status: Mapped[str] = mapped_column(String(16), server_default="new")


BACKUP_STATUSES = ("running", "succeeded", "failed", "interrupted")


class BackupRun(Timestamped, Base):
    """One `harvest backup create` (by hand or on schedule): where it went, how it ended, how big it was.
    `harvest status` and /api/health show the latest ones, so a failing nightly backup is seen."""

    __tablename__ = "backup_runs"
    __table_args__ = (CheckConstraint(f"status IN {BACKUP_STATUSES}", name="status"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    backup_id: Mapped[str | None] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(16), server_default="manual")  # manual | schedule
    status: Mapped[str] = mapped_column(String(16), server_default="running", index=True)
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(Text)


# -- training, registry, inference (harvest.train) -----------------------------------------------------
DATASET_TASKS = ("classify", "multilabel")
TRAINING_STATUSES = ("queued", "running", "succeeded", "failed")
SPLITS = ("train", "validation", "test")
ML_STAGES = ("train", "predict")


class Dataset(Timestamped, Base):
    """A named definition of labelled documents: which sources, the label rule, the task, the splits."""

    __tablename__ = "datasets"
    __table_args__ = (CheckConstraint(f"task IN {DATASET_TASKS}", name="task"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    task: Mapped[str] = mapped_column(String(16), server_default="classify")
    # {"sources": [...], "label": {"kind": ..., ...}, "splits": {...}, "language": ...}
    definition: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    description: Mapped[str | None] = mapped_column(Text)


class DatasetLabel(Base):
    """A label a user imported for a document (CSV/JSONL); the `import` label rule reads these."""

    __tablename__ = "dataset_labels"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    label: Mapped[str] = mapped_column(Text, primary_key=True)


class DatasetSnapshot(Base):
    """An immutable snapshot: Parquet + manifest in the ObjectStore; its id is a hash of its content."""

    __tablename__ = "dataset_snapshots"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    object_key: Mapped[str] = mapped_column(Text)
    embedding_model: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class SnapshotDocument(Base):
    """Which exact page version of which document a snapshot holds (lineage, both ways). No foreign key
    to documents: the record outlives a deleted document."""

    __tablename__ = "snapshot_documents"
    __table_args__ = (CheckConstraint(f"split IN {SPLITS}", name="split"),)

    snapshot_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    page_id: Mapped[int] = mapped_column(BigInteger)
    page_version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    split: Mapped[str] = mapped_column(String(16))
    labels: Mapped[list[str]] = mapped_column(server_default="{}")


class TrainingRun(Timestamped, Base):
    """One `harvest train` (CLI, API, pipeline or schedule): what it trained and what came of it."""

    __tablename__ = "training_runs"
    __table_args__ = (CheckConstraint(f"status IN {TRAINING_STATUSES}", name="status"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    model_name: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    trigger: Mapped[str] = mapped_column(String(16), server_default="cli")
    params: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    snapshot_id: Mapped[str | None] = mapped_column(String(64))
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Prediction(Base):
    """A label a registered model version gave a document's page version."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("document_id", "model_name", "model_version", "page_version"),
        Index("ix_predictions_model_name_label", "model_name", "label"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    page_version: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    labels: Mapped[list[str]] = mapped_column(server_default="{}")
    score: Mapped[float] = mapped_column()
    probabilities: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class RetrainSchedule(Timestamped, Base):
    """Retrain a model on a cron schedule; a challenger replaces `production` only if better by `margin`."""

    __tablename__ = "retrain_schedules"

    model_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    cron: Mapped[str] = mapped_column(String(120))
    margin: Mapped[float] = mapped_column(server_default="0.01")
    params: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RetrainDecision(Base):
    """What a retraining decided: both versions' scores on the challenger's test split, and why."""

    __tablename__ = "retrain_decisions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(100), index=True)
    snapshot_id: Mapped[str] = mapped_column(String(64))
    challenger_version: Mapped[int] = mapped_column(Integer)
    champion_version: Mapped[int | None] = mapped_column(Integer)
    challenger_score: Mapped[float] = mapped_column()
    champion_score: Mapped[float | None] = mapped_column()
    margin: Mapped[float] = mapped_column()
    promoted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class PipelineMlStage(Base):
    """A source's opt-in to an extra pipeline stage: `train` a dataset or `predict` with a model."""

    __tablename__ = "pipeline_ml_stages"
    __table_args__ = (CheckConstraint(f"stage IN {ML_STAGES}", name="stage"),)

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
