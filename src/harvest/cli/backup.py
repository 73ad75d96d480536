"""`harvest backup create|list|show|verify|restore|prune|runs|keygen`."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from harvest.backup import (
    BackupSummary,
    Manifest,
    backup_status,
    create_backup,
    generate_key,
    list_backups,
    open_location,
    prune_backups,
    recent_runs,
    restore_backup,
    verify_backup,
)
from harvest.cli.context import settings
from harvest.cli.output import console, err_console, escape, human_size, print_json
from harvest.db.engine import get_engine
from harvest.errors import StoreCorruptionError
from harvest.settings import Settings

app = typer.Typer(
    help="Backups of PostgreSQL, the raw store and the objects: create, list, verify, restore, prune.",
    no_args_is_help=True,
)

FROM_HELP = (
    "Backup location: s3://BUCKET/prefix or a directory "
    "(default HARVEST_BACKUP_URL, else backups/ in the object store)."
)
JSON_HELP = "Machine-readable output."


class PartProgress:
    """One bar per part with bytes and rate; the objects of a backup share one bar."""

    def __init__(self, out: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            console=out,
        )
        self.tasks: dict[str, Any] = {}
        self.done: dict[str, dict[str, int]] = {}

    def __call__(self, name: str, done: int, total: int | None) -> None:
        group = "objects" if name.startswith("objects/") else name
        if group not in self.tasks:
            self.tasks[group] = self.progress.add_task(group, total=total if group == name else None)
            self.done[group] = {}
        self.done[group][name] = done
        update: dict[str, Any] = {"completed": sum(self.done[group].values())}
        if group == name:
            update["total"] = total
        self.progress.update(self.tasks[group], **update)

    def __enter__(self) -> PartProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()


def _summary_json(summary: BackupSummary) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": summary.id,
        "created_at": summary.created_at,
        "complete": summary.complete,
        "size": summary.size,
        "parts": summary.parts,
    }
    if summary.manifest is not None:
        m = summary.manifest
        data |= {
            "harvest_version": m.harvest_version,
            "schema_revision": m.schema_revision,
            "trigger": m.trigger,
            "encrypted": m.encrypted,
            "duration_s": round((m.finished_at - m.started_at).total_seconds(), 3),
            "raw_versions": m.raw.versions,
            "objects": len(m.objects),
        }
    return data


@app.command()
def create(
    to: str | None = typer.Option(None, "--to", help=FROM_HELP.replace("Backup location", "Where to write")),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Back up PostgreSQL (and MLflow's database), the raw store and the objects, streamed part by part;
    the manifest is written last, so an interrupted backup is never listed as complete."""
    current = settings()
    location = open_location(current, to, create=True).description
    started = time.monotonic()
    with PartProgress(err_console if json_output else console) as progress:
        manifest = create_backup(current, to=to, on_progress=progress)
    seconds = time.monotonic() - started
    if json_output:
        print_json({"location": location, "seconds": round(seconds, 3), **manifest.to_json()})
        return
    rate = manifest.size / seconds if seconds > 0 else 0.0
    console.print(
        f"[green]backup {manifest.id} complete[/]: {len(manifest.parts)} parts, {human_size(manifest.size)} "
        f"in {seconds:.1f} s ({human_size(int(rate))}/s){' encrypted' if manifest.encrypted else ''} "
        f"→ {escape(location)}"
    )


