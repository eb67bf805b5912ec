"""The HTML report and `harness check`: files, exit codes, stdout, and a headless browser."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.checkers.synth import simulate
from harness.commands import check
from harness.history import Op, write_history
from harness.report import write_report
from harness.report.data import report_data, witness_indices
from tests.harness.checkers.builder import History

ETCD_STYLE_LOG = (
    "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
    "INFO  jepsen.util - 0\t:ok\t:write\t1\n"
    "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 4]\n"
    "INFO  jepsen.util - 2\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 1\t:info\t:cas\t:timed-out\n"
    "INFO  jepsen.util - 2\t:ok\t:read\t4\n"
    "INFO  jepsen.util - 3\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n"
)


def run_check(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    check.configure(parser)
    return check.run(parser.parse_args(list(argv)))


def lost_write_history() -> list[Op]:
    h = History().nemesis("start").send(0, "t", 10, 0).send(0, "t", 11, 1).nemesis("stop")
    return h.poll(1, "t", 1, [[1, 11]]).poll(1, "u", 0, []).send(0, "t", 12, 2).ops


def test_check_valid_jepsen_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "etcd.log"
    log.write_text(ETCD_STYLE_LOG)
    code = run_check(str(log), "--format", "jepsen-log", "--model", "cas-register")
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1] == "valid\ttrue"
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["valid"] is True
    assert set(results["checkers"]) == {"linearizable", "stats", "perf"}
    assert (tmp_path / "index.html").exists()


def test_check_invalid_kv_edn_prints_anomaly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edn = tmp_path / "history.edn"
    edn.write_text(
        '{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}\n'
        '{:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}\n'
        '{:process 1, :type :invoke, :f :get, :key "4", :value nil}\n'
        '{:process 1, :type :ok, :f :get, :key "4", :value ""}\n'
    )
    out_dir = tmp_path / "out"
    code = run_check(str(edn), "--format", "jepsen-edn", "--model", "kv", "--out", str(out_dir))
    out = capsys.readouterr().out
    assert code == 1
    assert "nonlinearizable\tlinearizable\t1" in out.splitlines()
    html = (out_dir / "index.html").read_text()
    assert "valid: false" in html
    assert "no order of the pending ops works" in html  # the Porcupine-style explanation


def test_check_log_history_names_its_anomalies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.jsonl"
    write_history(path, lost_write_history())
    assert run_check(str(path)) == 1
    names = {line.split("\t")[0] for line in capsys.readouterr().out.splitlines()}
    assert {"lost-write", "unseen", "valid"} <= names
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["checkers"]["log"]["valid"] is False
    assert results["checkers"]["perf"]["nemesis"][0]["nemesis"] == "partition"


def test_check_unknown_and_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "history.jsonl"
    write_history(path, History().call(0, "cas", {"key": "x", "from": 1, "to": 2}).ops)
    assert run_check(str(path), "--model", "register", "--no-report") == 2
    assert "unknown\tlinearizable" in capsys.readouterr().out
    assert not (tmp_path / "index.html").exists()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("not json\n")
    assert run_check(str(broken)) == 2
    assert run_check(str(tmp_path / "missing.jsonl")) == 2


def test_report_data_marks_witness_ops() -> None:
    ops = lost_write_history()
    results = {"checkers": {"log": {"anomalies": {"lost-write": [{"send": {"index": 1}}]}}}}
    assert witness_indices(results) == {1}
    data = report_data(ops, results)
    assert data["lanes"] == ["0", "1"]
    marked = [row for row in data["calls"] if row[6]]
    assert [row[5] for row in marked] == [1]
    assert data["nemesis"] == [["partition", 0.0, 5.0]]


def test_report_is_self_contained(tmp_path: Path) -> None:
    (tmp_path / "nodes" / "n1").mkdir(parents=True)
    (tmp_path / "nodes" / "n1" / "wiber.log").write_text("hello")
    (tmp_path / "test.json").write_text("{}")
    page = write_report(
        lost_write_history(), {"valid": False, "checkers": {}}, tmp_path
    ).read_text()
    assert "http://" not in page
    assert "https://" not in page
    assert "nodes/n1/wiber.log" in page
    assert "test.json" in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="needs headless Chromium (Debian `chromium`)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    history = simulate("cas-register", random.Random(7), 2000, 10, keys=5)
    history.insert(
        500, {"index": -1, "time": 500_000_000, "process": "nemesis", "type": "info", "f": "start"}
    )
    history.insert(
        1500,
        {"index": -2, "time": 1_500_000_000, "process": "nemesis", "type": "info", "f": "stop"},
    )
    path = tmp_path / "history.jsonl"
    write_history(path, history)
    assert run_check(str(path), "--model", "cas-register") == 0
    chromium = _chromium()
    assert chromium is not None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    dom = subprocess.run(
        [
            chromium,
            *flags,
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            (tmp_path / "index.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert 'data-ready="1"' in dom.stdout  # the script ran to its end: no exception on load
    assert "valid: true" in dom.stdout
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            *flags,
            f"--screenshot={shot}",
            "--window-size=1280,1600",
            (tmp_path / "index.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000
