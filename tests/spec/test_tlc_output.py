"""The TLC output parser on TLC 2.15's real console text (captured from runs here)."""

from __future__ import annotations

from spec.tlc_output import format_summary, format_trace, parse_output, parse_trace

VIOLATION = """\
TLC2 Version 2.15 of Day Month 20?? (rev: d5b5a7f)
Starting... (2026-11-28 20:22:04)
Error: Invariant Small is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ x = 0
/\\ log = ( s1 :> <<>> @@
  s2 :> <<[term |-> 1]>> )

State 2: <Inc line 5, col 8 to line 5, col 36 of module Toy>
/\\ x = 1
/\\ log = ( s1 :> <<>> @@
  s2 :> <<[term |-> 1]>> )

5 states generated, 5 distinct states found, 0 states left on queue.
The depth of the complete state graph search is 5.
Finished in 01s at (2026-11-28 20:22:04)
"""

SUCCESS = """\
Model checking completed. No error has been found.
  Estimates of the probability that TLC did not check all reachable states
1,494,224 states generated, 188,914 distinct states found, 0 states left on queue.
The depth of the complete state graph search is 44.
Finished in 02min 04s at (2026-11-28 20:24:01)
"""

PARSE_ERROR = """\
*** Errors: 1

line 3, col 8 to line 3, col 8 of module Broken

Encountered "====" at line 4, column 1

Starting... (2026-11-28 20:22:15)
Error: Parsing or semantic analysis failed.
Finished in 01s at (2026-11-28 20:22:15)
"""

ACTION_PROPERTY = """\
Error: Action property YMono is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ y = 0

State 2: <Dec line 6, col 8 to line 6, col 36 of module Toy>
/\\ y = -1

7 states generated, 7 distinct states found, 1 states left on queue.
"""

INITIAL_STATE = """\
Computing initial states...
Error: Invariant Bad is violated by the initial state:
/\\ x = 0
/\\ y = 0

Finished in 03s at (2026-11-28 21:12:05)
"""

SIMULATION = """\
Running Random Simulation with seed 1 with 1 worker on 2 cores
Computed 1 initial states...
Progress: 343 states checked.
Finished in 02s at (2026-11-28 20:22:35)
"""


def test_invariant_violation_with_multi_line_values() -> None:
    result = parse_output(VIOLATION, 12, 1.5, "model-check")
    assert result.verdict == "violation"
    assert result.exit_code == 1
    assert (result.violation_kind, result.violated) == ("invariant", "Small")
    assert [s.action for s in result.trace] == ["Initial predicate", "Inc"]
    assert result.trace[1].variables["x"] == "1"
    assert result.trace[0].variables["log"] == "( s1 :> <<>> @@ s2 :> <<[term |-> 1]>> )"
    assert (result.states_generated, result.distinct_states, result.depth) == (5, 5, 5)


def test_success_reads_the_statistics_with_thousands_separators() -> None:
    result = parse_output(SUCCESS, 0, 124.0, "model-check")
    assert (result.verdict, result.exit_code) == ("ok", 0)
    assert (result.states_generated, result.distinct_states, result.depth) == (
        1_494_224,
        188_914,
        44,
    )
    assert result.errors == ()


def test_parse_error_is_a_tool_error_with_the_location() -> None:
    result = parse_output(PARSE_ERROR, 150, 1.0, "model-check")
    assert (result.verdict, result.exit_code) == ("error", 2)
    assert any("line 3, col 8" in line for line in result.errors)
    assert "Error: Parsing or semantic analysis failed." in result.errors


def test_action_property_violation_is_named() -> None:
    result = parse_output(ACTION_PROPERTY, 13, 1.0, "model-check")
    assert (result.violation_kind, result.violated) == ("action-property", "YMono")
    assert len(result.trace) == 2


def test_violation_by_the_initial_state_has_a_one_state_trace() -> None:
    result = parse_output(INITIAL_STATE, 12, 1.0, "model-check")
    assert (result.verdict, result.violated) == ("violation", "Bad")
    assert [(s.number, s.action, s.variables) for s in result.trace] == [
        (1, "Initial predicate", {"x": "0", "y": "0"})
    ]


def test_simulation_without_error_is_ok_and_counts_states() -> None:
    result = parse_output(SIMULATION, 0, 2.0, "simulate")
    assert (result.verdict, result.states_generated, result.distinct_states) == ("ok", 343, None)


def test_exit_status_zero_without_the_success_line_is_not_ok() -> None:
    # A model-checking run that stopped early must not pass as "no error found".
    assert parse_output("Finished in 00s\n", 0, 0.1, "model-check").verdict == "error"


def test_trace_printout_shows_only_changed_variables() -> None:
    lines = format_trace(parse_trace(VIOLATION.splitlines()))
    assert lines[0].strip() == "1. Initial predicate"
    assert sum("log =" in line for line in lines) == 1
    assert any(line.strip() == "x = 1" for line in lines)


def test_summary_names_the_violated_invariant() -> None:
    summary = format_summary(parse_output(VIOLATION, 12, 1.5, "model-check"), "Toy.tla")
    assert "VIOLATED: invariant Small, after 2 states" in summary
    assert "5 distinct states" in summary
