"""Jepsen histories into our op dicts (DESIGN.md 4.3), so our checkers run on Jepsen's runs.

Two sources: `history.edn` (one op map per line, or one vector of maps) and the textual
`jepsen.util` log lines (`INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]`). Jepsen's register
values become our register shape (`cas [a b]` -> `{"from": a, "to": b}`), kv ops keep their
`:key`. A completion that carries only an error keyword (`:fail :read :timed-out`) gets its
invocation's value back and the keyword as `error`, as our checkers expect.
When Jepsen wrote no `:time`, an op's position in the file stands for its time: the file is in
real-time order, which is all a checker needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.history import Op
from harness.importers.edn import EdnError, Keyword, kw, loads, loads_all

REGISTER_FS = frozenset({"read", "write", "cas"})
KV_FS = frozenset({"get", "put", "append"})
DEFAULT_KEY = "r"


class JepsenImportError(ValueError):
    """A Jepsen file this importer cannot read."""


def plain(value: Any) -> Any:
    """EDN values as JSON-able values: keywords by name, sets and tuples as lists."""
    if isinstance(value, Keyword):
        return kw(value)
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, frozenset):
        items = [plain(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _register_value(f: str, key: Any, raw: Any, op_type: str) -> dict[str, Any]:
    if f == "cas":
        if isinstance(raw, list) and len(raw) == 2:
            return {"key": key, "from": plain(raw[0]), "to": plain(raw[1])}
        return {"key": key}
    if f == "read" and op_type == "invoke":
        return {"key": key}
    return {"key": key, "value": plain(raw)}


def convert(raw: dict[Any, Any], position: int, invoked: dict[Any, Op]) -> Op:
    """One Jepsen op map (keys as keywords) into our op dict.

    `invoked` maps a process to its open invocation, so that a completion holding only an
    error keyword can take the invocation's value (Jepsen logs write `:timed-out` there).
    """
    get = {kw(k): v for k, v in raw.items() if isinstance(k, str)}
    process = plain(get.get("process"))
    op_type = str(plain(get.get("type")))
    f = str(plain(get.get("f")))
    value = get.get("value")
    op: Op = {
        "index": get.get("index", position),
        "time": get.get("time", position),
        "process": process,
        "type": op_type,
        "f": f,
    }
    error = get.get("error")
    if op_type in ("fail", "info") and isinstance(value, Keyword) and process in invoked:
        error = error if error is not None else value
        op["value"] = invoked[process].get("value")
    elif process != "nemesis" and f in REGISTER_FS:
        op["value"] = _register_value(f, plain(get.get("key", DEFAULT_KEY)), value, op_type)
    elif process != "nemesis" and f in KV_FS:
        op["value"] = {"key": plain(get.get("key")), "value": plain(value)}
    else:
        op["value"] = plain(value)
    if error is not None:
        op["error"] = plain(error)
    if "node" in get:
        op["node"] = plain(get["node"])
    if op_type == "invoke":
        invoked[process] = op
    else:
        invoked.pop(process, None)
    return op


def _to_ops(forms: list[Any]) -> list[Op]:
    invoked: dict[Any, Op] = {}
    return [convert(form, i, invoked) for i, form in enumerate(forms)]


def read_edn_history(path: Path) -> list[Op]:
    text = path.read_text(encoding="utf-8")
    try:
        forms = loads_all(text)
    except EdnError as e:
        raise JepsenImportError(f"{path}: not EDN: {e}") from None
    if len(forms) == 1 and isinstance(forms[0], list):
        forms = forms[0]  # older Jepsen wrote the whole history as one vector
    if not all(isinstance(f, dict) for f in forms):
        raise JepsenImportError(f"{path}: expected op maps")
    return _to_ops(forms)


def parse_log_line(line: str) -> dict[Any, Any] | None:
    """One `jepsen.util` history line as a Jepsen op map, or None for any other log line."""
    marker = line.find("jepsen.util - ")
    if marker < 0:
        return None
    fields = line[marker + len("jepsen.util - ") :].rstrip("\r\n").split("\t")
    if len(fields) < 3 or not fields[1].startswith(":"):
        return None
    try:
        process = loads(fields[0])
        value = loads(fields[3]) if len(fields) > 3 and fields[3].strip() else None
        error = loads(fields[4]) if len(fields) > 4 and fields[4].strip() else None
    except EdnError:
        return None
    op: dict[Any, Any] = {
        Keyword(":process"): process,
        Keyword(":type"): Keyword(fields[1]),
        Keyword(":f"): loads(fields[2]),
        Keyword(":value"): value,
    }
    if error is not None:
        op[Keyword(":error")] = error
    return op


def read_log_history(path: Path) -> list[Op]:
    with path.open(encoding="utf-8", errors="replace") as f:
        forms = [op for op in map(parse_log_line, f) if op is not None]
    if not forms:
        raise JepsenImportError(f"{path}: no jepsen.util history lines")
    return _to_ops(forms)
