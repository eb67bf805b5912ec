"""Codec throughput, for the report (a benchmark, not a test: nothing here asserts a time).

    .venv/bin/python -m tests.codec.bench_codec [count]

Encodes `count` small PUBLISH frames (one 100-byte message with producer id and sequence),
decodes them fed in 64 KiB chunks as a socket would deliver them, and does the same for
line-protocol PUB lines.
"""

from __future__ import annotations

import sys
import time

from wiber.codec import messages as m
from wiber.codec.framed import Frame, FrameDecoder, encode
from wiber.codec.line import LineDecoder

CHUNK = 64 * 1024


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<28} {count / seconds:>12,.0f} /s  ({seconds * 1e6 / count:.2f} us each)")


def bench_framed(count: int) -> None:
    payload = b"x" * 100
    start = time.perf_counter()
    wire = b"".join(
        encode(Frame(i + 1, m.Publish("bench", [m.PublishMessage(payload, "p1", i, None)])))
        for i in range(count)
    )
    _rate("framed encode PUBLISH", count, time.perf_counter() - start)
    chunks = _chunks(wire)
    decoder = FrameDecoder()
    start = time.perf_counter()
    decoded = sum(len(decoder.feed(chunk)) for chunk in chunks)
    _rate("framed decode PUBLISH", decoded, time.perf_counter() - start)


def bench_line(count: int) -> None:
    wire = b"".join(b"PUB bench message number %d with some text\n" % i for i in range(count))
    decoder = LineDecoder()
    start = time.perf_counter()
    decoded = sum(len(decoder.feed(chunk)) for chunk in _chunks(wire))
    _rate("line decode PUB", decoded, time.perf_counter() - start)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    bench_framed(n)
    bench_line(n)
