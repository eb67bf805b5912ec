"""The linearizability checker: hand-made histories, generated ones, and a brute-force oracle."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.checkers.linearizable import Budget, check
from harness.checkers.models import MODELS, ModelError, make_model
from harness.history import Op
from tests.harness.checkers.histgen import brute_force, simulate


def h(*rows: tuple[Any, str, str, Any]) -> list[Op]:
    """A history from (process, type, f, value) rows, in real-time order."""
    return [
        {"index": i, "time": i, "process": p, "type": t, "f": f, "value": v}
        for i, (p, t, f, v) in enumerate(rows)
    ]


def r(key: str = "x", value: Any = None) -> dict[str, Any]:
    return {"key": key, "value": value}


def test_sequential_register_is_linearizable() -> None:
    ok = h(
        (0, "invoke", "write", r(value=1)),
        (0, "ok", "write", r(value=1)),
        (1, "invoke", "read", {"key": "x"}),
        (1, "ok", "read", r(value=1)),
    )
    assert check(ok, "register")["valid"] is True


def test_stale_read_is_caught_with_its_witness() -> None:
    stale = h(
        (0, "invoke", "write", r(value=1)),
        (0, "ok", "write", r(value=1)),
        (1, "invoke", "read", {"key": "x"}),
        (1, "ok", "read", r(value=None)),
    )
    result = check(stale, "register")
    assert result["valid"] is False
    [witness] = result["anomalies"]["nonlinearizable"]
    assert witness["op"]["f"] == "read"
    assert witness["state"] == 1
    assert witness["linearized_count"] == 1
    assert witness["linearized"][0]["op"]["f"] == "write"
    assert witness["candidates"] == [{"op": witness["op"], "legal": False}]


def test_concurrent_read_may_see_either_value() -> None:
    hist = h(
        (0, "invoke", "write", r(value=1)),
        (1, "invoke", "read", {"key": "x"}),
        (1, "ok", "read", r(value=1)),
        (2, "invoke", "read", {"key": "x"}),
        (2, "ok", "read", r(value=None)),
        (0, "ok", "write", r(value=1)),
    )
    # Process 2's read began after process 1 saw 1, so it cannot see the older value.
    assert check(hist, "register")["valid"] is False
    assert check(hist[:3] + hist[5:], "register")["valid"] is True


def test_info_write_may_happen_late_or_never() -> None:
    late = h(
        (0, "invoke", "write", r(value=1)),
        (0, "info", "write", r(value=1)),
        (1, "invoke", "read", {"key": "x"}),
        (1, "ok", "read", r(value=None)),
        (1, "invoke", "read", {"key": "x"}),
        (1, "ok", "read", r(value=1)),
    )
    assert check(late, "register")["valid"] is True
    never = late[:4]
    assert check(never, "register")["valid"] is True
    flip_back = [*late, *h((1, "invoke", "read", {"key": "x"}), (1, "ok", "read", r(value=None)))]
    for i, op in enumerate(flip_back):
        op["index"] = op["time"] = i
    assert check(flip_back, "register")["valid"] is False


def test_failed_cas_did_not_happen() -> None:
    hist = h(
        (0, "invoke", "cas", {"key": "x", "from": None, "to": 5}),
        (0, "fail", "cas", {"key": "x", "from": None, "to": 5}),
        (1, "invoke", "read", {"key": "x"}),
        (1, "ok", "read", r(value=5)),
    )
    assert check(hist, "cas-register")["valid"] is False
    hist[1]["type"] = "ok"
    assert check(hist, "cas-register")["valid"] is True


def test_ok_cas_from_wrong_value_is_caught() -> None:
    hist = h(
        (0, "invoke", "write", r(value=1)),
        (0, "ok", "write", r(value=1)),
        (1, "invoke", "cas", {"key": "x", "from": 2, "to": 3}),
        (1, "ok", "cas", {"key": "x", "from": 2, "to": 3}),
    )
    assert check(hist, "cas-register")["valid"] is False


def test_partitions_are_independent_and_named_in_the_witness() -> None:
    hist = h(
        (0, "invoke", "write", r("a", 1)),
        (0, "ok", "write", r("a", 1)),
        (1, "invoke", "read", {"key": "b"}),
        (1, "ok", "read", r("b", 1)),
    )
    result = check(hist, "register")
    assert result["partitions"] == 2
    assert result["anomalies"]["nonlinearizable"][0]["key"] == "b"


def test_kv_model_reads_jepsen_style_appends() -> None:
    kv = h(
        (0, "invoke", "append", {"key": "4", "value": "x 0 1 y"}),
        (0, "ok", "append", {"key": "4", "value": "x 0 1 y"}),
        (1, "invoke", "get", {"key": "4", "value": None}),
        (1, "ok", "get", {"key": "4", "value": "x 0 1 y"}),
        (1, "invoke", "get", {"key": "5", "value": None}),
        (1, "ok", "get", {"key": "5", "value": ""}),
    )
    assert check(kv, "kv")["valid"] is True
    kv[3]["value"] = {"key": "4", "value": ""}
    assert check(kv, "kv")["valid"] is False


def test_log_model_offsets_and_reads() -> None:
    log = h(
        (0, "invoke", "send", {"topic": "t", "value": 7}),
        (0, "ok", "send", {"topic": "t", "value": 7, "offset": 0}),
        (0, "invoke", "send", {"topic": "t", "values": [8, 9]}),
        (0, "ok", "send", {"topic": "t", "values": [8, 9], "offsets": [1, 2]}),
        (1, "invoke", "poll", {"topic": "t", "from": 1}),
        (1, "ok", "poll", {"topic": "t", "from": 1, "msgs": [[1, 8], [2, 9]]}),
    )
    assert check(log, "log")["valid"] is True
    log[3]["value"] = {"topic": "t", "values": [8, 9], "offsets": [2, 3]}
    assert check(log, "log")["valid"] is False


def test_set_model() -> None:
    s = h(
        (0, "invoke", "add", {"value": 1}),
        (0, "ok", "add", {"value": 1}),
        (1, "invoke", "read", {}),
        (1, "ok", "read", {"value": []}),
    )
    assert check(s, "set")["valid"] is False
    s[3]["value"] = {"value": [1]}
    assert check(s, "set")["valid"] is True


def test_wrong_model_is_unknown_not_a_pass() -> None:
    hist = h((0, "invoke", "cas", {"key": "x", "from": 1, "to": 2}), (0, "ok", "cas", {"key": "x"}))
    result = check(hist, "register")
    assert result["valid"] == "unknown"
    assert "no op 'cas'" in result["reason"]
    with pytest.raises(ModelError):
        make_model("queue")
    assert check(hist, "queue")["valid"] == "unknown"


def test_budget_exhaustion_yields_unknown() -> None:
    # Many concurrent crashed writes make the search wide; a tiny state budget cannot decide it.
    rows: list[tuple[Any, str, str, Any]] = []
    for p in range(12):
        rows.append((p, "invoke", "write", r(value=p)))
    rows.append((99, "invoke", "read", {"key": "x"}))
    rows.append((99, "ok", "read", r(value=1000)))
    for p in range(12):
        rows.append((p, "info", "write", r(value=p)))
    result = check(h(*rows), "register", Budget(seconds=60, states=10))
    assert result["valid"] in ("unknown", False)
    assert result["valid"] == "unknown" or result["anomalies"]
    tight = check(h(*rows), "register", Budget(seconds=0.0, states=10**9))
    assert tight["valid"] in ("unknown", False)


@pytest.mark.parametrize("model", MODELS)
def test_generated_histories_are_linearizable(model: str) -> None:
    rng = random.Random(model)
    for _ in range(20):
        hist = simulate(model, rng, n_calls=60, concurrency=5, keys=3)
        result = check(hist, model)
        assert result["valid"] is True, result


@given(
    model=st.sampled_from(MODELS),
    seed=st.integers(0, 2**32),
    concurrency=st.integers(1, 8),
    crash_p=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_hypothesis_random_concurrency_is_linearizable(
    model: str, seed: int, concurrency: int, crash_p: float
) -> None:
    hist = simulate(model, random.Random(seed), 40, concurrency, keys=2, crash_p=crash_p)
    assert check(hist, model)["valid"] is True


def _mutate(hist: list[Op], rng: random.Random) -> list[Op]:
    """Change one completed op's result or type at random (maybe still linearizable)."""
    out = [dict(op) for op in hist]
    done = [i for i, op in enumerate(out) if op["type"] != "invoke"]
    if not done:
        return out
    i = rng.choice(done)
    value = out[i]["value"]
    roll = rng.random()
    if roll < 0.3:
        out[i]["type"] = rng.choice(["ok", "fail", "info"])
    elif isinstance(value, dict) and isinstance(value.get("value"), int | None):
        out[i]["value"] = {**value, "value": rng.choice([None, 0, 1, 2, 3])}
    elif isinstance(value, dict) and "offset" in value:
        out[i]["value"] = {**value, "offset": value["offset"] + rng.choice([-1, 1])}
    elif isinstance(value, dict) and "msgs" in value:
        out[i]["value"] = {**value, "msgs": value["msgs"][1:]}
    return out


