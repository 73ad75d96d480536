"""Backup building blocks without a database: encryption frames, parts through a real local store,
the retention rule, manifests."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harvest.backup.crypto import FRAME_SIZE, BackupKey, Decryptor, Encryptor, generate_key, key_for_manifest
from harvest.backup.location import BackupSummary
from harvest.backup.manifest import Manifest
from harvest.backup.parts import PartWriter, RateLimit, check_part, read_part
from harvest.backup.retention import select
from harvest.errors import ConfigError, InvalidInputError, StoreCorruptionError
from harvest.storage.objects_local import LocalObjectStore

KEY = BackupKey.derive("a-test-secret-of-some-length", b"0123456789abcdef")


def encrypt(data: bytes, part: str = "p", chunk: int = 300_000) -> bytes:
    enc = Encryptor(KEY, part)
    out = b"".join(enc.update(data[i : i + chunk]) for i in range(0, len(data), chunk))
    return out + enc.finish()


def decrypt(data: bytes, part: str = "p", key: BackupKey = KEY) -> bytes:
    dec = Decryptor(key, part)
    out = b"".join(b"".join(dec.update(data[i : i + 65536])) for i in range(0, len(data), 65536))
    dec.finish()
    return out


@pytest.mark.parametrize("size", [0, 1, FRAME_SIZE, FRAME_SIZE + 1, 3 * FRAME_SIZE + 17])
def test_encryption_round_trips_any_size(size: int) -> None:
    data = os.urandom(size)
    sealed = encrypt(data)
    assert data[:64] not in sealed or size == 0
    assert decrypt(sealed) == data


def test_changed_truncated_extended_or_swapped_parts_fail_to_decrypt() -> None:
    data = os.urandom(2 * FRAME_SIZE + 5)
    sealed = encrypt(data)
    flipped = bytearray(sealed)
    flipped[FRAME_SIZE + 100] ^= 1
    last_frame = len(sealed) - (5 + 16 + 5)  # the final frame holds 5 bytes
    cases = {
        "changed": bytes(flipped),
        "truncated at a frame boundary": sealed[:last_frame],
        "truncated mid-frame": sealed[:-3],
        "extended": sealed + sealed[-26:],
    }
    for what, damaged in cases.items():
        with pytest.raises(StoreCorruptionError, match="cannot be decrypted"):
            decrypt(damaged)
        assert what
    with pytest.raises(StoreCorruptionError, match="fails authentication"):
        decrypt(sealed, part="another-part")  # a part moved under another name
    with pytest.raises(StoreCorruptionError, match="fails authentication"):
        decrypt(sealed, key=BackupKey.derive("another-secret-entirely", KEY.salt))


def test_key_check_tells_a_wrong_or_missing_key_before_reading() -> None:
    described = KEY.describe()
    assert "a-test-secret" not in str(described)
    assert key_for_manifest(described, "a-test-secret-of-some-length", "b1") == KEY
    with pytest.raises(ConfigError, match="another HARVEST_BACKUP_ENCRYPTION_KEY"):
        key_for_manifest(described, "not-the-right-secret", "b1")
    with pytest.raises(ConfigError, match="is encrypted: set HARVEST_BACKUP_ENCRYPTION_KEY"):
        key_for_manifest(described, None, "b1")
    assert key_for_manifest(None, None, "b1") is None
    assert len(generate_key()) >= 40 and generate_key() != generate_key()


@pytest.mark.parametrize("key", [None, KEY])
def test_a_part_streams_through_a_store_and_back(tmp_path: Path, key: BackupKey | None) -> None:
    store = LocalObjectStore(tmp_path)
    data = b"<html>" + b"paragraph of text " * 400_000 + os.urandom(100_000)
    seen: list[tuple[str, int, int | None]] = []
    with PartWriter(
        store.writer("b/part"),
        "part",
        key=key,
        compress_level=3,
        limit=RateLimit(0),
        on_progress=lambda *a: seen.append(a),
    ) as part:
        for start in range(0, len(data), 1 << 20):
            part.write(data[start : start + (1 << 20)])
        record = part.finish()
    assert record.raw_bytes == len(data) and record.size < len(data) / 3  # compressed
    assert seen[-1] == ("part", record.size, record.size)
    check_part(store, "b/part", record, key)
    assert b"".join(read_part(store, "b/part", record, key)) == data
    stored = (tmp_path / "b" / "part").read_bytes()
    (tmp_path / "b" / "part").write_bytes(stored[: len(stored) // 2])  # truncated behind the store's back
    with pytest.raises(StoreCorruptionError, match="backup part part"):
        check_part(store, "b/part", record, key)


def test_a_failed_part_leaves_nothing(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    with (
        pytest.raises(RuntimeError),
        PartWriter(
            store.writer("b/part"), "part", key=None, compress_level=3, limit=RateLimit(0), on_progress=None
        ) as part,
    ):
        part.write(b"x" * 1000)
        raise RuntimeError("pg_dump died")
    assert list(store.list()) == []


def summary(when: datetime, complete: bool = True) -> BackupSummary:
    backup_id = when.strftime("%Y%m%dT%H%M%SZ")
    return BackupSummary(backup_id, when, complete, 100, 3, None)


def test_retention_keeps_the_newest_of_each_day_and_week() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
    backups = [summary(now - timedelta(days=d, hours=h)) for d in range(40) for h in (1, 9)]
    backups.append(summary(now - timedelta(hours=30), complete=False))  # killed yesterday: removed
    backups.append(summary(now - timedelta(hours=2, minutes=30), complete=False))  # maybe running: kept
    kept, removed = select(backups, keep_daily=7, keep_weekly=4, now=now)
    days = sorted({b.created_at.date() for b in backups if b.id in kept})
    assert len([r for r in kept.values() if r.startswith("daily")]) == 7
    assert len([r for r in kept.values() if r.startswith("weekly")]) <= 4
    newest = max(backups, key=lambda b: b.id if b.complete else "")
    assert kept[newest.id].startswith("daily")
    for day in days[-7:]:  # newest backup of each of the last 7 days
        assert max(b.id for b in backups if b.complete and b.created_at.date() == day) in kept
    assert len(kept) + len([b for b in removed if b.complete]) == 80
    assert [b.complete for b in removed].count(False) == 1
    assert not set(kept) & {b.id for b in removed}


def test_manifest_errors_are_clear() -> None:
    with pytest.raises(StoreCorruptionError, match="manifest of backup 20261125T030000Z is unreadable"):
        Manifest.loads(b"{not json", "20261125T030000Z")
    with pytest.raises(InvalidInputError, match="newer Harvest"):
        Manifest.loads(b'{"format": 99}', "20261125T030000Z")
