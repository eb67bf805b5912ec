"""Turn TLC 2.15's text output into a verdict, statistics and a readable trace.

TLC 2.15 has no JSON output (no `-dumpTrace`), so this parses the stable parts of its
console text: the statistics lines, the `Error:` lines and the `State N: <Action ...>`
blocks of a counterexample. Everything else is kept verbatim in `output` for the reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["ok", "violation", "error"]

EXIT_CODES: dict[Verdict, int] = {"ok": 0, "violation": 1, "error": 2}

_STATS = re.compile(
    r"^([\d,]+) states generated, ([\d,]+) distinct states found, ([\d,]+) states left on queue"
)
_DEPTH = re.compile(r"^The depth of the complete state graph search is (\d+)\.")
_SIM_STATES = re.compile(r"^The number of states generated: ([\d,]+)")
_SIM_PROGRESS = re.compile(r"^Progress: ([\d,]+) states checked")
_VIOLATIONS = (
    (re.compile(r"^Error: Invariant (\S+) is violated"), "invariant"),
    (re.compile(r"^Error: Action property (\S+) is violated"), "action-property"),
    (re.compile(r"^Error: Temporal properties were violated"), "temporal-property"),
    (re.compile(r"^Error: Deadlock reached"), "deadlock"),
)
_STATE_HEADER = re.compile(r"^State (\d+): (.*)$")
# TLC prints a violating initial state without a `State 1:` header.
_INITIAL_VIOLATION = re.compile(r"^Error: Invariant \S+ is violated by the initial state")
_ACTION_NAME = re.compile(r"^<(\w+) line \d+")
_ASSIGNMENT = re.compile(r"^/\\ (\w+) = (.*)$")
_SUCCESS = "Model checking completed. No error has been found."


@dataclass(frozen=True, slots=True)
class TraceState:
    """One state of a counterexample: the action that led to it and every variable."""

    number: int
    action: str
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class TlcResult:
    verdict: Verdict
    tlc_status: int  # TLC's own exit status (0, 11, 12, 13, 75, 150, 255, ...)
    mode: Literal["model-check", "simulate"]
    seconds: float
    states_generated: int | None = None
    distinct_states: int | None = None  # model checking only
    depth: int | None = None
    violation_kind: str | None = None  # invariant, action-property, temporal-property, deadlock
    violated: str | None = None  # the invariant or property name, when TLC names it
    trace: tuple[TraceState, ...] = ()
    errors: tuple[str, ...] = ()
    output: str = field(default="", repr=False)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "tlc_status": self.tlc_status,
            "mode": self.mode,
            "seconds": round(self.seconds, 3),
            "states_generated": self.states_generated,
            "distinct_states": self.distinct_states,
            "depth": self.depth,
            "violation_kind": self.violation_kind,
            "violated": self.violated,
            "trace": [
                {"state": s.number, "action": s.action, "variables": s.variables}
                for s in self.trace
            ],
            "errors": list(self.errors),
        }


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def parse_trace(lines: list[str]) -> tuple[TraceState, ...]:
    """Parse `State N: <...>` blocks; a value may continue over several lines."""
    states: list[TraceState] = []
    number: int | None = None
    action = ""
    variables: dict[str, str] = {}
    current: str | None = None
    for line in lines:
        header = _STATE_HEADER.match(line)
        if _INITIAL_VIOLATION.match(line):
            number, action, variables, current = 1, "Initial predicate", {}, None
        elif header:
            if number is not None:
                states.append(TraceState(number, action, variables))
            number, variables, current = int(header.group(1)), {}, None
            label = _ACTION_NAME.match(header.group(2))
            action = label.group(1) if label else header.group(2).strip("<> ")
        elif number is None:
            continue
        elif (assignment := _ASSIGNMENT.match(line)) is not None:
            current = assignment.group(1)
            variables[current] = assignment.group(2).strip()
        elif line.strip() and current is not None:
            variables[current] += " " + line.strip()
        elif not line.strip():
            current = None
        else:
            break
    if number is not None:
        states.append(TraceState(number, action, variables))
    return tuple(states)


_STACK_LINE = re.compile(r"^(Residual stack trace follows:|.* starting at line \d+, column \d+\.)$")


def _error_lines(lines: list[str]) -> tuple[str, ...]:
    """The lines that explain a tool or spec error: TLC's `Error:` lines and the parser's
    `*** Errors` / `***Parse Error***` blocks, without the boilerplate and stack traces."""
    kept: list[str] = []
    in_block = False
    for line in lines:
        text = line.strip()
        if text.startswith("***"):
            in_block = True
        elif text.startswith("Starting...") or text.startswith("Finished in"):
            in_block = False
        if _STACK_LINE.match(text):
            continue
        if (in_block and text) or text.startswith("Error:") or "Exception" in text:
            kept.append(text)
    return tuple(dict.fromkeys(kept))


def parse_output(
    text: str, tlc_status: int, seconds: float, mode: Literal["model-check", "simulate"]
) -> TlcResult:
    lines = text.splitlines()
    generated = distinct = depth = None
    kind = violated = None
    for line in lines:
        if (stats := _STATS.match(line)) is not None:
            generated, distinct = _number(stats.group(1)), _number(stats.group(2))
        elif (d := _DEPTH.match(line)) is not None:
            depth = int(d.group(1))
        elif (sim := _SIM_STATES.match(line) or _SIM_PROGRESS.match(line)) is not None:
            generated = _number(sim.group(1))
        for pattern, name in _VIOLATIONS:
            if kind is None and (hit := pattern.match(line)) is not None:
                kind, violated = name, (hit.group(1) if hit.groups() else None)
    trace = parse_trace(lines)
    if mode == "simulate" and trace and depth is None:
        depth = len(trace)
    if kind is not None:
        verdict: Verdict = "violation"
    elif tlc_status == 0 and (mode == "simulate" or _SUCCESS in text):
        verdict = "ok"
    else:
        verdict = "error"
    errors = () if verdict == "ok" else _error_lines(lines)
    return TlcResult(
        verdict=verdict,
        tlc_status=tlc_status,
        mode=mode,
        seconds=seconds,
        states_generated=generated,
        distinct_states=distinct,
        depth=depth,
        violation_kind=kind,
        violated=violated,
        trace=trace,
        errors=errors,
        output=text,
    )


def format_trace(trace: tuple[TraceState, ...]) -> list[str]:
    """Each state with the action that reached it and only the variables it changed."""
    out: list[str] = []
    previous: dict[str, str] = {}
    for state in trace:
        out.append(f"  {state.number:>3}. {state.action}")
        for name, value in state.variables.items():
            if previous.get(name) != value:
                out.append(f"         {name} = {value}")
        previous = state.variables
    return out


def format_summary(result: TlcResult, spec: str) -> str:
    stats = []
    if result.distinct_states is not None:
        stats.append(f"{result.distinct_states:,} distinct states")
    if result.states_generated is not None:
        stats.append(f"{result.states_generated:,} states generated")
    if result.depth is not None:
        stats.append(f"depth {result.depth}")
    stats.append(f"{result.seconds:.1f} s")
    lines = [f"tlc {spec} ({result.mode}): {', '.join(stats)}"]
    if result.verdict == "ok":
        lines.append("OK: no invariant or property violated")
    elif result.verdict == "violation":
        what = result.violation_kind or "property"
        name = f" {result.violated}" if result.violated else ""
        lines.append(f"VIOLATED: {what}{name}, after {len(result.trace)} states:")
        lines.extend(format_trace(result.trace))
    else:
        lines.append(f"ERROR (TLC exit status {result.tlc_status}):")
        lines.extend(f"  {line}" for line in result.errors or ("(no error text; see --verbose)",))
    return "\n".join(lines)
