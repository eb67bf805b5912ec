"""The pure generators and combinators, driven by a virtual-time loop (tests/harness/run/sim)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harness.generator import (
    NEMESIS,
    PENDING,
    Cycle,
    EachThread,
    FnGen,
    Limit,
    Mix,
    Repeat,
    Sleep,
    Stagger,
    TimeLimit,
    UntilOk,
    any_of,
    clients,
    delay,
    lift,
    make_context,
    nemesis,
    once,
    phases,
    secs,
    with_nemesis,
)
from harness.generator.schedule import fault_cycle, final_heal
from tests.harness.run.sim import fs, invokes, simulate

READ = {"f": "read"}
WRITE = {"f": "write", "value": 1}


def test_a_dict_is_one_op_filled_with_process_and_time() -> None:
    gen = lift(READ)
    assert gen is not None
    ctx = make_context(2, random.Random(0), time=5)
    result = gen.op(ctx)
    assert result is not None
    op, rest = result
    assert op == {"type": "invoke", "f": "read", "process": 0, "time": 5}
    assert rest is None


def test_no_free_thread_is_pending() -> None:
    ctx = make_context(1, random.Random(0), nemesis=False)
    busy = ctx.restrict(lambda t: False)
    gen = Repeat(READ)
    assert gen.op(busy) == (PENDING, gen)


def test_limit_of_repeat_emits_exactly_n_ops() -> None:
    history = simulate(Limit(7, Repeat(READ)), concurrency=3)
    assert fs(history) == ["read"] * 7
    assert len(history) == 14


def test_sequence_runs_in_order_and_fn_ends_on_none() -> None:
    count = iter(range(3))

    def next_write(ctx: object) -> dict[str, object] | None:
        n = next(count, None)
        return None if n is None else {"f": "write", "value": n}

    history = simulate(lift([READ, FnGen(next_write), {"f": "cas"}]), concurrency=1)
    assert [(op["f"], op.get("value")) for op in invokes(history)] == [
        ("read", None),
        ("write", 0),
        ("write", 1),
        ("write", 2),
        ("cas", None),
    ]


def test_mix_draws_from_every_generator_and_is_seeded() -> None:
    gen = Limit(400, Mix([Repeat(READ), Repeat(WRITE)]))
    first = fs(simulate(gen, concurrency=4, seed=1))
    assert Counter(first).keys() == {"read", "write"}
    assert 120 < Counter(first)["read"] < 280
    assert fs(simulate(gen, concurrency=4, seed=1)) == first
    assert fs(simulate(gen, concurrency=4, seed=2)) != first


def test_mix_drops_exhausted_generators() -> None:
    history = simulate(Mix([once(READ), Limit(3, Repeat(WRITE))]), concurrency=2)
    assert Counter(fs(history)) == {"read": 1, "write": 3}


def test_delay_spaces_ops_exactly_in_total() -> None:
    history = simulate(Limit(5, delay(100, Repeat(READ))), concurrency=3, latency=1)
    assert [op["time"] for op in invokes(history)] == [0, 100, 200, 300, 400]


def test_stagger_averages_its_interval() -> None:
    history = simulate(Limit(500, Stagger(1000, Repeat(READ))), concurrency=4, latency=1)
    times = [op["time"] for op in invokes(history)]
    mean = (times[-1] - times[0]) / (len(times) - 1)
    assert 800 < mean < 1200
    assert times == sorted(times)


def test_time_limit_drops_ops_at_or_past_the_deadline() -> None:
    history = simulate(TimeLimit(1000, delay(300, Repeat(READ))), concurrency=2, latency=1)
    assert [op["time"] for op in invokes(history)] == [0, 300, 600, 900]


def test_phases_wait_for_every_op_of_the_phase_before() -> None:
    gen = phases(Limit(4, Repeat(READ)), Limit(2, Repeat(WRITE)))
    history = simulate(gen, concurrency=3, latency=50)
    last_read_done = max(op["time"] for op in history if op["f"] == "read" and op["type"] == "ok")
    first_write = min(op["time"] for op in invokes(history) if op["f"] == "write")
    assert first_write >= last_read_done
    assert Counter(fs(history)) == {"read": 4, "write": 2}


def test_each_thread_runs_its_own_copy_on_every_thread() -> None:
    history = simulate(EachThread(once(READ)), concurrency=4)
    assert sorted(op["process"] for op in invokes(history)) == [0, 1, 2, 3]


def test_until_ok_stops_after_the_first_ok() -> None:
    outcomes = iter(["fail", "fail", "ok", "ok", "ok"])
    history = simulate(UntilOk(Repeat(READ)), concurrency=1, complete=lambda op: next(outcomes))
    assert [op["type"] for op in history if op["type"] != "invoke"] == ["fail", "fail", "ok"]


def test_info_gives_the_thread_a_new_process() -> None:
    outcomes = iter(["info", "ok", "info", "ok"])
    history = simulate(Limit(4, Repeat(READ)), concurrency=1, complete=lambda op: next(outcomes))
    assert [op["process"] for op in invokes(history)] == [0, 1, 1, 2]


def test_clients_and_nemesis_keep_to_their_threads() -> None:
    gen = any_of(clients(Limit(5, Repeat(READ))), nemesis(Limit(2, Repeat({"f": "start"}))))
    history = simulate(gen, concurrency=2, nemesis=True)
    by_f = {(op["f"], op["process"] == NEMESIS) for op in invokes(history)}
    assert by_f == {("read", False), ("start", True)}


def test_any_takes_the_soonest_op() -> None:
    late = delay(1000, Limit(1, Repeat({"f": "late"})))
    soon = Limit(1, Repeat({"f": "soon"}))
    gen = any_of(Seq_(Sleep(500), late), soon)
    history = simulate(gen, concurrency=1)
    assert fs(history) == ["soon", "late"]
    assert invokes(history)[1]["time"] >= 500


def Seq_(*gens: Any) -> Any:
    return lift(list(gens))


def test_sleep_holds_a_sequence_back() -> None:
    history = simulate(lift([READ, Sleep(secs(0.01)), WRITE]), concurrency=1, latency=1)
    read, write = invokes(history)
    assert write["time"] - read["time"] >= secs(0.01)


def test_cycle_builds_a_fresh_generator_each_round() -> None:
    rounds = iter(range(3))

    def make(ctx: Any) -> Any:
        n = next(rounds, None)
        return None if n is None else [{"f": "a", "value": n}, {"f": "b", "value": n}]

    history = simulate(Cycle(make), concurrency=1)
    assert [(op["f"], op["value"]) for op in invokes(history)] == [
        ("a", 0),
        ("b", 0),
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("b", 2),
    ]


def test_fault_cycle_alternates_start_and_stop_with_quiet_and_hold() -> None:
    schedule = TimeLimit(secs(1), fault_cycle(["kill", "pause"], hold=secs(0.1), quiet=secs(0.05)))
    gen = with_nemesis(Limit(0, Repeat(READ)), schedule)
    history = simulate(gen, concurrency=1, nemesis=True, latency=1000)
    ops = invokes(history)
    assert [op["f"] for op in ops[:4]] == ["start", "stop", "start", "stop"]
    for start, stop in zip(ops[::2], ops[1::2], strict=False):
        assert start["value"] == stop["value"]
        assert stop["time"] - start["time"] >= secs(0.1)
    assert ops[0]["time"] >= secs(0.05)
    assert {op["value"]["nemesis"] for op in ops} <= {"kill", "pause"}
    assert final_heal(["kill", "pause", "kill"]) == [
        {"f": "stop", "value": {"nemesis": "kill"}},
        {"f": "stop", "value": {"nemesis": "pause"}},
    ]


def _pairs_never_overlap(history: list[dict[str, object]]) -> bool:
    open_: set[object] = set()
    for op in history:
        if op["type"] == "invoke":
            if op["process"] in open_:
                return False
            open_.add(op["process"])
        else:
            open_.discard(op["process"])
    return not open_


@given(
    n=st.integers(0, 60),
    concurrency=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    info_every=st.integers(2, 9),
    rate_ns=st.sampled_from([0, 5, 50]),
)
def test_any_composition_emits_its_limit_and_never_overlaps_a_process(
    n: int, concurrency: int, seed: int, info_every: int, rate_ns: int
) -> None:
    """Whatever the mix, rate and crashes: exactly n invocations, each completed, and no
    process with two ops in flight or reused after an info."""
    counter = iter(range(10**6))
    body = Mix([Repeat(READ), Repeat(WRITE), Repeat({"f": "cas"})])
    gen = Limit(n, Stagger(rate_ns, body) if rate_ns else body)

    def complete(op: dict[str, object]) -> str:
        return "info" if next(counter) % info_every == 0 else "ok"

    history = simulate(clients(gen), concurrency=concurrency, seed=seed, complete=complete)
    assert len(invokes(history)) == n
    assert len(history) == 2 * n
    assert _pairs_never_overlap(history)
    crashed = {op["process"] for op in history if op["type"] == "info"}
    for p in crashed:
        last_info = max(i for i, op in enumerate(history) if op["process"] == p)
        assert history[last_info]["type"] == "info"


def test_generators_are_values_asking_twice_gives_the_same_op() -> None:
    """`op` never changes the generator it is called on: the interpreter may ask again (an op
    whose time lies ahead is dropped and asked for later) and must get the same answer."""
    from harness.workloads.log import LogGen
    from harness.workloads.register import RegisterGen

    gens = [
        Limit(3, Mix([Repeat(READ), Repeat(WRITE)])),
        Stagger(100, Repeat(READ)),
        TimeLimit(secs(1), delay(10, Repeat(READ))),
        LogGen(["t0", "t1"]),
        RegisterGen(keys=3, per_key=10),
        EachThread(once(READ)),
        fault_cycle(["kill"], hold=10, quiet=0),
    ]
    for gen in gens:
        first = gen.op(make_context(3, random.Random(9), time=50))
        again = gen.op(make_context(3, random.Random(9), time=50))
        assert first is not None
        assert again is not None
        assert first[0] == again[0], type(gen).__name__


def test_fault_options_reach_every_start_op() -> None:
    schedule = Limit(4, fault_cycle(["kill"], hold=1, quiet=0, options={"targets": "leader"}))
    history = simulate(nemesis(schedule), concurrency=0, nemesis=True)
    starts = [op["value"] for op in invokes(history) if op["f"] == "start"]
    assert starts == [{"nemesis": "kill", "targets": "leader"}] * 2
