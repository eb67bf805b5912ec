"""MetaStore, SnapshotStore and atomic_write: round trips, atomic replacement, and garbage
that must surface as CorruptFileError (never as a silent None or an older value)."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.storage.conftest import fresh_dir
from wiber.storage import (
    CorruptFileError,
    LogUsageError,
    MetaStore,
    SnapshotStore,
    StorageError,
    atomic_write,
)

scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=10)
values = st.recursive(
    scalars | st.binary(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def test_atomic_write_replaces_and_leaves_no_temp(log_dir: Path) -> None:
    path = log_dir / "f"
    atomic_write(path, b"one")
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in log_dir.iterdir()) == ["f"]


def test_meta_store_round_trip(log_dir: Path) -> None:
    store = MetaStore(log_dir / "raft-state")
    assert store.load() is None
    store.save({"term": 3, "vote": "n2", "commit": 17})
    store.save({"term": 4, "vote": None, "commit": 20})
    assert MetaStore(log_dir / "raft-state").load() == {"term": 4, "vote": None, "commit": 20}


@settings(max_examples=50)  # each example fsyncs a file and a directory
@given(value=st.dictionaries(st.text(max_size=8), values, max_size=5))
def test_meta_store_round_trips_any_map(value: dict[str, object]) -> None:
    directory = fresh_dir()
    try:
        store = MetaStore(directory / "m")
        store.save(value)
        assert store.load() == value
    finally:
        shutil.rmtree(directory)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[:5], "shorter than the header"),
        (lambda b: b"XXXX" + b[4:], "bad magic"),
        (lambda b: b[:-1], "length"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "crc mismatch"),
        (lambda b: b + b"\x00", "length"),
    ],
)
def test_meta_store_garbage_is_a_clear_error(log_dir: Path, damage: object, reason: str) -> None:
    path = log_dir / "raft-state"
    MetaStore(path).save({"term": 9, "vote": "n1"})
    assert callable(damage)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptFileError, match=reason) as caught:
        MetaStore(path).load()
    assert caught.value.path == path
    assert isinstance(caught.value, StorageError)


def test_meta_store_rejects_a_non_map_payload(log_dir: Path) -> None:
    payload = b"\x93\x01\x02\x03"  # msgpack [1, 2, 3]
    path = log_dir / "m"
    path.write_bytes(struct.pack("<4sII", b"WMT1", zlib.crc32(payload), len(payload)) + payload)
    with pytest.raises(CorruptFileError, match="not a map"):
        MetaStore(path).load()


def test_snapshot_store_keeps_the_newest(log_dir: Path) -> None:
    store = SnapshotStore(log_dir / "snapshots")
    assert store.load() is None
    store.save(10, 2, b"state-10")
    store.save(25, 3, b"state-25" * 1000)
    assert store.load() == (25, 3, b"state-25" * 1000)
    assert [p.name for p in (log_dir / "snapshots").iterdir()] == [
        "00000000000000000025-00000000000000000003.snap"
    ]
    assert SnapshotStore(log_dir / "snapshots").load() == (25, 3, b"state-25" * 1000)
    with pytest.raises(LogUsageError):
        store.save(-1, 0, b"")


def test_snapshot_store_ignores_an_interrupted_save(log_dir: Path) -> None:
    store = SnapshotStore(log_dir)
    store.save(10, 2, b"ten")
    (log_dir / "00000000000000000020-00000000000000000002.snap.tmp").write_bytes(b"half")
    assert store.load() == (10, 2, b"ten")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[:10], "shorter than the header"),
        (lambda b: b"XXXX" + b[4:], "bad magic"),
        (lambda b: b[:-1], "crc mismatch"),
        (lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:], "crc mismatch"),
    ],
)
def test_snapshot_garbage_is_an_error_not_a_fallback(
    log_dir: Path, damage: object, reason: str
) -> None:
    store = SnapshotStore(log_dir)
    store.save(5, 1, b"five")
    older = log_dir / "00000000000000000005-00000000000000000001.snap"
    kept = older.read_bytes()
    store.save(9, 2, b"nine-nine")
    newest = log_dir / "00000000000000000009-00000000000000000002.snap"
    older.write_bytes(kept)  # an older valid snapshot is present too
    assert callable(damage)
    newest.write_bytes(damage(newest.read_bytes()))
    with pytest.raises(CorruptFileError, match=reason) as caught:
        store.load()
    assert caught.value.path == newest


def test_snapshot_whose_name_disagrees_with_its_header_is_an_error(log_dir: Path) -> None:
    store = SnapshotStore(log_dir)
    store.save(5, 1, b"five")
    source = log_dir / "00000000000000000005-00000000000000000001.snap"
    source.rename(log_dir / "00000000000000000006-00000000000000000001.snap")
    with pytest.raises(CorruptFileError, match="unlike its name"):
        store.load()