@given(
    model=st.sampled_from(["register", "cas-register", "set", "log", "kv"]),
    seed=st.integers(0, 2**32),
    concurrency=st.integers(1, 4),
)
def test_agrees_with_brute_force_on_small_histories(
    model: str, seed: int, concurrency: int
) -> None:
    rng = random.Random(seed)
    hist = simulate(model, rng, 6, concurrency, keys=1, crash_p=0.2)
    hist = _mutate(hist, rng)
    assert (check(hist, model)["valid"] is True) == brute_force(hist, model)


def test_garbage_read_among_many_crashed_writes_is_refuted_at_once() -> None:
    rows: list[tuple[Any, str, str, Any]] = [
        (p, "invoke", "write", r(value=p % 3)) for p in range(40)
    ]
    rows += [(p, "info", "write", r(value=p % 3)) for p in range(40)]
    rows += [(99, "invoke", "read", {"key": "x"}), (99, "ok", "read", r(value=7))]
    result = check(h(*rows), "register", Budget(seconds=5))
    assert result["valid"] is False
    assert "no write" in result["anomalies"]["nonlinearizable"][0]["reason"]


def test_identical_crashed_writes_are_searched_once() -> None:
    # 30 crashed writes of two values, then a stale read: with the symmetry cut the search
    # space is counts (31 x 31), not subsets (2^30), so a small state budget decides it.
    rows: list[tuple[Any, str, str, Any]] = [
        (p, "invoke", "write", r(value=p % 2)) for p in range(30)
    ]
    rows += [(p, "info", "write", r(value=p % 2)) for p in range(30)]
    rows += [(98, "invoke", "write", r(value=5)), (98, "ok", "write", r(value=5))]
    rows += [(99, "invoke", "read", {"key": "x"}), (99, "ok", "read", r(value=None))]
    assert check(h(*rows), "register", Budget(seconds=60, states=200_000))["valid"] is False
