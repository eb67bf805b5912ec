"""Benchmarks of the checkers (not tests): `python -m harness.checkers.bench [lin|log] ...`.

`lin` times the linearizability checker on generated cas-register histories at several sizes
and concurrencies, passing and (one read changed) failing; `log` times the log checker on a
generated log-workload history. Figures go to stdout as one line per case.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence

from harness.checkers import linearizable
from harness.checkers.synth import simulate
from harness.history import Op


def plant_violation(history: list[Op], rng: random.Random) -> list[Op]:
    """One ok read late in the history now returns the initial value: a stale read.

    (A never-written value would be refuted by the garbage-read shortcut without a search.)
    """
    reads = [i for i, op in enumerate(history) if op["type"] == "ok" and op["f"] == "read"]
    out = list(history)
    i = reads[int(len(reads) * (0.5 + 0.5 * rng.random())) - 1]
    out[i] = {**out[i], "value": {**out[i]["value"], "value": None}}
    return out


def bench_lin(
    sizes: Sequence[int], concurrencies: Sequence[int], keys: int, seconds: float
) -> None:
    for n in sizes:
        for c in concurrencies:
            rng = random.Random(n * 1000 + c)
            hist = simulate("cas-register", rng, n, c, keys=keys, crash_p=0.02)
            for label, h in (("ok", hist), ("bad", plant_violation(hist, rng))):
                started = time.perf_counter()
                result = linearizable.check(h, "cas-register", linearizable.Budget(seconds=seconds))
                took = time.perf_counter() - started
                print(
                    f"lin cas-register ops={n} concurrency={c} keys={keys} {label}: "
                    f"valid={result['valid']} {took:.3f}s states={result.get('states')}",
                    flush=True,
                )


def bench_log(n: int) -> None:
    from harness.checkers import log as log_checker

    rng = random.Random(n)
    hist = simulate("log", rng, n, 10, keys=10, crash_p=0.01, final_reads=True)
    started = time.perf_counter()
    result = log_checker.check(hist)
    took = time.perf_counter() - started
    print(f"log ops={n}: valid={result['valid']} {took:.3f}s", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.checkers.bench")
    parser.add_argument("what", choices=["lin", "log"])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--concurrency", default="5,10,50")
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.what == "lin":
        bench_lin(sizes, [int(c) for c in args.concurrency.split(",")], args.keys, args.seconds)
    else:
        for n in sizes:
            bench_log(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
