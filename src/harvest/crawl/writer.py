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
from typing import Any, Literal, cast

from sqlalchemy import Engine, Table, func
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.orm import Session

from harvest.crawl.revisit import RevisitPolicy
from harvest.crawl.runs import record_progress
from harvest.db.models import Page
from harvest.storage import RawPageIn, RawStore
from harvest.storage.raw_store import content_hash

logger = logging.getLogger(__name__)

_PAGES = cast(Table, Page.__table__)

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
        self,
        engine: Engine,
        raw_store: RawStore,
        *,
        run_id: int,
        source_id: int,
        source: str,
        revisit: RevisitPolicy | None = None,
        intervals: dict[str, int] | None = None,
    ) -> None:
        """`revisit`: the recrawl schedule to keep (None: pages are always due); `intervals`: each
        known page's current revisit interval (what the schedule learned so far)."""
        self.engine = engine
        self.raw_store = raw_store
        self.run_id = run_id
        self.source_id = source_id
        self.source = source
        self.revisit = revisit
        self.intervals = intervals or {}

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
        fetched_rows: list[dict[str, Any]] = []
        for item, result in zip(fetched, results, strict=True):
            counts["fetched"] += 1
            if not result.created:
                counts["unchanged"] += 1
            elif result.version == 1:
                counts["new"] += 1
            else:
                counts["changed"] += 1
            row = self._page_values(item, version=result.version, changed=result.created)
            fetched_rows.append(row | self._schedule(item, None if result.version == 1 else result.created))
        touched: dict[str, list[dict[str, Any]]] = {"active": [], "gone": [], "failed": []}
        for item in batch:
            if item.outcome == "not_modified":
                counts["fetched"] += 1
                counts["unchanged"] += 1
                touched["active"].append(self._touch_values(item, "active") | self._schedule(item, False))
            elif item.outcome == "gone":
                counts["fetched"] += 1
                counts["gone"] += 1
                touched["gone"].append(self._touch_values(item, "gone"))
            elif item.outcome == "robots":
                counts["robots_skipped"] += 1
                errors.append((item.url, item.reason or "disallowed by robots.txt"))
            elif item.outcome == "failed":
                counts["failed"] += 1
                errors.append((item.url, item.reason or "failed"))
                touched["failed"].append(self._touch_values(item, "failed"))
        # One upsert statement per kind of outcome, executed for many rows: a handful of round trips per
        # batch, not one per page. Core executemany, not `.values(rows)`: that compiled a statement of
        # ~1,600 parameters per batch, holding the GIL the crawl's reactor thread needs.
        with Session(self.engine) as session, session.begin():
            conn = session.connection()
            if fetched_rows:
                conn.execute(self._upsert_fetched(list(fetched_rows[0])), _one_per_url(fetched_rows))
            for state, rows in touched.items():
                if rows:
                    conn.execute(self._upsert_touched(state), _one_per_url(rows))
            record_progress(session, self.run_id, counts, errors)
        return counts

    def _schedule(self, item: PageOutcome, changed: bool | None) -> dict[str, Any]:
        """The page's next revisit interval and due time after this fetch (None: always due)."""
        if self.revisit is None:
            return {"revisit_interval_s": None, "next_due_at": None}
        interval = self.revisit.next_interval(self.intervals.get(item.url), changed=changed)
        return {
            "revisit_interval_s": interval,
            "next_due_at": self.revisit.next_due(item.fetched_at, interval, item.headers),
        }

    def _page_values(self, item: PageOutcome, *, version: int, changed: bool) -> dict[str, Any]:
        return {
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
            # unchanged pages keep their last_changed_at (see _upsert_fetched)
            "last_changed_at": item.fetched_at if changed else None,
            "last_run_id": self.run_id,
        }

    def _upsert_fetched(self, columns: list[str]) -> Insert:
        statement = insert(_PAGES)
        excluded = statement.excluded
        kept = set(columns) - {"source_id", "url", "depth", "last_changed_at"}
        updated = {k: excluded[k] for k in columns if k in kept}
        return statement.on_conflict_do_update(
            index_elements=[Page.source_id, Page.url],
            set_=updated
            | {
                "depth": func.least(Page.depth, excluded.depth),
                "last_changed_at": func.coalesce(excluded.last_changed_at, Page.last_changed_at),
            },
        )

    def _touch_values(self, item: PageOutcome, state: str) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "url": item.url,
            "state": state,
            "http_status": item.http_status,
            "depth": item.depth,
            "last_fetched_at": item.fetched_at,
            "last_changed_at": item.fetched_at if state == "gone" else None,
            "last_run_id": self.run_id,
            # a gone or failed page is due on the next run (it may be back); a 304 sets its own
            "revisit_interval_s": None,
            "next_due_at": None,
        }

    def _upsert_touched(self, state: str) -> Insert:
        statement = insert(_PAGES)
        excluded = statement.excluded
        # a 304 keeps the stored 200's status; a failure keeps the last good page (and its version) as is
        kept = (
            ["last_fetched_at", "last_run_id", "next_due_at"]
            if state == "failed"
            else ["state", "last_fetched_at", "last_run_id", "next_due_at"]
        )
        if state == "active":
            kept.append("revisit_interval_s")
        if state == "gone":
            kept += ["http_status", "last_changed_at"]
        return statement.on_conflict_do_update(
            index_elements=[Page.source_id, Page.url], set_={k: excluded[k] for k in kept}
        )


def _one_per_url(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PostgreSQL refuses to upsert one row twice in a statement; the last outcome for a URL wins."""
    return list({row["url"]: row for row in rows}.values())
