"""Micro-benchmark of the segmented log: `python -m wiber.storage.bench [--dir D] [--seconds S]`.

Prints appends/s of 100-byte records with 1 and 256 records per append+sync (group commit as
the runtime does it, fsync on the calling thread), plus raw append, read and recovery rates.
Run it on the disk you care about (default: a temporary directory under the system temp dir);
the figures depend heavily on what else is using the disk.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wiber.storage.log import SegmentedLog
from wiber.storage.policy import FsyncPolicy
from wiber.storage.record import Record

PAYLOAD = b"x" * 100


def _batch(first: int, count: int) -> list[Record]:
    return [Record(i, 1, 0, i << 16, PAYLOAD) for i in range(first, first + count)]


def _timed(seconds: float, step: Callable[[], int]) -> float:
    """Run `step` (which returns how many records it handled) for `seconds`; records/s."""
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        done += step()
    return done / elapsed


def bench_sync(directory: Path, per_sync: int, seconds: float, policy: str) -> float:
    log = SegmentedLog.open(directory, fsync=FsyncPolicy.parse(policy))
    batches = [_batch(0, per_sync)]  # template reused: only the indexes change

    def step() -> int:
        first = log.last_index + 1
        log.append(
            [Record(first + k, 1, 0, r.timestamp, r.payload) for k, r in enumerate(batches[0])]
        )
        log.sync()
        return per_sync

    try:
        return _timed(seconds, step)
    finally:
        log.close()


def bench_read_and_open(directory: Path, count: int) -> tuple[float, float, float]:
    log = SegmentedLog.open(directory, fsync=FsyncPolicy.parse("never"))
    records = _batch(1, count)
    start = time.perf_counter()
    for lo in range(0, count, 256):
        log.append(records[lo : lo + 256])
    append_rate = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for lo in range(1, count + 1, 256):
        log.read(lo, min(lo + 256, count + 1))
    read_rate = count / (time.perf_counter() - start)
    log.close()
    start = time.perf_counter()
    SegmentedLog.open(directory).close()
    open_rate = count / (time.perf_counter() - start)
    return append_rate, read_rate, open_rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: temp)")
    parser.add_argument("--seconds", type=float, default=2.0, help="per sync measurement")
    parser.add_argument("--count", type=int, default=200_000, help="records for raw rates")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="wiber-bench-", dir=args.dir))
    try:
        for per_sync in (1, 256):
            rate = bench_sync(root / f"sync-{per_sync}", per_sync, args.seconds, "group")
            print(f"group commit, {per_sync:>3} x 100 B per append+sync: {rate:>12,.0f} appends/s")
        append_rate, read_rate, open_rate = bench_read_and_open(root / "raw", args.count)
        print(f"append without sync, 256 per batch:       {append_rate:>12,.0f} records/s")
        print(f"read, 256 per call:                       {read_rate:>12,.0f} records/s")
        print(f"open (verify every CRC, rebuild indexes): {open_rate:>12,.0f} records/s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
