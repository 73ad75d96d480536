"""A backup killed midway (SIGKILL, as a crash or the OOM killer would) leaves nothing that counts as a
backup: `list` shows it incomplete, `restore` refuses it, health reports the failure, the next backup
works and `prune` removes the leftovers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from harvest.backup import backup_status, create_backup, list_backups, prune_backups, restore_backup
from harvest.db.engine import get_engine
from harvest.errors import NotFoundError
from harvest.settings import Settings, settings_env
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


def test_a_backup_killed_midway_is_never_complete(db_settings: Settings, tmp_path: Path) -> None:
    target = tmp_path / "backups"
    # a slow uplink (5 kB/s) keeps the backup mid-way for seconds: long enough to kill it there
    slow = make_settings(**db_settings.model_dump() | {"backup_max_mbps": 0.005, "backup_schedule": "off"})
    engine = get_engine(slow)
    process = subprocess.Popen(
        [sys.executable, "-m", "harvest", "backup", "create", "--to", str(target)],
        env=settings_env(slow),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                running = conn.execute(
                    text("SELECT count(*) FROM backup_runs WHERE status = 'running'")
                ).scalar()
            if running and any(target.rglob(".tmp-*")):  # a part is being written
                break
            assert process.poll() is None, "the backup ended before it could be killed"
            time.sleep(0.1)
        else:
            raise AssertionError("the backup never started writing")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()

    with engine.connect() as conn:
        killed = conn.execute(text("SELECT backup_id FROM backup_runs ORDER BY id DESC LIMIT 1")).scalar_one()
    assert not any(b.complete for b in list_backups(slow, str(target))[1])
    with pytest.raises(NotFoundError, match=killed):
        restore_backup(slow, killed, source=str(target), force=True)
    deadline = time.monotonic() + 10  # the server notices the dead client and frees its lock
    while backup_status(slow).status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    health = backup_status(slow)
    assert health.status == "failed" and health.last is not None and health.last.status == "interrupted"

    fast = make_settings(**slow.model_dump() | {"backup_max_mbps": 0})
    done = create_backup(fast, to=str(target))
    assert backup_status(fast).status == "ok"
    report = prune_backups(fast, source=str(target), keep_daily=1, keep_weekly=0)
    assert report.removed == [] and [b.id for b in report.kept] == [done.id]
    assert [b.id for b in list_backups(fast, str(target))[1]] == [done.id]
