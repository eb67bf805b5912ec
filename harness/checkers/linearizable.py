"""Linearizability: the Wing-Gong-Lowe search with Porcupine's improvements.

- The history is split by key (P-compositionality) and each partition is searched on its own;
  the searches run interleaved, round-robin, so that one hard partition cannot starve the
  others, and the first partition found illegal stops them all (Porcupine runs them in
  parallel threads; here the GIL would serialise threads anyway).
- Each search caches (linearized set, model state) pairs, as Lowe does. The linearized set is
  kept as (m, window): every definite call below m is linearized, and `window` holds the bits
  from m up. The window stays about as wide as the concurrency, so cache keys stay small even
  on histories of 100,000 ops (a plain bitset would be one 12 KB integer per cache entry).
- `info` calls (indeterminate) may take effect at any time after their invoke, or never: they
  have no return event, and a search succeeds once every definite call is linearized.
  Failed calls definitely did not happen and are dropped, as in Knossos.
- A time and state budget turns an undecided search into "unknown", never a guess.
On failure the result holds the longest linearizable prefix found, the call that could not be
placed before its return and the model state it met, as Porcupine's visualisation shows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any

from harness.checkers.calls import Call, describe, pair_calls
from harness.checkers.models import Model, ModelError, State, make_model
from harness.history import Op

_SLICE = 4096  # search iterations between yields to the scheduler
_KEEP = 50  # how many ops of the longest prefix a result lists
HEAD = 0


@dataclass(frozen=True)
class Budget:
    seconds: float = 60.0
    states: int = 5_000_000  # cache entries over all live partitions


@dataclass
class _Outcome:
    verdict: bool | str  # True, False or "unknown"
    states: int
    reason: str = ""
    witness: dict[str, Any] | None = None


class _Search:
    """One partition's search, run as a generator that yields every `_SLICE` iterations."""

    def __init__(self, model: Model, calls: list[Call]) -> None:
        self.model = model
        kept = [c for c in calls if c.type == "ok" or c.f not in model.readonly]
        kept = [c for c in kept if c.type != "fail"]
        self.calls = kept
        self.known = [c.type == "ok" for c in kept]
        self.values = [c.value for c in kept]
        self.cid: list[int] = []  # per call: its id among definite calls, or among info calls
        definite = info = 0
        for known in self.known:
            self.cid.append(definite if known else info)
            definite, info = (definite + 1, info) if known else (definite, info + 1)
        self.definite = definite
        self.twin = self._twins()
        self.garbage = self._garbage_read()
        self._build_list()
        self.cache: set[tuple[int, int, int, State]] = set()
        self.best: tuple[int, tuple[int, ...], State, int] = (-1, (), model.init, -1)

    def _garbage_read(self) -> int | None:
        """An ok register read of a value that no write or cas could have produced.

        No linearization can place it, and with many crashed writes around, the search would
        need exponential time to find that out; this catches the common case in linear time.
        """
        if self.model.name not in ("register", "cas-register"):
            return None
        produced = {json.dumps(self.model.init)}
        for c, v in zip(self.calls, self.values, strict=True):
            if c.f in ("write", "cas") and isinstance(v, dict):
                produced.add(json.dumps(v.get("value" if c.f == "write" else "to"), default=repr))
        for i, (c, v) in enumerate(zip(self.calls, self.values, strict=True)):
            read = self.known[i] and c.f == "read" and isinstance(v, dict)
            if read and json.dumps(v.get("value"), default=repr) not in produced:
                return i
        return None

    def _twins(self) -> list[int]:
        """For each info call, the info call of the same op and value invoked just before it.

        Such twins are interchangeable (same effect, both pending forever), so the search only
        linearizes a twin after its earlier one: a symmetry cut that turns 2^k subsets of k
        identical crashed writes into k+1 counts.
        """
        last: dict[str, int] = {}
        twin = [-1] * len(self.calls)
        for i, c in enumerate(self.calls):
            if not self.known[i]:
                cls = json.dumps([c.f, self.values[i]], sort_keys=True, default=repr)
                twin[i] = last.get(cls, -1)
                last[cls] = i
        return twin

    def _build_list(self) -> None:
        # Nodes: 0 is the head; call i is node 2i+1 and its return node 2i+2 (absent for info).
        events: list[tuple[int, int]] = []
        for i, c in enumerate(self.calls):
            events.append((c.position, 2 * i + 1))
            if self.known[i]:
                events.append((c.end if c.end is not None else 1 << 62, 2 * i + 2))
        events.sort()
        n = 2 * len(self.calls) + 2
        self.nxt = [-1] * n
        self.prv = [-1] * n
        last = HEAD
        for _, node in events:
            self.nxt[last] = node
            self.prv[node] = last
            last = node

    def _lift(self, node: int) -> None:
        nxt, prv = self.nxt, self.prv
        nxt[prv[node]] = nxt[node]
        if nxt[node] >= 0:
            prv[nxt[node]] = prv[node]
        if self.known[node >> 1]:
            ret = node + 1
            nxt[prv[ret]] = nxt[ret]
            if nxt[ret] >= 0:
                prv[nxt[ret]] = prv[ret]

    def _unlift(self, node: int) -> None:
        nxt, prv = self.nxt, self.prv
        if self.known[node >> 1]:
            ret = node + 1
            if nxt[ret] >= 0:
                prv[nxt[ret]] = ret
            nxt[prv[ret]] = ret
        if nxt[node] >= 0:
            prv[nxt[node]] = node
        nxt[prv[node]] = node

    def run(self) -> Generator[None, None, _Outcome]:
        step, known, values, cid, twin = (
            self.model.step,
            self.known,
            self.values,
            self.cid,
            self.twin,
        )
        fs = [c.f for c in self.calls]
        nxt, cache = self.nxt, self.cache
        state: State = self.model.init
        m = window = infobits = 0
        remaining = self.definite
        stack: list[tuple[int, State, int, int, int]] = []
        entry = nxt[HEAD]
        ticks = 0
        if self.garbage is not None:
            witness: dict[str, Any] = {"op": describe(self.calls[self.garbage]), "state": None}
            witness["reason"] = "read a value that no write or cas produced"
            return _Outcome(False, 0, witness=witness)
        while remaining:
            ticks += 1
            if ticks == _SLICE:
                ticks = 0
                yield
            if entry < 0 or not entry & 1:  # a return event (or the end): backtrack
                self._note_depth(stack, state, entry)
                if not stack:
                    return _Outcome(False, len(cache), witness=self._witness())
                entry, state, m, window, infobits = stack.pop()
                if known[entry >> 1]:
                    remaining += 1
                self._unlift(entry)
                entry = nxt[entry]
                continue
            i = entry >> 1
            t = twin[i]
            if t >= 0 and not infobits >> cid[t] & 1:
                entry = nxt[entry]  # its earlier twin first (see _twins)
                continue
            legal, new_state = step(state, fs[i], values[i], known[i])
            if legal:
                if known[i]:
                    nm, nw = _mark(m, window, cid[i])
                    ni = infobits
                else:
                    nm, nw, ni = m, window, infobits | 1 << cid[i]
                key = (nm, nw, ni, new_state)
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state, m, window, infobits))
                    state, m, window, infobits = new_state, nm, nw, ni
                    remaining -= known[i]
                    self._lift(entry)
                    entry = nxt[HEAD]
                    continue
            entry = nxt[entry]
        return _Outcome(True, len(cache))

    def _note_depth(
        self, stack: list[tuple[int, State, int, int, int]], state: State, ret: int
    ) -> None:
        if len(stack) > self.best[0]:
            self.best = (len(stack), tuple(e[0] >> 1 for e in stack), state, (ret - 1) >> 1)

    def _witness(self) -> dict[str, Any]:
        _, order, state, blocked = self.best
        step, model = self.model.step, self.model
        prefix: list[dict[str, Any]] = []
        s: State = model.init
        for i in order:
            s = step(s, self.calls[i].f, self.values[i], self.known[i])[1]
            prefix.append({"op": describe(self.calls[i]), "state": model.describe_state(s)})
        done = set(order)
        limit = self.calls[blocked].end if blocked >= 0 else None
        candidates = []
        for i, c in enumerate(self.calls):
            if i in done or (limit is not None and c.position > limit):
                continue
            legal = step(state, c.f, self.values[i], self.known[i])[0]
            candidates.append({"op": describe(c), "legal": legal})
        return {
            "op": describe(self.calls[blocked]) if blocked >= 0 else None,
            "state": model.describe_state(state),
            "linearized_count": len(order),
            "linearized": prefix[-_KEEP:],
            "candidates": candidates[:_KEEP],
        }


