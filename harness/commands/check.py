"""`harness check HISTORY`: run checkers on a stored history; write results.json and a report.

Prints each anomaly found (name, checker, count) and the verdict on stdout. Exit status: 0
valid, 1 invalid, 2 unknown or error (DESIGN.md 4.5).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.checkers.models import MODELS
from harness.checkers.run import CHECKERS, choose_checkers, run_checkers
from harness.history import HistoryError
from harness.importers import FORMATS, load_history
from harness.importers.edn import EdnError
from harness.importers.jepsen import JepsenImportError
from harness.report import write_report

EXIT = {True: 0, False: 1}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("history", type=Path, help="history file (JSON lines, Jepsen EDN or log)")
    parser.add_argument(
        "--checker",
        action="append",
        choices=sorted(CHECKERS),
        help="checker to run (repeatable; default: those that fit the workload, plus stats, perf)",
    )
    parser.add_argument("--model", choices=MODELS, help="model for the linearizability checker")
    parser.add_argument("--format", choices=FORMATS, help="history format (default: guessed)")
    parser.add_argument("--out", type=Path, help="where to write results.json and index.html")
    parser.add_argument(
        "--time-limit", type=float, default=60.0, help="seconds for the linearizability search"
    )
    parser.add_argument(
        "--traces",
        type=Path,
        help="node event traces for the raft checker (default: nodes/ beside the history)",
    )
    parser.add_argument("--no-report", action="store_true", help="write results.json only")


def verdict_name(valid: Any) -> str:
    return "true" if valid is True else "false" if valid is False else "unknown"


def print_anomalies(results: dict[str, Any]) -> None:
    for name, result in results["checkers"].items():
        counts = result.get("counts") or {}
        for anomaly, witnesses in result.get("anomalies", {}).items():
            print(f"{anomaly}\t{name}\t{counts.get(anomaly, len(witnesses))}")
        if result.get("valid") not in (True, False):
            print(f"unknown\t{name}\t{result.get('reason', '')}")


def run(args: argparse.Namespace) -> int:
    try:
        history = load_history(args.history, args.format)
    except (OSError, HistoryError, JepsenImportError, EdnError, ValueError) as e:
        print(f"harness check: cannot read {args.history}: {e}", file=sys.stderr)
        return 2
    traces: Path | None = args.traces
    if traces is None and any(args.history.parent.glob("nodes/*/trace.jsonl")):
        traces = args.history.parent
    names = args.checker or choose_checkers(history, args.model)
    if args.model and "linearizable" not in names:
        names = ["linearizable", *names]
    if traces is not None and not args.checker:
        names.append("raft")
    opts = {"model": args.model, "seconds": args.time_limit, "traces": traces}
    results = run_checkers(history, names, opts)
    out_dir: Path = args.out or args.history.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(
        json.dumps(results, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    print_anomalies(results)
    if not args.no_report:
        report = write_report(history, results, out_dir, f"harness check {args.history.name}")
        print(f"report\t{report}")
    print(f"valid\t{verdict_name(results['valid'])}")
    return EXIT.get(results["valid"], 2)
