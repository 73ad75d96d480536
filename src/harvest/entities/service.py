"""Entities in the database: incremental extraction of mentions, incremental resolution, manual merges
and splits, fuzzy lookup, and what `harvest entities show` / the API report."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from harvest.db.engine import get_engine
from harvest.db.models import (
    Chunk,
    Document,
    Entity,
    EntityAlias,
    EntityCandidate,
    EntityLink,
    EntityMatch,
    EntityMention,
    EntityScan,
)
from harvest.entities.catalog import catalog_version, feed_from_fields, load_index
from harvest.entities.matcher import AliasIndex
from harvest.entities.normalize import normalize
from harvest.entities.resolve import Row, clusters, score_pairs
from harvest.errors import InvalidInputError, NotFoundError
from harvest.settings import Settings

logger = logging.getLogger(__name__)
SCAN_BATCH = 500
# 2-4 capitalised words in a row, e.g. "Blue Harbor Lines": a name the catalog may not know yet
_PROPER_NAME = re.compile(
    r"\b(?:[A-Z][\w'\u2019-]+(?:[ \t]+(?:of|de|la|van|von|and|&)[ \t]+|[ \t]+)){1,3}[A-Z][\w'\u2019-]+\b"
)
CANDIDATE_MIN_DOCUMENTS = 2


@dataclass
class ExtractReport:
    chunks: int = 0
    mentions: int = 0
    candidates: int = 0
    fed_entities: int = 0
    seconds: float = 0.0


@dataclass
class ResolveReport:
    entities: int = 0
    compared_new: int = 0
    matches: int = 0
    clusters: int = 0
    changed: int = 0


def _index(settings: Settings, engine: Engine) -> AliasIndex:
    return load_index(engine, settings.entity_type_thresholds, settings.entity_threshold)


def extract_mentions(
    settings: Settings, *, force: bool = False, on_progress: Callable[[int, int], None] | None = None
) -> ExtractReport:
    """Scan chunks not yet scanned against the current catalog; replace their mentions. `force` scans
    every chunk again (e.g. after a threshold changed) and recounts the name candidates."""
    engine = get_engine(settings)
    started = time.perf_counter()
    if force:
        with engine.begin() as conn:
            conn.execute(delete(EntityScan))
            conn.execute(delete(EntityCandidate).where(EntityCandidate.status == "new"))
    report = ExtractReport(fed_entities=feed_from_fields(engine).created)
    with engine.connect() as conn:
        version = catalog_version(conn)
        has_aliases = conn.execute(select(exists().select_from(EntityAlias))).scalar()
    scanned = exists().where(EntityScan.chunk_id == Chunk.id, EntityScan.catalog_version == version)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(Chunk).where(~scanned)).scalar_one())
    index = _index(settings, engine) if has_aliases else None
    proper_names: Counter[str] = Counter()
    proper_documents: dict[str, set[int]] = {}
    surfaces: dict[str, str] = {}
    after = ""
    while True:
        with engine.connect() as conn:
            batch = conn.execute(
                select(Chunk.id, Chunk.document_id, Chunk.text)
                .where(~scanned, Chunk.id > after)
                .order_by(Chunk.id)
                .limit(SCAN_BATCH)
            ).all()
        if not batch:
            break
        after = batch[-1].id
        rows: list[dict[str, Any]] = []
        for chunk_id, document_id, chunk_text in batch:
            matches = index.find(chunk_text) if index is not None else []
            covered = [(m.start, m.end) for m in matches]
            rows += [
                {
                    "chunk_id": chunk_id,
                    "document_id": document_id,
                    "entity_id": m.entity_id,
                    "start": m.start,
                    "end": m.end,
                    "surface": m.surface[:500],
                    "score": m.score,
                    "ambiguous": m.ambiguous,
                }
                for m in matches
            ]
            for found in _PROPER_NAME.finditer(chunk_text):
                if any(s < found.end() and found.start() < e for s, e in covered):
                    continue
                key = normalize(found.group(0))
                proper_names[key] += 1
                proper_documents.setdefault(key, set()).add(document_id)
                surfaces.setdefault(key, found.group(0))
        ids = [row.id for row in batch]
        with engine.begin() as conn:  # one transaction per batch: a crash loses or doubles nothing
            conn.execute(delete(EntityMention).where(EntityMention.chunk_id.in_(ids)))
            if rows:
                conn.execute(insert(EntityMention).on_conflict_do_nothing(), rows)
            conn.execute(
                insert(EntityScan)
                .values([{"chunk_id": i, "catalog_version": version} for i in ids])
                .on_conflict_do_update(
                    index_elements=[EntityScan.chunk_id], set_={"catalog_version": version}
                )
            )
        report.chunks += len(batch)
        report.mentions += len(rows)
        if on_progress is not None:
            on_progress(report.chunks, total)
    report.candidates = _propose_candidates(engine, proper_names, proper_documents, surfaces)
    report.seconds = time.perf_counter() - started
    return report


def _propose_candidates(
    engine: Engine, counts: Counter[str], documents: dict[str, set[int]], surfaces: dict[str, str]
) -> int:
    recurring = [k for k, docs in documents.items() if len(docs) >= CANDIDATE_MIN_DOCUMENTS and k]
    if not recurring:
        return 0
    with engine.begin() as conn:
        known = set(
            conn.execute(
                select(EntityAlias.normalized).where(EntityAlias.normalized.in_(recurring))
            ).scalars()
        )
        rows = [
            {"normalized": k, "surface": surfaces[k], "mentions": counts[k], "documents": len(documents[k])}
            for k in recurring
            if k not in known
        ]
        if rows:
            statement = insert(EntityCandidate)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[EntityCandidate.normalized],
                    set_={
                        "mentions": EntityCandidate.mentions + statement.excluded.mentions,
                        "documents": func.greatest(EntityCandidate.documents, statement.excluded.documents),
                    },
                ),
                rows,
            )
    return len(rows)


def resolve_entities(settings: Settings) -> ResolveReport:
    """Compare entities not resolved since they changed with every entity of their type (blocked), keep
    the matches, and recompute clusters from all matches plus people's merges and splits."""
    engine = get_engine(settings)
    report = ResolveReport()
    now = datetime.now(UTC)
    with engine.connect() as conn:
        entities = conn.execute(
            select(Entity.id, Entity.type, Entity.name, Entity.attributes, Entity.resolved_at)
        ).all()
        aliases = conn.execute(select(EntityAlias.entity_id, EntityAlias.alias)).all()
    report.entities = len(entities)
    names: dict[int, list[str]] = {}
    for entity_id, alias in aliases:
        names.setdefault(entity_id, []).append(alias)
    by_type: dict[str, list[Row]] = {}
    fresh: set[int] = set()
    # one row per alias: "ACME Corp." and "Acme Corporation" aliases of one entity both find partners
    alias_owner: dict[int, int] = {}
    next_key = 0
    for entity_id, entity_type, name, attributes, resolved_at in entities:
        if resolved_at is None:
            fresh.add(entity_id)
        fields = {k: v for k, v in (attributes or {}).items() if isinstance(v, str)}
        for alias in names.get(entity_id, [name]):
            next_key += 1
            alias_owner[next_key] = entity_id
            by_type.setdefault(entity_type, []).append(Row(next_key, alias, fields))
    report.compared_new = len(fresh)
    new_edges: dict[tuple[int, int], float] = {}
    for rows in by_type.values():
        only = {row.key for row in rows if alias_owner[row.key] in fresh}
        if not only:
            continue
        for a, b, score in score_pairs(rows, settings.entity_resolve_threshold, only):
            ea, eb = alias_owner[a], alias_owner[b]
            if ea != eb:
                pair = (min(ea, eb), max(ea, eb))
                new_edges[pair] = max(new_edges.get(pair, 0.0), score)
    with engine.begin() as conn:
        if fresh:
            conn.execute(
                delete(EntityMatch).where(
                    or_(EntityMatch.entity_a.in_(fresh), EntityMatch.entity_b.in_(fresh))
                )
            )
        if new_edges:
            conn.execute(
                insert(EntityMatch).on_conflict_do_nothing(),
                [{"entity_a": a, "entity_b": b, "score": s} for (a, b), s in new_edges.items()],
            )
        edges = [(r.entity_a, r.entity_b, r.score) for r in conn.execute(select(EntityMatch))]
        links = conn.execute(select(EntityLink.entity_a, EntityLink.entity_b, EntityLink.kind)).all()
        assignment = clusters(
            [e.id for e in entities],
            edges,
            merges=[(a, b) for a, b, kind in links if kind == "merge"],
            splits=[(a, b) for a, b, kind in links if kind == "split"],
        )
        current = {e.id: e for e in conn.execute(select(Entity.id, Entity.cluster_id))}
        changed = [
            (key, cluster) for key, cluster in assignment.items() if current[key].cluster_id != cluster
        ]
        for key, cluster in changed:
            conn.execute(update(Entity).where(Entity.id == key).values(cluster_id=cluster))
        if fresh:
            conn.execute(update(Entity).where(Entity.id.in_(fresh)).values(resolved_at=now))
    report.matches = len(edges)
    report.clusters = len(set(assignment.values()))
    report.changed = len(changed)
    return report