def _mark(m: int, window: int, cid: int) -> tuple[int, int]:
    """Add definite call `cid` to the (m, window) linearized set."""
    window |= 1 << (cid - m)
    if cid == m:
        ones = ((~window) & (window + 1)).bit_length() - 1  # trailing ones: now all linearized
        window >>= ones
        m += ones
    return m, window


def partition(model_name: str, calls: Iterable[Call]) -> dict[Any, list[Call]]:
    probe = make_model(model_name)
    parts: dict[Any, list[Call]] = {}
    for c in calls:
        parts.setdefault(probe.key(c.invoke.get("value")), []).append(c)
    return parts


def check(
    history: list[Op], model: str = "cas-register", budget: Budget | None = None
) -> dict[str, Any]:
    """Is the history linearizable with respect to `model`? DESIGN.md 4.4 result shape."""
    budget = budget or Budget()
    started = time.monotonic()
    try:
        parts = partition(model, pair_calls(history))
        searches = {key: _Search(make_model(model), calls) for key, calls in parts.items()}
    except ModelError as e:
        return {"valid": "unknown", "model": model, "anomalies": {}, "reason": str(e)}
    result = _schedule(searches, budget, started)
    result.update(
        model=model, partitions=len(searches), seconds=round(time.monotonic() - started, 4)
    )
    return result


