"""Trace validation of a run (issue 10): the `trace-validation` checker result.

One implementation behind `harness validate RUN_DIR`, `harness run --validate` and
`harness sim --validate`: the node event traces are checked against spec/Raft.tla by TLC
(`spec.trace`), and the verdict becomes a checker result in the shape of DESIGN.md 4.4. For a
run directory it is merged into `results.json` (the other checkers' results are kept, the
run's verdict is recomputed, the worst one winning) and the HTML report is drawn again.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.history import HistoryError, read_history
from harness.report import write_report
from harness.store import RunDir
from harness.workloads.runner import Outcome
from spec.trace import Verdict, validate_files

CHECKER = "trace-validation"


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


def merge_results(run_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Put the checker result into run_dir/results.json; returns the whole results."""
    store = RunDir(run_dir)
    results: dict[str, Any] = {"valid": True, "checkers": {}}
    if store.results.is_file():
        results = json.loads(store.results.read_text(encoding="utf-8"))
        results.setdefault("checkers", {})
    results["checkers"][CHECKER] = result
    results["valid"] = worst([r.get("valid") for r in results["checkers"].values()])
    store.write_results(results)
    return results


def redraw_report(run_dir: Path, results: dict[str, Any]) -> Path | None:
    """Draw the run's report again with the new results, if the run has a history."""
    store = RunDir(run_dir)
    if not store.history.is_file():
        return None
    try:
        history = read_history(store.history)
    except (OSError, HistoryError):
        return None
    title = f"harness validate {run_dir.name}"
    if store.test.is_file():
        title = f"harness run {json.loads(store.test.read_text(encoding='utf-8')).get('test')}"
    return write_report(history, results, run_dir, title)


def no_traces(run_dir: Path) -> Verdict:
    return Verdict("error", 0, detail=f"no nodes/*/trace.jsonl under {run_dir}")


def validate_run(
    run_dir: Path, *, timeout: float = 1800.0, keep: Path | None = None
) -> tuple[Verdict, dict[str, Any]]:
    """Validate a run directory's traces; results.json and the report get the verdict.
    Raises OSError or json.JSONDecodeError when results.json cannot be updated."""
    files = trace_files(run_dir)
    verdict = validate_files(files, timeout=timeout, keep=keep) if files else no_traces(run_dir)
    results = merge_results(run_dir, checker_result(verdict))
    redraw_report(run_dir, results)
    return verdict, results


def validated(outcome: Outcome, timeout: float = 1800.0) -> Outcome:
    """`harness run --validate`: the run's outcome with the trace-validation verdict in."""
    print(f"harness run: validating the node traces of {outcome.run_dir}", file=sys.stderr)
    try:
        verdict, results = validate_run(outcome.run_dir, timeout=timeout)
    except (OSError, json.JSONDecodeError) as error:
        print(f"harness run: cannot update results.json: {error}", file=sys.stderr)
        return replace(outcome, valid="unknown")
    print(verdict.summary(), file=sys.stderr)
    return replace(outcome, valid=results["valid"], results=results)
