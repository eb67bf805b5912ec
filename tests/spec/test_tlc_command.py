"""The `tlc` command end to end on tiny specs: success, a violation with its trace, a
syntax error, a missing jar, simulation, and the command line it builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec.tlc import main
from spec.tlc_runner import JAR_ENV, TlcOptions, build_command

FIXTURES = Path(__file__).parent / "fixtures"
COUNTER = FIXTURES / "Counter.tla"


@pytest.mark.usefixtures("tlc_available")
def test_success_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(COUNTER), "--config", str(FIXTURES / "CounterOk.cfg")]) == 0
    out = capsys.readouterr().out
    assert "OK: no invariant or property violated" in out
    assert "3 distinct states" in out


@pytest.mark.usefixtures("tlc_available")
def test_violation_exits_1_with_parsed_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(COUNTER), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert (result["verdict"], result["violated"]) == ("violation", "Small")
    assert [s["variables"]["x"] for s in result["trace"]] == ["0", "1", "2", "3"]
    assert result["trace"][1]["action"] == "Inc"


@pytest.mark.usefixtures("tlc_available")
def test_syntax_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURES / "Broken.tla")]) == 2
    out = capsys.readouterr().out
    assert "ERROR (TLC exit status 150)" in out
    assert 'Encountered "====" at line 4, column 1' in out
    assert "starting at line" not in out  # the parser's stack trace is left out


@pytest.mark.usefixtures("tlc_available")
def test_simulation_finds_the_violation(capsys: pytest.CaptureFixture[str]) -> None:
    args = [str(COUNTER), "--simulate", "--num", "20", "--depth", "10", "--seed", "7"]
    assert main([*args, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["mode"] == "simulate"


def test_missing_jar_exits_2_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(JAR_ENV, "/nonexistent/tla2tools.jar")
    assert main([str(COUNTER)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tlc: TLA2TOOLS_JAR=/nonexistent/tla2tools.jar does not exist")


def test_missing_config_is_a_tool_error(capsys: pytest.CaptureFixture[str]) -> None:
    if main([str(COUNTER), "--config", str(FIXTURES / "Nope.cfg")]) != 2:
        pytest.fail("a missing cfg must exit 2")
    assert "does not exist" in capsys.readouterr().out


def test_command_line_has_fresh_metadir_and_deadlock_flag(tmp_path: Path) -> None:
    options = TlcOptions(spec=COUNTER, simulate=True, num=5, depth=9, seed=3, workers=2)
    command = build_command("java", Path("/x/tla2tools.jar"), options, tmp_path)
    assert command[:2] == ["java", "-XX:+UseParallelGC"]
    assert command[command.index("-metadir") + 1] == str(tmp_path / "states")
    # TLC unpacks its standard modules into java.io.tmpdir: a shared /tmp races between runs.
    assert f"-Djava.io.tmpdir={tmp_path / 'java-tmp'}" in command
    assert (tmp_path / "java-tmp").is_dir()
    assert command[command.index("-config") + 1] == str(COUNTER.with_suffix(".cfg"))
    assert "-deadlock" in command
    assert command[command.index("-simulate") + 1] == "num=5"
    assert command[-1] == "Counter"
    checked = build_command("java", Path("j"), TlcOptions(COUNTER, check_deadlock=True), tmp_path)
    assert "-deadlock" not in checked
