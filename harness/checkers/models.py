"""Sequential models for the linearizability checker: pure step functions, as in Porcupine.

`step(state, f, value, known)` returns `(legal, next_state)`. `value` is the op's value as our
history records it (DESIGN.md 4.3): the completion's value for an ok call, which repeats the
invoke's inputs and adds the results; the invoke's value for an info call, with `known=False`,
which means the results are unknown and any result is legal. States must be hashable: the
checker caches (linearized set, state) pairs. Each partition gets its own model instance (see
`make_model`), so a model may keep a private intern table, as the log model does.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

State = Hashable
Step = Callable[[State, str, Any, bool], tuple[bool, State]]


class ModelError(ValueError):
    """An op this model does not know how to apply (wrong model for the history)."""


@dataclass(frozen=True)
class Model:
    name: str
    init: State
    step: Step
    readonly: frozenset[str]  # ops that never change the state: info ones can be dropped
    key_field: str | None  # partition by this field of the value (P-compositionality)
    describe_state: Callable[[State], Any] = field(default=lambda s: s)

    def key(self, value: Any) -> Any:
        if self.key_field is None or not isinstance(value, dict):
            return None
        k = value.get(self.key_field)
        return k if isinstance(k, Hashable) else repr(k)


def _field(value: Any, name: str) -> Any:
    if not isinstance(value, dict):
        raise ModelError(f"op value {value!r} is not a map with {name!r}")
    return value.get(name)


def _register_step(cas: bool) -> Step:
    def step(state: State, f: str, value: Any, known: bool) -> tuple[bool, State]:
        if f == "read":
            return (not known or _field(value, "value") == state), state
        if f == "write":
            return True, _field(value, "value")
        if f == "cas" and cas:
            matches = _field(value, "from") == state
            if known:
                return matches, _field(value, "to")
            return True, _field(value, "to") if matches else state
        raise ModelError(f"{'cas-' if cas else ''}register model has no op {f!r}")

    return step


def _kv_step(state: State, f: str, value: Any, known: bool) -> tuple[bool, State]:
    v = _field(value, "value")
    if f in ("get", "read"):
        # Jepsen's kv (Porcupine's test data) reads a missing key as "".
        return (not known or (v if v is not None else "") == state), state
    if f in ("put", "write"):
        return True, v
    if f == "append":
        if isinstance(v, str) and isinstance(state, str):
            return True, state + v
        return True, (*_as_tuple(state), *_as_tuple(v))
    raise ModelError(f"kv model has no op {f!r}")


def _as_tuple(v: Any) -> tuple[Any, ...]:
    if v is None or v == "":
        return ()
    return tuple(v) if isinstance(v, list | tuple) else (v,)


def _set_step(state: State, f: str, value: Any, known: bool) -> tuple[bool, State]:
    if f == "add":
        return True, state | {_field(value, "value")}  # type: ignore[operator]
    if f == "read":
        v = _field(value, "value")
        return (not known or frozenset(v or ()) == state), state
    raise ModelError(f"set model has no op {f!r}")


class _LogTable:
    """Hash-consed logs: a log is an int id, so states hash and compare in O(1).

    Without this a log of n entries costs O(n) to hash on every cache probe, O(n^2) overall.
    """

    def __init__(self) -> None:
        self.nodes: list[tuple[int, Any, int]] = [(-1, None, 0)]  # (parent, value, length)
        self.ids: dict[tuple[int, Any], int] = {}

    def append(self, log: int, value: Any) -> int:
        key = (log, value)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.nodes)
            self.nodes.append((log, value, self.nodes[log][2] + 1))
        return found

    def length(self, log: int) -> int:
        return self.nodes[log][2]

    def tail(self, log: int, start: int) -> list[Any]:
        out: list[Any] = []
        while self.nodes[log][2] > start:
            parent, value, _ = self.nodes[log]
            out.append(value)
            log = parent
        out.reverse()
        return out


def _log_model() -> Model:
    table = _LogTable()

    def step(state: State, f: str, value: Any, known: bool) -> tuple[bool, State]:
        log = int(state)  # type: ignore[call-overload]
        if f in ("send", "append"):
            values = _field(value, "values")
            if values is None:
                values = [_field(value, "value")]
            offsets = _field(value, "offsets")
            if offsets is None and _field(value, "offset") is not None:
                offsets = [_field(value, "offset")]
            start = table.length(log)
            legal = not known or offsets == list(range(start, start + len(values)))
            for v in values:
                log = table.append(log, _hashable(v))
            return legal, log
        if f in ("poll", "read"):
            if not known:
                return True, log
            start = int(_field(value, "from") or 0)
            limit = _field(value, "max")
            expected = table.tail(log, start)
            if limit is not None:
                expected = expected[: int(limit)]
            got = [(int(o), _hashable(v)) for o, v in _field(value, "msgs") or ()]
            return got == list(enumerate(expected, start)), log
        raise ModelError(f"log model has no op {f!r}")

    return Model(
        "log",
        0,
        step,
        frozenset({"poll", "read"}),
        "topic",
        lambda s: table.tail(int(s), max(0, table.length(int(s)) - 8)),  # type: ignore[call-overload]
    )


def _hashable(v: Any) -> Hashable:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v  # type: ignore[no-any-return]


def _set_describe(s: State) -> Any:
    try:
        return sorted(s)  # type: ignore[call-overload]
    except TypeError:
        return list(s)  # type: ignore[call-overload]


_MAKERS: dict[str, Callable[[], Model]] = {
    "register": lambda: Model("register", None, _register_step(False), frozenset({"read"}), "key"),
    "cas-register": lambda: Model(
        "cas-register", None, _register_step(True), frozenset({"read"}), "key"
    ),
    "kv": lambda: Model("kv", "", _kv_step, frozenset({"get", "read"}), "key"),
    "log": _log_model,
    "set": lambda: Model("set", frozenset(), _set_step, frozenset({"read"}), "key", _set_describe),
}
MODELS = tuple(_MAKERS)


def make_model(name: str) -> Model:
    """A fresh instance of the named model (one of MODELS)."""
    try:
        return _MAKERS[name]()
    except KeyError:
        raise ModelError(f"unknown model {name!r}; expected one of {MODELS}") from None
