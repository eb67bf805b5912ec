"""`harness validate RUN_DIR`: check the run's node event traces against spec/Raft.tla (TLC).

Reads `RUN_DIR/nodes/<node>/trace.jsonl`, merges them in HLC order and runs TraceRaft.tla;
the verdict goes into `RUN_DIR/results.json` as `checkers["trace-validation"]` (the other
checkers' results are kept; the run's verdict is recomputed, the worst one winning) and into
the run's report. Exit status: 0 accepted, 1 rejected or an invariant violated, 2 error
(DESIGN.md 4.5). `harness run --validate` and `harness sim --validate` do the same after
their own checkers (harness/trace_validation.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.trace_validation import CHECKER, trace_files, validate_run


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory (reports/<test>/<time>)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for TLC")
    parser.add_argument("--keep", type=Path, help="keep the generated TLA+ files here")
    parser.add_argument("--json", action="store_true", help="print the checker result as JSON")


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    if not trace_files(run_dir):
        print(f"validate: no nodes/*/trace.jsonl under {run_dir}", file=sys.stderr)
        return 2
    try:
        verdict, results = validate_run(run_dir, timeout=args.timeout, keep=args.keep)
    except (OSError, json.JSONDecodeError) as error:
        print(f"validate: cannot update results.json: {error}", file=sys.stderr)
        return 2
    result = results["checkers"][CHECKER]
    print(json.dumps(result, indent=2) if args.json else verdict.summary())
    for name in result["anomalies"]:
        print(f"{name}\t{CHECKER}\t1")
    return verdict.exit_code
