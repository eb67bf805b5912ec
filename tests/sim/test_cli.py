"""`harness sim`: a failing seed prints the property, the last events and a replay command
that reproduces it exactly; bad arguments exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["sim", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_failing_seed_prints_what_broke_and_how_to_replay_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(["--seed", "0", "--core-variant", "applies-before-commit"], capsys)
    assert code == 1
    assert "FAILED" in out
    assert "violated: State Machine Safety" in out
    assert "last events:" in out
    replay = out.split("replay: harness ")[1].strip().split()
    assert replay[:3] == ["sim", "--seed", "0"]
    assert "wall" in err
    again, replayed, _ = run(replay[1:], capsys)
    assert again == 1
    assert replayed == out


def test_a_passing_seed_exits_zero_and_writes_its_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "h-{seed}.jsonl"
    code, out, _ = run(["--seeds", "2", "--time", "0.5", "--history", str(path)], capsys)
    assert code == 0, out
    assert (tmp_path / "h-0.jsonl").stat().st_size > 0
    assert (tmp_path / "h-1.jsonl").stat().st_size > 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--faults", "earthquake"],
        ["--seeds", "2", "--history", "h.jsonl"],
        ["--seeds", "0"],
        ["--seed", "1", "--core-variant", "no-such-mutant"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert "harness sim:" in err


def test_the_causal_workload_runs_under_the_clock_nemesis(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--seeds", "2", "--faults", "clock,transfer", "--time", "0.5", "--causal"]
    code, out, _ = run(argv, capsys)
    assert code == 0, out
    assert out.count("causal ") == 2
    assert "2 seeds: 2 ok" in out
    again, replayed, _ = run(argv, capsys)
    assert (again, replayed) == (code, out)


def test_a_failing_causal_seed_replays_with_its_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--seed", "0", "--causal", "--clients", "2", "--core-variant", "applies-before-commit"]
    code, out, _ = run(argv, capsys)
    assert code == 1
    replay = out.split("replay: harness sim ")[1].strip().split()
    assert "--causal" in replay
    assert replay[replay.index("--clients") + 1] == "2"
    again, replayed, _ = run(replay, capsys)
    assert (again, replayed) == (1, out)


def test_a_client_count_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--clients", "0"], capsys)
    assert code == 2
    assert out == ""
    assert "harness sim: --clients needs a positive count" in err
