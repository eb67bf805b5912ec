"""`tlc`: check a TLA+ spec with TLC and print a verdict.

    tlc spec/Raft.tla [--config F] [--workers N] [--simulate --depth D --num N --seed S] [--json]

Exit status: 0 no error found, 1 an invariant or property is violated (the summary shows
the counterexample), 2 a tool or spec error (or Java or the jar is missing).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spec.tlc_output import format_summary
from spec.tlc_runner import TlcOptions, ToolMissing, run_tlc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tlc", description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path, help="the .tla module to check")
    parser.add_argument("--config", type=Path, help="the .cfg (default: beside the spec)")
    parser.add_argument("--workers", type=int, default=1, help="TLC worker threads")
    parser.add_argument("--simulate", action="store_true", help="random simulation, not BFS")
    parser.add_argument("--depth", type=int, help="simulation: behaviour length")
    parser.add_argument("--num", type=int, help="simulation: number of behaviours")
    parser.add_argument("--seed", type=int, help="random seed (simulation)")
    parser.add_argument("--timeout", type=float, help="stop TLC after this many seconds")
    parser.add_argument(
        "--check-deadlock", action="store_true", help="report states without successors"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--verbose", action="store_true", help="also print TLC's own output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.simulate and args.num is None:
        args.num = 100  # TLC 2.15 simulates forever unless told how many behaviours
    options = TlcOptions(
        spec=args.spec,
        config=args.config,
        workers=args.workers,
        simulate=args.simulate,
        depth=args.depth,
        num=args.num,
        seed=args.seed,
        check_deadlock=args.check_deadlock,
        timeout=args.timeout,
    )
    try:
        result = run_tlc(options)
    except ToolMissing as missing:
        if args.json:
            print(json.dumps({"verdict": "error", "exit_code": 2, "errors": [str(missing)]}))
        else:
            print(f"tlc: {missing}", file=sys.stderr)
        return 2
    if args.verbose:
        print(result.output)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_summary(result, str(args.spec)))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
