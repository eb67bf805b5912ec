"""`harness validate RUN_DIR`: check the run's node event traces against spec/Raft.tla (TLC).

Reads `RUN_DIR/nodes/<node>/trace.jsonl`, merges them in HLC order and runs TraceRaft.tla;
the verdict goes into `RUN_DIR/results.json` as `checkers["trace-validation"]` (the other
checkers' results are kept; the run's verdict is recomputed, the worst one winning). Exit
status: 0 accepted, 1 rejected or an invariant violated, 2 error (DESIGN.md 4.5).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from spec.trace import Verdict, validate_files

CHECKER = "trace-validation"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory (reports/<test>/<time>)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for TLC")
    parser.add_argument("--keep", type=Path, help="keep the generated TLA+ files here")
    parser.add_argument("--json", action="store_true", help="print the checker result as JSON")


def trace_files(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("nodes/*/trace.jsonl"))


def checker_result(verdict: Verdict) -> dict[str, Any]:
    """The verdict in the checker result shape of DESIGN.md 4.4."""
    result = verdict.to_json()
    anomalies: dict[str, list[dict[str, Any]]] = {}
    if verdict.status == "rejected":
        witness = {"line": verdict.line, "record": verdict.record, "spec": verdict.spec_state}
        anomalies["trace-rejected"] = [witness]
    elif verdict.status == "violated":
        anomalies["spec-invariant-violated"] = [
            {"invariant": verdict.invariant, "line": verdict.line}
        ]
    elif verdict.status == "error":
        result["reason"] = verdict.detail
    result["anomalies"] = anomalies
    return result


def worst(verdicts: list[Any]) -> Any:
    if any(v is False for v in verdicts):
        return False
    if any(v is not True for v in verdicts):
        return "unknown"
    return True


def merge_results(run_dir: Path, result: dict[str, Any]) -> None:
    path = run_dir / "results.json"
    results: dict[str, Any] = {"valid": True, "checkers": {}}
    if path.is_file():
        results = json.loads(path.read_text(encoding="utf-8"))
        results.setdefault("checkers", {})
    results["checkers"][CHECKER] = result
    results["valid"] = worst([r.get("valid") for r in results["checkers"].values()])
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir
    files = trace_files(run_dir)
    if not files:
        print(f"validate: no nodes/*/trace.jsonl under {run_dir}", file=sys.stderr)
        return 2
    verdict = validate_files(files, timeout=args.timeout, keep=args.keep)
    result = checker_result(verdict)
    try:
        merge_results(run_dir, result)
    except (OSError, json.JSONDecodeError) as error:
        print(f"validate: cannot update results.json: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else verdict.summary())
    for name in result["anomalies"]:
        print(f"{name}\t{CHECKER}\t1")
    return verdict.exit_code