def _entity_ids(engine: Engine, first: int, second: int) -> None:
    if first == second:
        raise InvalidInputError("an entity cannot be merged with or split from itself")
    with engine.connect() as conn:
        found = set(conn.execute(select(Entity.id).where(Entity.id.in_([first, second]))).scalars())
    for entity_id in (first, second):
        if entity_id not in found:
            raise NotFoundError(f"no entity {entity_id}")


def link(settings: Settings, first: int, second: int, kind: str) -> ResolveReport:
    """Record a person's decision (kept across reruns) and re-cluster."""
    engine = get_engine(settings)
    _entity_ids(engine, first, second)
    if kind == "split":
        with engine.connect() as conn:
            clusters_of = dict(
                conn.execute(select(Entity.id, Entity.cluster_id).where(Entity.id.in_([first, second]))).all()
            )
        if clusters_of[first] != clusters_of[second]:
            raise InvalidInputError(f"entities {first} and {second} are not in one cluster: nothing to split")
    a, b = min(first, second), max(first, second)
    with engine.begin() as conn:
        statement = insert(EntityLink).values(entity_a=a, entity_b=b, kind=kind)
        conn.execute(
            statement.on_conflict_do_update(index_elements=["entity_a", "entity_b"], set_={"kind": kind})
        )
    return resolve_entities(settings)


