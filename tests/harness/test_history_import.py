"""Importers: Jepsen's EDN and `jepsen.util` log lines into our op dicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.history import HistoryError, write_history
from harness.importers import guess_format, load_history
from harness.importers.edn import EdnError, Keyword, kw, loads, loads_all
from harness.importers.jepsen import JepsenImportError, parse_log_line

# Written by hand in the shape Jepsen's etcd and kv tests log (research/jepsen.md 1.4).
JEPSEN_LOG = (
    "2015-06-10 12:00:01,001 INFO  jepsen.core - Worker 0 starting\n"
    "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n"
    "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 1\t:ok\t:read\tnil\n"
    "INFO  jepsen.util - 3\t:fail\t:cas\t[1 4]\n"
    "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
    "INFO  jepsen.util - 2\t:invoke\t:write\t4\n"
    "INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n"
    "INFO  jepsen.util - 1\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n"
)

JEPSEN_EDN = (
    '{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}\n'
    '{:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}\n'
    '{:process 1, :type :invoke, :f :get, :key "4", :value nil}\n'
    '{:process 1, :type :ok, :f :get, :key "4", :value "x 0 1 y", :time 12}\n'
    "{:process :nemesis, :type :info, :f :start-partition, :value #{:n1 :n2}, :index 9}\n"
)


def test_edn_reads_every_form_jepsen_writes() -> None:
    form = loads(
        '{:a [1 -2 3.5 nil true false "s\\"q\\n"] :b #{:x} :c (1 2) '
        ":d #jepsen.history.Op{:f :read} :e \\c} ; comment"
    )
    assert form[Keyword(":a")] == [1, -2, 3.5, None, True, False, 's"q\n']
    assert form[Keyword(":b")] == frozenset({Keyword(":x")})
    assert form[Keyword(":c")] == [1, 2]
    assert form[Keyword(":d")] == {Keyword(":f"): Keyword(":read")}
    assert form[Keyword(":e")] == "c"
    assert kw(Keyword(":read")) == "read"
    assert loads_all("1 #_ 2 3, 4") == [1, 3, 4]


@pytest.mark.parametrize("text", ["{:a 1", "[1 2", '"open', "{:a}", ")"])
def test_edn_rejects_broken_text(text: str) -> None:
    with pytest.raises(EdnError):
        loads(text)


def test_jepsen_log_lines_become_register_ops(tmp_path: Path) -> None:
    path = tmp_path / "etcd.log"
    path.write_text(JEPSEN_LOG)
    assert guess_format(path) == "jepsen-log"
    ops = load_history(path)
    assert [(o["process"], o["type"], o["f"]) for o in ops] == [
        (3, "invoke", "cas"),
        (1, "invoke", "read"),
        (1, "ok", "read"),
        (3, "fail", "cas"),
        ("nemesis", "info", "start"),
        (2, "invoke", "write"),
        (2, "info", "write"),
        (1, "invoke", "read"),
        (1, "fail", "read"),
    ]
    assert ops[0]["value"] == {"key": "r", "from": 1, "to": 4}
    assert ops[2]["value"] == {"key": "r", "value": None}
    # The timed-out completion keeps the invoke's value and carries the keyword as the error.
    assert ops[6]["value"] == {"key": "r", "value": 4}
    assert ops[6]["error"] == "timed-out"
    assert ops[8]["error"] == "timed-out"
    assert [o["index"] for o in ops] == list(range(9))


def test_log_line_parser_ignores_other_loggers() -> None:
    assert parse_log_line("INFO  jepsen.core - Run complete, writing") is None
    assert parse_log_line("INFO  jepsen.util - not a history line") is None


def test_jepsen_edn_becomes_kv_ops(tmp_path: Path) -> None:
    path = tmp_path / "history.edn"
    path.write_text(JEPSEN_EDN)
    ops = load_history(path, "jepsen-edn")
    assert ops[0] == {
        "index": 0,
        "time": 0,
        "process": 0,
        "type": "invoke",
        "f": "append",
        "value": {"key": "4", "value": "x 0 1 y"},
    }
    assert ops[3]["value"] == {"key": "4", "value": "x 0 1 y"}
    assert ops[3]["time"] == 12
    assert ops[4]["process"] == "nemesis"
    assert ops[4]["value"] == ["n1", "n2"]
    assert ops[4]["index"] == 9


def test_edn_history_as_one_vector(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text("[{:process 0 :type :invoke :f :read :value nil}]")
    assert load_history(path)[0]["value"] == {"key": "r"}


def test_bad_files_raise_named_errors(tmp_path: Path) -> None:
    edn = tmp_path / "bad.edn"
    edn.write_text("{:process 0")
    with pytest.raises(JepsenImportError):
        load_history(edn)
    log = tmp_path / "empty.log"
    log.write_text("nothing here\n")
    with pytest.raises(JepsenImportError):
        load_history(log, "jepsen-log")
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"type": "nope"}\n')
    with pytest.raises(HistoryError):
        load_history(jsonl)
    with pytest.raises(ValueError, match="unknown history format"):
        load_history(jsonl, "xml")


def test_jsonl_round_trip(tmp_path: Path) -> None:
    ops = [{"index": 0, "time": 5, "process": 1, "type": "invoke", "f": "read", "value": None}]
    path = tmp_path / "history.jsonl"
    write_history(path, ops)
    assert load_history(path) == ops
