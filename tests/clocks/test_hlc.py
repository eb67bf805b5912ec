"""Hybrid logical clock: packing, the offset rule (refuse clients, clamp peers), overflow, and
properties over random interleavings of local events, receives and restarts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.clocks.hlc import (
    LOGICAL_MAX,
    PHYSICAL_MAX_MS,
    ClockOffsetError,
    HybridClock,
    Stamp,
    pack,
    physical_ms,
    to_unix_seconds,
    unpack,
)

T0 = 1_700_000_000_000  # a realistic wall clock, in ms


@given(st.integers(0, PHYSICAL_MAX_MS), st.integers(0, LOGICAL_MAX))
def test_pack_round_trips_and_orders_by_physical_then_logical(ms: int, logical: int) -> None:
    value = pack(ms, logical)
    assert unpack(value) == (ms, logical)
    assert value < 1 << 64
    if logical < LOGICAL_MAX:
        assert pack(ms, logical + 1) == value + 1
    if ms < PHYSICAL_MAX_MS:
        assert pack(ms + 1, 0) > value


@pytest.mark.parametrize(
    ("ms", "logical"), [(-1, 0), (PHYSICAL_MAX_MS + 1, 0), (0, -1), (0, 65536)]
)
def test_pack_rejects_out_of_range_parts(ms: int, logical: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        pack(ms, logical)


def test_unix_seconds_is_the_physical_part() -> None:
    assert to_unix_seconds(pack(T0 + 250, 7)) == (T0 + 250) / 1000
    assert physical_ms(pack(T0, 3)) == T0
    with pytest.raises(ValueError, match="64-bit"):
        unpack(-1)


def test_now_follows_the_wall_clock_and_counts_within_a_millisecond() -> None:
    clock = HybridClock("n1", max_offset_ms=500)
    assert clock.now(T0) == pack(T0, 0)
    assert clock.now(T0) == pack(T0, 1)
    assert clock.now(T0 - 10) == pack(T0, 2)  # the wall clock stepped back: keep counting
    assert clock.now(T0 + 1) == pack(T0 + 1, 0)
    assert clock.stamp(T0 + 1) == Stamp(pack(T0 + 1, 1), "n1")
    assert str(Stamp(pack(T0, 4), "n2")) == f"{T0}.4@n2"


def test_logical_overflow_advances_the_physical_part_by_one_millisecond() -> None:
    clock = HybridClock("n1", max_offset_ms=500, floor=pack(T0, LOGICAL_MAX - 1))
    assert clock.now(T0) == pack(T0, LOGICAL_MAX)
    assert clock.stats.logical_overflows == 0
    assert clock.now(T0) == pack(T0 + 1, 0)
    assert clock.stats.logical_overflows == 1
    # The wall clock reaching a new millisecond by itself is not an overflow.
    assert clock.now(T0 + 5) == pack(T0 + 5, 0)
    assert clock.stats.logical_overflows == 1


def test_receive_jumps_past_the_remote_timestamp() -> None:
    clock = HybridClock("n1", max_offset_ms=500)
    clock.now(T0)
    assert clock.observe(pack(T0 + 100, 9), T0, source="peer") == pack(T0 + 100, 10)
    assert clock.observe(pack(T0 - 100, 9), T0, source="client") == pack(T0 + 100, 11)
    stats = clock.stats
    assert (stats.observed_peer, stats.observed_client, stats.max_remote_ahead_ms) == (1, 1, 100)


def test_client_timestamp_beyond_the_tolerated_offset_is_refused_by_name() -> None:
    clock = HybridClock("n1", max_offset_ms=500)
    before = clock.now(T0)
    assert clock.observe(pack(T0 + 500, 0), T0, source="client") == pack(T0 + 500, 1)
    with pytest.raises(ClockOffsetError, match="501 ms ahead") as refused:
        clock.observe(pack(T0 + 1001, 0), T0 + 500, source="client")
    assert refused.value.offset_ms == 501
    assert refused.value.definite
    assert clock.last == pack(T0 + 500, 1) > before  # the refused value was not absorbed
    assert clock.stats.refused_client == 1


def test_peer_timestamp_beyond_the_tolerated_offset_is_clamped_and_counted() -> None:
    clock = HybridClock("n1", max_offset_ms=500)
    value = clock.observe(pack(T0 + 60_000, 3), T0, source="peer")
    assert value == pack(T0 + 500, 1)
    assert clock.stats.clamped_peer == 1
    assert clock.stats.max_remote_ahead_ms == 60_000


def test_malformed_remote_values_are_dropped_from_peers_and_refused_from_clients() -> None:
    clock = HybridClock("n1", max_offset_ms=500)
    assert clock.observe(1 << 64, T0, source="peer") == pack(T0, 0)
    assert clock.stats.malformed_peer == 1
    with pytest.raises(ValueError, match="64-bit"):
        clock.observe(-1, T0, source="client")


def test_constructor_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_offset_ms"):
        HybridClock("n1", max_offset_ms=-1)
    with pytest.raises(ValueError, match="64-bit"):
        HybridClock("n1", max_offset_ms=1, floor=-5)


# -- properties over random interleavings ------------------------------------------------------

now_op = st.tuples(st.just("now"), st.integers(-50, 300))
observe_op = st.tuples(
    st.just("observe"),
    st.integers(-50, 300),  # wall clock step
    st.integers(-3000, 3000),  # remote physical part, relative to our wall clock
    st.integers(0, LOGICAL_MAX),
    st.sampled_from(["peer", "client"]),
)
restart_op = st.tuples(st.just("restart"), st.integers(-20_000, 300))
ops_strategy = st.lists(st.one_of(now_op, observe_op, restart_op), max_size=60)


@dataclass
class Model:
    """The runtime around a clock: persists bounds as `needs_persist` asks, restarts on a floor."""

    clock: HybridClock
    wall_ms: int
    durable: int = 0
    largest_wall_ms: int = 0
    incarnation_wall_ms: int = 0  # the largest wall reading the current clock object was given
    overflows: int = 0  # over all incarnations
    restarts: int = 0

    def persist_if_needed(self, value: int | None) -> None:
        if self.clock.needs_persist(self.wall_ms) or (value is not None and value > self.durable):
            self.durable = self.clock.persist_bound(self.wall_ms)
            self.clock.bound_persisted(self.durable)

    def restart(self) -> None:
        self.overflows += self.clock.stats.logical_overflows
        self.restarts += 1
        self.incarnation_wall_ms = 0
        self.clock = HybridClock("n1", self.clock.max_offset_ms, floor=self.durable)


def run_op(model: Model, op: tuple[object, ...], issued: list[int]) -> None:
    """Apply one op; checks the per-op rules and appends the values that left the node."""
    kind, step = op[0], op[1]
    assert isinstance(step, int)
    model.wall_ms = max(0, model.wall_ms + step)
    model.largest_wall_ms = max(model.largest_wall_ms, model.wall_ms)
    if kind == "restart":
        model.restart()
        return
    model.incarnation_wall_ms = max(model.incarnation_wall_ms, model.wall_ms)
    model.persist_if_needed(None)
    if kind == "now":
        value = model.clock.now(model.wall_ms)
    else:
        rel, logical, source = op[2], op[3], op[4]
        assert isinstance(rel, int)
        assert isinstance(logical, int)
        remote = pack(max(0, model.wall_ms + rel), logical)
        # Refused or clamped: only a value that would move the clock, and only when it is
        # further ahead than the tolerance of the largest wall reading this clock was given.
        high = model.incarnation_wall_ms
        ahead = remote > model.clock.last and physical_ms(remote) - high > model.clock.max_offset_ms
        if ahead and source == "client":
            last = model.clock.last
            with pytest.raises(ClockOffsetError):
                model.clock.observe(remote, model.wall_ms, source="client")
            assert model.clock.last == last
            return
        value = model.clock.observe(
            remote, model.wall_ms, source="peer" if source == "peer" else "client"
        )
        clamp = pack(high + model.clock.max_offset_ms, 0)
        assert value > (clamp if ahead else remote)  # never behind what it observed
    model.persist_if_needed(value)
    assert value <= model.durable  # nothing leaves the node above the durable bound
    issued.append(value)


@given(st.integers(0, 1000), ops_strategy)
def test_hlc_is_monotonic_across_interleavings_and_restarts(
    max_offset_ms: int, ops: list[tuple[object, ...]]
) -> None:
    model = Model(HybridClock("n1", max_offset_ms), wall_ms=T0)
    issued: list[int] = []
    for op in ops:
        run_op(model, op, issued)
    assert issued == sorted(set(issued)), "values must strictly increase, restarts included"


@given(st.integers(0, 1000), ops_strategy)
def test_hlc_stays_within_the_offset_of_the_largest_wall_clock_seen(
    max_offset_ms: int, ops: list[tuple[object, ...]]
) -> None:
    model = Model(HybridClock("n1", max_offset_ms), wall_ms=T0)
    issued: list[int] = []
    for op in ops:
        run_op(model, op, issued)
        if issued:
            overflows = model.overflows + model.clock.stats.logical_overflows
            # A restart floor may be up to a lease ahead of the wall clock (the price of never
            # going backwards), and a crash loop adds at most 1 ms per restart on top.
            lease = model.clock.lease_ms if model.restarts else 0
            slack = max(max_offset_ms, lease) + overflows + model.restarts
            limit = model.largest_wall_ms + slack
            assert physical_ms(issued[-1]) <= limit


def test_a_client_echoing_a_stamp_issued_while_the_clock_ran_fast_is_not_refused() -> None:
    clock = HybridClock("n1", max_offset_ms=500)
    fast = clock.now(T0 + 4000)  # the wall clock ran 4 s fast, then was stepped back
    assert clock.observe(fast, T0, source="client") > fast
    # The largest wall reading stays the reference: 4.4 s ahead of now is within tolerance...
    assert clock.observe(pack(T0 + 4400, 0), T0, source="client") > pack(T0 + 4400, 0)
    # ...4.6 s is not, and neither is anything from a client far beyond the clock's own values.
    with pytest.raises(ClockOffsetError):
        clock.observe(pack(T0 + 4600, 0), T0, source="client")
    fresh = HybridClock("n2", max_offset_ms=500)
    fresh.now(T0)
    with pytest.raises(ClockOffsetError):
        fresh.observe(fast, T0, source="client")


def test_restart_without_the_floor_is_caught_going_backwards() -> None:
    """The restart property can fail: forget the floor and a stepped-back clock repeats values."""
    clock = HybridClock("n1", max_offset_ms=500)
    before = clock.now(T0)
    restarted = HybridClock("n1", max_offset_ms=500)  # floor forgotten
    assert restarted.now(T0 - 1000) <= before
    floored = HybridClock("n1", max_offset_ms=500, floor=clock.persist_bound(T0))
    assert floored.now(T0 - 1000) > before


def test_needs_persist_asks_again_once_half_the_lease_is_used() -> None:
    clock = HybridClock("n1", max_offset_ms=500, lease_ms=1000)
    assert clock.needs_persist(T0)
    clock.bound_persisted(clock.persist_bound(T0))
    assert clock.durable_bound == pack(T0 + 1000, 0)
    assert not clock.needs_persist(T0 + 499)
    assert clock.needs_persist(T0 + 501)
