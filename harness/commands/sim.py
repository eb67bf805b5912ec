"""`harness sim`: run the deterministic cluster simulator for one seed or a sweep of seeds.

stdout is a pure function of the arguments (and the code): the same seed prints the same bytes
and writes the same history, so a failure report can be diffed and replayed. Wall-clock figures
go to stderr only. A failing seed prints the violated property, the last events of the run and
the exact command that replays it; the exit status is then 1.

`--validate` also checks each seed's core event trace against spec/Raft.tla with TLC
(harness/trace_validation.py, as `harness validate` does for a real run): a trace Raft.tla
cannot explain fails the seed. Every fault kind is validated, membership changes included.

`--causal` adds causal producers and two-topic subscribers (`wiber.sim.causal`), checked for
causal delivery and per-topic timestamps; the clock nemesis is one of the fault kinds
(`--faults clock,...`, and part of `all`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import sys
import time
from pathlib import Path

from harness.trace_validation import CHECKER
from spec.trace import TracedCores, Verdict, validate_events
from wiber.core.raft import RaftCore
from wiber.sim.nemesis import FAULT_KINDS
from wiber.sim.simulator import SimResult, parse_faults, simulate


def configure(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--seed", type=int, help="run this one seed (default: a random one)")
    which.add_argument("--seeds", type=int, metavar="COUNT", help="run seeds 0 .. COUNT-1")
    parser.add_argument("--nodes", type=int, choices=(3, 5), default=3)
    parser.add_argument(
        "--faults",
        default="all",
        help=f"comma list of {', '.join(FAULT_KINDS)}; or all, or none (default: all)",
    )
    parser.add_argument(
        "--time",
        type=float,
        default=2.0,
        metavar="VIRTUAL_SECONDS",
        help="length of the fault phase; a quiet phase for liveness follows (default: 2.0)",
    )
    parser.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="write the history (JSONL); with --seeds, PATH must contain {seed}",
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="also check each seed's event trace against spec/Raft.tla with TLC",
    )
    parser.add_argument(
        "--validate-timeout", type=float, default=1800.0, metavar="S", help="seconds for TLC"
    )
    parser.add_argument(
        "--causal", action="store_true", help="run the causal workload too (two topics)"
    )
    parser.add_argument("--clients", type=int, metavar="N", help="log-workload client slots")
    # Testing only: run a broken core from tests/mutants.py to see the simulator catch it.
    parser.add_argument("--core-variant", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    try:
        core = _core(args.core_variant)
        seeds = _seeds(args)
        _check_history(args.history, len(seeds))
        faults = parse_faults(args.faults)
        if args.clients is not None and args.clients < 1:
            raise ValueError("--clients needs a positive count")
    except (ValueError, ImportError, KeyError) as error:
        print(f"harness sim: {error}", file=sys.stderr)
        return 2
    failed: list[int] = []
    unknown = False
    events, started = 0, time.perf_counter()
    for seed in seeds:
        traced = TracedCores(core) if args.validate else None
        result = simulate(
            seed,
            nodes=args.nodes,
            faults=faults,
            time=args.time,
            core_factory=traced or core,
            history_path=_history_path(args.history, seed),
            clients=args.clients,
            causal=args.causal,
        )
        events += result.events
        _report(result, args)
        ok = result.ok
        if traced is not None:
            checked = validate_events(traced.events, timeout=args.validate_timeout)
            _report_validation(seed, checked)
            ok = ok and checked.status in ("accepted", "error")
            unknown = unknown or checked.status == "error"
        if not ok:
            failed.append(seed)
    if len(seeds) > 1:
        verdict = "ok" if not failed else f"FAILED seeds {' '.join(map(str, failed))}"
        print(f"{len(seeds)} seeds: {len(seeds) - len(failed)} ok, {len(failed)} failed: {verdict}")
    wall = time.perf_counter() - started
    print(
        f"wall {wall:.2f}s, {events / max(wall, 1e-9):,.0f} events/s, "
        f"{wall / len(seeds):.3f}s per seed",
        file=sys.stderr,
    )
    return 1 if failed else 2 if unknown else 0


def _core(variant: str | None) -> type[RaftCore]:
    if variant is None:
        return RaftCore
    # The mutants live beside the tests, in the source checkout this harness runs from.
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.append(root)
    mutants = importlib.import_module("tests.mutants")
    core: type[RaftCore] = mutants.MUTANTS[variant]
    return core


def _seeds(args: argparse.Namespace) -> list[int]:
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError("--seeds needs a positive count")
        return list(range(args.seeds))
    if args.seed is not None:
        return [args.seed]
    return [random.SystemRandom().randrange(1 << 32)]


def _check_history(path: Path | None, count: int) -> None:
    if path is not None and count > 1 and "{seed}" not in str(path):
        raise ValueError("with --seeds, --history PATH must contain {seed}")


def _history_path(path: Path | None, seed: int) -> Path | None:
    return None if path is None else Path(str(path).replace("{seed}", str(seed)))


def replay_command(seed: int, args: argparse.Namespace) -> str:
    command = f"harness sim --seed {seed} --nodes {args.nodes} --faults {args.faults}"
    command += f" --time {args.time:g}"
    if args.clients is not None:
        command += f" --clients {args.clients}"
    if args.causal:
        command += " --causal"
    if args.validate:
        command += " --validate"
    if args.core_variant:
        command += f" --core-variant {args.core_variant}"
    return command


def _report(result: SimResult, args: argparse.Namespace) -> None:
    stats = result.stats
    head = (
        f"seed {result.seed}: nodes {args.nodes}, {stats['events']} events, "
        f"{result.virtual_us / 1e6:.3f}s virtual, {stats['faults']} faults, "
        f"{stats['ops']} ops, {stats['acked']} acked, {stats['terms']} terms"
    )
    if args.causal:
        head += (
            f", causal {stats['causal_acked']} acked, {stats['causal_delivered']} delivered "
            f"({stats['causal_held']} held, {stats['causal_marked']} marked)"
        )
    if result.ok:
        print(f"{head}: ok")
        return
    print(f"{head}: FAILED")
    print(f"  violated: {result.violation}")
    print("  last events:")
    for line in result.trace:
        print(f"    {line}")
    print(f"  replay: {replay_command(result.seed, args)}")


def _report_validation(seed: int, verdict: Verdict) -> None:
    """The verdict on stdout without its timings, which go to stderr (stdout is a pure
    function of the arguments)."""
    print(f"  {CHECKER}: {verdict.status} ({verdict.events} events)")
    if verdict.status == "rejected":
        print(f"    rejected at line {verdict.line}: {json.dumps(verdict.record)}")
        print(f"    spec state: {verdict.spec_state}")
    elif verdict.status == "violated":
        print(f"    invariant {verdict.invariant} violated after line {verdict.line}")
    elif verdict.status == "error":
        print(f"    {verdict.detail}")
    print(
        f"seed {seed}: TLC {verdict.seconds:.1f} s, {verdict.cpu_seconds:.1f} s CPU",
        file=sys.stderr,
    )
