"""Writes crawl outcomes: raw versions to the RawStore, then page rows + run counts to PostgreSQL.

Order matters for crash safety. The RawStore write comes first and is idempotent (a body equal to the
latest version stores nothing); the PostgreSQL transaction (pages + counts + errors) comes second. A crawl
killed between the two leaves a raw version whose page row is behind; the next run fetches that URL
again, finds the same hash, and brings the page row up to date — no duplicate, nothing lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, func
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.orm import Session

from harvest.crawl.runs import record_progress
from harvest.db.models import Page
from harvest.storage import RawPageIn, RawStore
from harvest.storage.raw_store import content_hash

logger = logging.getLogger(__name__)

Outcome = Literal["fetched", "not_modified", "gone", "failed", "robots"]


@dataclass
class PageOutcome:
    """What happened to one URL in a crawl (the item the spider yields)."""

    outcome: Outcome
    url: str
    depth: int = 0
    final_url: str | None = None
    http_status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str | None = None
    render_mode: str = "static"
    reason: str | None = None
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class CrawlWriter:
    def __init__(
        self, engine: Engine, raw_store: RawStore, *, run_id: int, source_id: int, source: str
    ) -> None:
        self.engine = engine
        self.raw_store = raw_store
        self.run_id = run_id
        self.source_id = source_id
        self.source = source

    def write(self, batch: list[PageOutcome]) -> dict[str, int]:
        """Persist one batch; returns the counts it added to the run."""
        counts = dict.fromkeys(
            ("fetched", "new", "changed", "unchanged", "gone", "failed", "robots_skipped"), 0
        )
        errors: list[tuple[str, str]] = []
        fetched = [item for item in batch if item.outcome == "fetched"]
        results = self.raw_store.upsert_many(
            RawPageIn(
                source=self.source,
                url=item.url,
                body=item.body,
                fetched_at=item.fetched_at,
                final_url=item.final_url,
                http_status=item.http_status,
                headers=item.headers,
                render_mode=item.render_mode,
                content_type=item.content_type,
                meta={"depth": item.depth},
            )
            for item in fetched
        )
        rows = []
        for item, result in zip(fetched, results, strict=True):
            counts["fetched"] += 1
            if not result.created:
                counts["unchanged"] += 1
            elif result.version == 1:
                counts["new"] += 1
            else:
                counts["changed"] += 1
            rows.append(self._page_row(item, version=result.version, changed=result.created))
        for item in batch:
            if item.outcome == "not_modified":
                counts["fetched"] += 1
                counts["unchanged"] += 1
                rows.append(self._touch_row(item, state="active"))
            elif item.outcome == "gone":
                counts["fetched"] += 1
                counts["gone"] += 1
                rows.append(self._touch_row(item, state="gone"))
            elif item.outcome == "robots":
                counts["robots_skipped"] += 1
                errors.append((item.url, item.reason or "disallowed by robots.txt"))
            elif item.outcome == "failed":
                counts["failed"] += 1
                errors.append((item.url, item.reason or "failed"))
                rows.append(self._touch_row(item, state="failed"))
        with Session(self.engine) as session, session.begin():
            for row in rows:
                session.execute(row)
            record_progress(session, self.run_id, counts, errors)
        return counts

    def _page_row(self, item: PageOutcome, *, version: int, changed: bool) -> Insert:
        values = {
            "source_id": self.source_id,
            "url": item.url,
            "final_url": item.final_url,
            "state": "active",
            "http_status": item.http_status,
            "content_type": item.content_type,
            "etag": item.headers.get("etag"),
            "last_modified": item.headers.get("last-modified"),
            "content_hash": content_hash(item.body),
            "version": version,
            "depth": item.depth,
            "last_fetched_at": item.fetched_at,
            "last_run_id": self.run_id,
        }
        if changed:
            values["last_changed_at"] = item.fetched_at
        statement = insert(Page).values(**values)
        return statement.on_conflict_do_update(
            index_elements=[Page.source_id, Page.url],
            set_={k: statement.excluded[k] for k in values if k not in {"source_id", "url", "depth"}}
            | {"depth": func.least(Page.depth, statement.excluded.depth)},
        )

    def _touch_row(self, item: PageOutcome, *, state: str) -> Insert:
        values = {
            "source_id": self.source_id,
            "url": item.url,
            "state": state,
            "http_status": item.http_status,
            "depth": item.depth,
            "last_fetched_at": item.fetched_at,
            "last_run_id": self.run_id,
        }
        statement = insert(Page).values(**values)
        # a 304 keeps the stored 200's status; a failure keeps the last good page (and its version) as is
        kept = (
            ("last_fetched_at", "last_run_id")
            if state == "failed"
            else ("state", "last_fetched_at", "last_run_id")
        )
        update: dict[str, Any] = {k: statement.excluded[k] for k in kept}
        if state == "gone":
            update["http_status"] = statement.excluded.http_status
            update["last_changed_at"] = statement.excluded.last_fetched_at
        return statement.on_conflict_do_update(index_elements=[Page.source_id, Page.url], set_=update)