@dataclass(frozen=True)
class EntityView:
    id: int
    type: str
    name: str
    cluster_id: int
    aliases: list[str]
    attributes: dict[str, Any]
    members: list[int]
    mentions: int
    documents: int
    related: list[dict[str, Any]] = field(default_factory=list)
    trend: list[dict[str, Any]] = field(default_factory=list)
    score: float | None = None


def search_entities(
    settings: Settings, query: str, limit: int = 10, entity_type: str | None = None
) -> list[EntityView]:
    """Typo-tolerant lookup by name: pg_trgm similarity on normalised aliases, then RapidFuzz."""
    from harvest.entities.resolve import name_similarity
    from harvest.text import check_text

    wanted = normalize(check_text(query, "the entity name"))
    if not wanted:
        raise InvalidInputError("the entity query is empty")
    engine = get_engine(settings)
    with engine.connect() as conn:
        conn.execute(text("SELECT set_limit(0.2)"))
        rows = conn.execute(
            text(
                "SELECT e.cluster_id, a.alias FROM entity_aliases a JOIN entities e ON e.id = a.entity_id "
                "WHERE a.normalized % :q"
                + (" AND e.type = :t" if entity_type else "")
                + " ORDER BY similarity(a.normalized, :q) DESC LIMIT 200"
            ),
            {"q": wanted, "t": entity_type},
        ).all()
    best: dict[int, float] = {}
    for cluster_id, alias in rows:
        best[cluster_id] = max(best.get(cluster_id, 0.0), name_similarity(query, alias))
    ranked = sorted(best.items(), key=lambda item: -item[1])[:limit]
    return [
        view
        for cluster_id, score in ranked
        if (view := get_entity(settings, cluster_id, details=False, score=score))
    ]