@app.command("list")
def list_command(
    source: str | None = typer.Option(None, "--from", help=FROM_HELP),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Backups in a location, oldest first; incomplete ones (interrupted or failed) are marked."""
    location, backups = list_backups(settings(), source)
    if json_output:
        print_json({"location": location, "backups": [_summary_json(b) for b in backups]})
        return
    if not backups:
        console.print(f"no backups in {escape(location)}")
        return
    table = Table(title=escape(location))
    table.add_column("id", no_wrap=True)
    for column in ("created (UTC)", "status", "size", "parts", "schema", "trigger"):
        table.add_column(column)
    for backup in backups:
        m = backup.manifest
        status = (
            ("[green]complete[/]" + (", encrypted" if m.encrypted else "")) if m else "[yellow]incomplete[/]"
        )
        table.add_row(
            backup.id,
            backup.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            status,
            human_size(backup.size),
            str(backup.parts),
            (m.schema_revision or "") if m else "",
            m.trigger if m else "",
        )
    console.print(table)


def _show_manifest(manifest: Manifest, location: str) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("backup", manifest.id)
    table.add_row("location", escape(location))
    table.add_row("harvest", f"{manifest.harvest_version}, schema revision {manifest.schema_revision}")
    duration = (manifest.finished_at - manifest.started_at).total_seconds()
    table.add_row(
        "taken", f"{manifest.started_at:%Y-%m-%d %H:%M:%S} UTC in {duration:.1f} s ({manifest.trigger})"
    )
    table.add_row(
        "size", f"{human_size(manifest.size)} in {len(manifest.parts)} parts, {manifest.compression}"
    )
    table.add_row("encryption", str(manifest.encryption["algorithm"]) if manifest.encryption else "none")
    for key, value in manifest.origin.items():
        table.add_row(f"from {key}", escape(value))
    for dump in manifest.databases:
        busiest = sorted(dump.tables.items(), key=lambda item: -item[1])[:6]
        rows = ", ".join(f"{name.split('.', 1)[1]} {count}" for name, count in busiest)
        table.add_row(
            f"database {dump.database}",
            f"{len(dump.tables)} tables, {sum(dump.tables.values())} rows ({rows}, …)",
        )
    table.add_row("raw store", f"{manifest.raw.versions} page versions ({manifest.raw.backend})")
    table.add_row("objects", f"{len(manifest.objects)} ({manifest.objects_mode})")
    console.print(table)
    parts = Table("part", "size", "sha256")
    for part in manifest.parts:
        parts.add_row(escape(part.name), human_size(part.size), part.sha256)
    console.print(parts)


@app.command()
def show(
    backup_id: str = typer.Argument(..., metavar="ID", help="A backup id, or `latest`."),
    source: str | None = typer.Option(None, "--from", help=FROM_HELP),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """A backup's manifest: version, schema, row counts, parts with sizes and SHA-256."""
    location = open_location(settings(), source)
    manifest = location.resolve(backup_id)
    if json_output:
        print_json(manifest.to_json())
        return
    _show_manifest(manifest, location.description)


@app.command()
def verify(
    backup_id: str = typer.Argument(..., metavar="ID", help="A backup id, or `latest`."),
    source: str | None = typer.Option(None, "--from", help=FROM_HELP),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check every part's SHA-256, restore the dumps into a scratch database and compare row counts,
    check every raw page and object; Harvest's own data is not touched."""
    with PartProgress(err_console if json_output else console) as progress:
        report = verify_backup(settings(), backup_id, source=source, on_progress=progress)
    if json_output:
        print_json(
            {
                "id": report.manifest.id,
                "ok": report.ok,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks],
            }
        )
    else:
        table = Table("check", "", "detail", title=f"backup {report.manifest.id}")
        for check in report.checks:
            table.add_row(
                escape(check.name), "[green]ok[/]" if check.ok else "[red]FAILED[/]", escape(check.detail)
            )
        console.print(table)
    if not report.ok:
        problems = report.problems
        raise StoreCorruptionError(
            f"backup {report.manifest.id} failed verification: {problems[0].name}: {problems[0].detail}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    if not json_output:
        console.print(f"[green]backup {report.manifest.id} verified[/]")


@app.command()
def restore(
    backup_id: str = typer.Argument(..., metavar="ID", help="A backup id, or `latest`."),
    source: str | None = typer.Option(None, "--from", help=FROM_HELP),
    force: bool = typer.Option(
        False, "--force", help="Replace a target that is not empty (its data is lost)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check the backup and the target; print what would happen."
    ),
) -> None:
    """Restore a backup into this Harvest's database, raw store and object store (HARVEST_DATA_DIR /
    HARVEST_DATABASE_URL …), which must be empty unless --force. Every checksum is verified first."""
    current = settings()
    if dry_run:
        report = restore_backup(current, backup_id, source=source, force=force, dry_run=True)
    else:
        with PartProgress(console) as progress:
            report = restore_backup(current, backup_id, source=source, force=force, on_progress=progress)
    m = report.manifest
    if dry_run:
        console.print(f"backup {m.id} from {escape(report.location)} → {escape(report.target.database)}")
        console.print(
            f"target: {escape(report.target.describe())}"
            + (" (replaced: --force)" if not report.target.empty else "")
        )
        console.print("would:")
        for step in report.steps:
            console.print(f"  - {escape(step)}")
        return
    console.print(
        f"[green]restored backup {m.id}[/] into {escape(report.target.database)} in {report.seconds:.1f} s: "
        f"{sum(sum(d.tables.values()) for d in m.databases)} rows, {report.raw_versions} raw page versions, "
        f"{report.objects} objects; search indexes: {report.indexes.get('hnsw', 0)} HNSW, "
        f"{report.indexes.get('gin', 0)} GIN; schema revision {report.revision}"
    )


@app.command()
def prune(
    source: str | None = typer.Option(None, "--from", help=FROM_HELP),
    keep_daily: int | None = typer.Option(
        None, min=0, help="Daily backups to keep (default HARVEST_BACKUP_KEEP_DAILY)."
    ),
    keep_weekly: int | None = typer.Option(
        None, min=0, help="Weekly backups to keep (default HARVEST_BACKUP_KEEP_WEEKLY)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only print what would be deleted."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Keep the newest backup of each of the last N days and M weeks; delete the rest (and incomplete
    backups older than a day)."""
    report = prune_backups(
        settings(), source=source, keep_daily=keep_daily, keep_weekly=keep_weekly, dry_run=dry_run
    )
    if json_output:
        print_json(
            {
                "location": report.location,
                "dry_run": report.dry_run,
                "kept": [{"id": b.id, "reason": report.reasons.get(b.id)} for b in report.kept],
                "removed": [{"id": b.id, "complete": b.complete, "size": b.size} for b in report.removed],
                "uploads_cleaned": report.uploads_cleaned,
            }
        )
        return
    verb = "would delete" if dry_run else "deleted"
    for backup in report.removed:
        state = "complete" if backup.complete else "incomplete"
        console.print(f"{verb} {backup.id} ({state}, {human_size(backup.size)})")
    for backup in report.kept:
        console.print(f"kept {backup.id} ({report.reasons.get(backup.id, '')})")
    freed = sum(b.size for b in report.removed)
    console.print(f"{verb} {len(report.removed)} backups ({human_size(freed)}), kept {len(report.kept)}")


@app.command()
def runs(
    limit: int = typer.Option(20, min=1, max=1000, help="How many recent runs."),
    json_output: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Recent backup runs (by hand and scheduled) with their outcome."""
    views = recent_runs(get_engine(settings()), limit)
    if json_output:
        print_json([view.__dict__ for view in views])
        return
    table = Table("run", "backup", "trigger", "status", "started (UTC)", "size", "message")
    style = {"succeeded": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}
    for view in views:
        table.add_row(
            str(view.id),
            view.backup_id or "",
            view.trigger,
            f"[{style.get(view.status, 'white')}]{view.status}[/]",
            f"{view.started_at:%Y-%m-%d %H:%M:%S}",
            human_size(view.size_bytes) if view.size_bytes else "",
            escape(view.message or ""),
        )
    console.print(table)


def backup_line(current: Settings) -> str:
    """The `backups` line of `harvest status`: a failed or overdue backup in red."""
    health = backup_status(current)
    schedule = (
        f"schedule {health.schedule}" if health.schedule else "no schedule (HARVEST_BACKUP_SCHEDULE=off)"
    )
    last, success = health.last, health.last_success
    if health.status == "never" or last is None:
        return f"[yellow]no backup yet[/] · {schedule}"
    done = (
        f"last success {success.started_at:%Y-%m-%d %H:%M} UTC ({success.backup_id}, "
        f"{human_size(success.size_bytes or 0)})"
        if success
        else "never succeeded"
    )
    if health.status == "failed":
        when = f"{last.started_at:%Y-%m-%d %H:%M} UTC"
        return f"[red]last backup {last.status} at {when}: {escape(last.message or '')}[/] · {done}"
    if health.status == "running":
        return f"[cyan]running since {last.started_at:%H:%M} UTC[/] · {done}"
    if health.status == "stale":
        return f"[yellow]{done}: overdue[/] · {schedule}"
    return f"[green]ok[/] · {done} · {schedule}"


@app.command()
def keygen() -> None:
    """Print a new random key for HARVEST_BACKUP_ENCRYPTION_KEY (keep a copy apart from the backups)."""
    console.print(generate_key(), highlight=False)