def _schedule(searches: dict[Any, _Search], budget: Budget, started: float) -> dict[str, Any]:
    running = {key: s.run() for key, s in searches.items()}
    outcomes: dict[Any, _Outcome] = {}
    deadline = started + budget.seconds
    try:
        while running:
            for key in list(running):
                try:
                    next(running[key])
                except StopIteration as stop:
                    outcomes[key] = stop.value
                    del running[key]
                    searches[key].cache.clear()  # done: free its memory for the others
                    if stop.value.verdict is False:
                        return _illegal(key, stop.value, searches)
            live = sum(len(searches[k].cache) for k in running)
            if running and time.monotonic() > deadline:
                return _unknown(f"time budget of {budget.seconds}s ran out", running, outcomes)
            if live > budget.states:
                return _unknown(f"state budget of {budget.states} ran out", running, outcomes)
    except ModelError as e:
        return _unknown(str(e), running, outcomes)
    except Exception as e:  # a malformed op must not look like a pass: say what broke
        return _unknown(f"checker crashed: {type(e).__name__}: {e}", running, outcomes)
    explored = sum(o.states for o in outcomes.values())
    return {"valid": True, "anomalies": {}, "states": explored}


def _illegal(key: Any, outcome: _Outcome, searches: dict[Any, _Search]) -> dict[str, Any]:
    witness = dict(outcome.witness or {})
    witness["key"] = key
    return {"valid": False, "anomalies": {"nonlinearizable": [witness]}, "states": outcome.states}


def _unknown(reason: str, running: dict[Any, Any], outcomes: dict[Any, _Outcome]) -> dict[str, Any]:
    return {
        "valid": "unknown",
        "anomalies": {},
        "reason": reason,
        "undecided": sorted(map(repr, running)),
        "decided": len(outcomes),
    }