def get_entity(
    settings: Settings, entity_id: int, *, details: bool = True, score: float | None = None
) -> EntityView:
    engine = get_engine(settings)
    with engine.connect() as conn:
        row = conn.execute(select(Entity).where(Entity.id == entity_id)).first()
        if row is None:
            raise NotFoundError(f"no entity {entity_id}")
        cluster = int(row.cluster_id or row.id)
        members = conn.execute(select(Entity).where(Entity.cluster_id == cluster).order_by(Entity.id)).all()
        member_ids = [m.id for m in members] or [row.id]
        head = next((m for m in members if m.id == cluster), row)
        aliases = sorted(
            set(
                conn.execute(select(EntityAlias.alias).where(EntityAlias.entity_id.in_(member_ids))).scalars()
            )
        )
        attributes: dict[str, Any] = {}
        for member in reversed(members):
            attributes |= member.attributes or {}
        counts = conn.execute(
            select(func.count(), func.count(func.distinct(EntityMention.document_id))).where(
                EntityMention.entity_id.in_(member_ids)
            )
        ).one()
        related: list[dict[str, Any]] = []
        trend: list[dict[str, Any]] = []
        if details:
            related = [
                {
                    "id": r.cluster,
                    "name": r.name,
                    "type": r.type,
                    "chunks": r.chunks,
                    "documents": r.documents,
                }
                for r in conn.execute(
                    text(
                        "SELECT e2.cluster_id AS cluster, min(c.name) AS name, min(c.type) AS type, "
                        "count(DISTINCT m2.chunk_id) AS chunks, count(DISTINCT m2.document_id) AS documents "
                        "FROM entity_mentions m1 JOIN entity_mentions m2 ON m2.chunk_id = m1.chunk_id "
                        "JOIN entities e2 ON e2.id = m2.entity_id JOIN entities c ON c.id = e2.cluster_id "
                        "WHERE m1.entity_id = ANY(:ids) AND e2.cluster_id <> :cluster "
                        "GROUP BY e2.cluster_id ORDER BY chunks DESC, documents DESC LIMIT 10"
                    ),
                    {"ids": member_ids, "cluster": cluster},
                )
            ]
            trend = [
                {"month": r.month, "mentions": r.mentions, "documents": r.documents}
                for r in conn.execute(
                    text(
                        "SELECT to_char(date_trunc('month', coalesce(d.published_at, d.created_at)), "
                        "'YYYY-MM') AS month, count(*) AS mentions, count(DISTINCT d.id) AS documents "
                        "FROM entity_mentions m JOIN documents d ON d.id = m.document_id "
                        "WHERE m.entity_id = ANY(:ids) GROUP BY 1 ORDER BY 1"
                    ),
                    {"ids": member_ids},
                )
            ]
    return EntityView(
        id=cluster,
        type=head.type,
        name=head.name,
        cluster_id=cluster,
        aliases=aliases,
        attributes=attributes,
        members=member_ids,
        mentions=int(counts[0]),
        documents=int(counts[1]),
        related=related,
        trend=trend,
        score=None if score is None else round(score, 4),
    )


def _cluster_heads(entity_type: str | None) -> Any:
    heads = select(Entity.id).where(func.coalesce(Entity.cluster_id, Entity.id) == Entity.id)
    return heads.where(Entity.type == entity_type) if entity_type else heads


def list_entities(
    settings: Settings, entity_type: str | None = None, limit: int = 50, offset: int = 0
) -> list[EntityView]:
    """Every entity cluster (one row per cluster), by name."""
    with get_engine(settings).connect() as conn:
        ids = conn.execute(
            _cluster_heads(entity_type).order_by(Entity.name, Entity.id).limit(limit).offset(offset)
        ).scalars()
        return [get_entity(settings, entity_id, details=False) for entity_id in list(ids)]


def count_entities(settings: Settings, entity_type: str | None = None) -> int:
    with get_engine(settings).connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(_cluster_heads(entity_type).subquery())
            ).scalar_one()
        )


def find_entity(settings: Settings, name_or_id: str) -> EntityView:
    """`harvest entities show NAME`: an id, else the best fuzzy match of the name."""
    if name_or_id.isascii() and name_or_id.isdigit():
        if not 1 <= int(name_or_id) < 2**63:
            raise NotFoundError(f"no entity {name_or_id}")
        return get_entity(settings, int(name_or_id))
    found = search_entities(settings, name_or_id, limit=1)
    if not found:
        raise NotFoundError(f"no entity named like {name_or_id!r}", hint="see `harvest entities search`")
    return get_entity(settings, found[0].id)


def mentions_of(settings: Settings, entity_id: int, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    view = get_entity(settings, entity_id, details=False)
    with get_engine(settings).connect() as conn:
        rows = conn.execute(
            select(
                EntityMention.document_id,
                EntityMention.chunk_id,
                EntityMention.start,
                EntityMention.end,
                EntityMention.surface,
                EntityMention.score,
                EntityMention.ambiguous,
                Document.url,
                Document.title,
            )
            .join(Document, Document.id == EntityMention.document_id)
            .where(EntityMention.entity_id.in_(view.members))
            .order_by(EntityMention.document_id, EntityMention.chunk_id, EntityMention.start)
            .limit(limit)
            .offset(offset)
        ).all()
    return [dict(row._mapping) for row in rows]


def list_candidates(settings: Settings, limit: int = 50) -> list[dict[str, Any]]:
    with get_engine(settings).connect() as conn:
        rows = conn.execute(
            select(EntityCandidate)
            .where(EntityCandidate.status == "new")
            .order_by(EntityCandidate.documents.desc(), EntityCandidate.mentions.desc())
            .limit(limit)
        ).all()
    return [{"id": r.id, "name": r.surface, "mentions": r.mentions, "documents": r.documents} for r in rows]
