"""Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014).

Theory of operation. A timestamp is one 64-bit integer: wall-clock milliseconds in the high 48
bits and a logical counter in the low 16 (DESIGN 4.8), so comparing timestamps is comparing
ints. The stamping node's id travels beside the value (`Stamp`) and breaks ties when a total
order is needed.

With timestamps packed this way the paper's two rules collapse into one line each:

- local or send event:  ``new = max(last + 1, pack(pt, 0))``
- receive event:        ``new = max(last + 1, remote + 1, pack(pt, 0))``

``+ 1`` bumps the logical counter; when the counter is already 65535 the carry moves into the
physical part, so the clock advances its physical part by 1 ms and restarts the counter at 0.
That is the documented overflow rule: the timestamp stays unique and monotonic at the price of
running up to 1 ms ahead of the wall clock per 65536 events in one millisecond (counted in
`HlcStats.logical_overflows`).

Bounded skew. A remote timestamp whose physical part is more than `max_offset_ms` ahead of the
largest wall-clock reading this clock was given would drag it into the future. From a client
it is refused (`ClockOffsetError`, nothing changes); from a peer it is clamped to
``high + max_offset_ms`` and counted, because Raft's liveness must never depend on clocks.
A remote value at or below the clock's own last value is never refused: merging it moves
nothing (a client echoing a stamp this node issued while its wall clock ran fast must not be
turned away once the clock is stepped back). Hence the physical part of every value this clock
issues stays within ``max_offset_ms`` (plus overflow carries) of the largest wall-clock reading
it was given, or of its restart floor.

Restarts. `persist_bound()` names a value above anything issued so far and a lease ahead of
the wall clock; the runtime persists it, reports it back with `bound_persisted()`, and passes
the last persisted bound as `floor` when the node restarts. Every value issued after a restart
is then greater than the floor, hence greater than anything issued before the crash, provided
the runtime never lets a value above the durable bound leave the node before a newer bound is
durable (`needs_persist()` says when to persist the next one, ahead of need).

Wall-clock time is always an argument: this module reads no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from wiber.invariant import invariant

LOGICAL_BITS: Final = 16
LOGICAL_MAX: Final = (1 << LOGICAL_BITS) - 1
PHYSICAL_MAX_MS: Final = (1 << (64 - LOGICAL_BITS)) - 1
HLC_MAX: Final = (1 << 64) - 1
DEFAULT_LEASE_MS: Final = 10_000

Source = Literal["peer", "client"]


def pack(physical_ms: int, logical: int) -> int:
    """The HLC value for wall-clock `physical_ms` and logical counter `logical`."""
    if not 0 <= physical_ms <= PHYSICAL_MAX_MS:
        raise ValueError(f"physical part {physical_ms} ms is outside [0, {PHYSICAL_MAX_MS}]")
    if not 0 <= logical <= LOGICAL_MAX:
        raise ValueError(f"logical counter {logical} is outside [0, {LOGICAL_MAX}]")
    return (physical_ms << LOGICAL_BITS) | logical


def unpack(value: int) -> tuple[int, int]:
    """Split an HLC value into (physical milliseconds, logical counter)."""
    _check_value(value)
    return value >> LOGICAL_BITS, value & LOGICAL_MAX


def physical_ms(value: int) -> int:
    """The physical part of an HLC value, in milliseconds since the Unix epoch."""
    return unpack(value)[0]


def to_unix_seconds(value: int) -> float:
    """The physical part as float Unix seconds: the `ts` of the seed line protocol (DESIGN 4.1)."""
    return physical_ms(value) / 1000.0


def _check_value(value: int) -> None:
    if not 0 <= value <= HLC_MAX:
        raise ValueError(f"HLC value {value} is not a 64-bit unsigned integer")


class ClockOffsetError(Exception):
    """A client's timestamp is further ahead of this node's clock than tolerated.

    The operation was refused before it changed anything, so the refusal is definite.
    """

    definite: Final = True

    def __init__(self, *, remote: int, local_physical_ms: int, max_offset_ms: int) -> None:
        self.remote = remote
        self.local_physical_ms = local_physical_ms
        self.max_offset_ms = max_offset_ms
        self.offset_ms = physical_ms(remote) - local_physical_ms
        super().__init__(
            f"clock offset refused: the client's timestamp is {self.offset_ms} ms ahead of this "
            f"node's clock (tolerated: {max_offset_ms} ms); check the client's clock"
        )


@dataclass(frozen=True, slots=True, order=True)
class Stamp:
    """An HLC value with the id of the node that issued it; ordered by value, then node id."""

    hlc: int
    node: str

    def __str__(self) -> str:
        ms, logical = unpack(self.hlc)
        return f"{ms}.{logical}@{self.node}"


@dataclass(slots=True)
class HlcStats:
    """Counters for metrics and for the skew metadata carried in messages."""

    issued: int = 0  # values returned by now() and observe()
    observed_peer: int = 0
    observed_client: int = 0
    clamped_peer: int = 0  # peer timestamps beyond max_offset_ms, clamped
    refused_client: int = 0  # client timestamps beyond max_offset_ms, refused
    malformed_peer: int = 0  # peer values that are not 64-bit HLC values, ignored
    logical_overflows: int = 0  # counter carries into the physical part
    max_remote_ahead_ms: int = 0  # the furthest any remote timestamp was ahead of our clock

    def copy(self) -> HlcStats:
        return replace(self)


class HybridClock:
    """One node's hybrid logical clock. Not thread-safe: the runtime owns it."""

    def __init__(
        self,
        node_id: str,
        max_offset_ms: int,
        floor: int = 0,
        *,
        lease_ms: int = DEFAULT_LEASE_MS,
    ) -> None:
        """Args:
        node_id: the id stamped beside every value (`stamp()`).
        max_offset_ms: how far ahead of our wall clock a remote timestamp may be.
        floor: the last durable bound from before a restart; every value issued is above it.
        lease_ms: how far ahead of the clock `persist_bound()` reaches.
        """
        if max_offset_ms < 0 or lease_ms <= 0:
            raise ValueError("max_offset_ms must be >= 0 and lease_ms > 0")
        _check_value(floor)
        self.node_id = node_id
        self.max_offset_ms = max_offset_ms
        self.lease_ms = lease_ms
        self._last = floor
        self._durable_bound = floor
        self._wall_high_ms = 0  # the largest wall-clock reading given to this incarnation
        self._stats = HlcStats()

    @property
    def last(self) -> int:
        """The largest value issued so far (or the floor, before the first one)."""
        return self._last

    @property
    def stats(self) -> HlcStats:
        """A snapshot of the counters (later events do not change it)."""
        return self._stats.copy()

    def now(self, physical_ms: int) -> int:
        """A fresh value for a local or send event, given the wall clock in ms."""
        return self._advance(self._candidate(physical_ms), physical_ms)

    def stamp(self, physical_ms: int) -> Stamp:
        """`now()` with this node's id beside it."""
        return Stamp(self.now(physical_ms), self.node_id)

    def observe(self, remote: int, physical_ms: int, *, source: Source) -> int:
        """Merge a received timestamp (a receive event) and return the new value.

        Raises:
            ClockOffsetError: a client's timestamp is more than max_offset_ms ahead.
            ValueError: a client's value is not a 64-bit HLC value.
        """
        candidate = self._candidate(physical_ms)
        if not 0 <= remote <= HLC_MAX:
            if source == "client":
                raise ValueError(f"client timestamp {remote} is not a 64-bit HLC value")
            self._stats.malformed_peer += 1
            return self._advance(candidate, physical_ms)
        ahead_ms = (remote >> LOGICAL_BITS) - physical_ms
        self._stats.max_remote_ahead_ms = max(self._stats.max_remote_ahead_ms, ahead_ms)
        high_ms = max(physical_ms, self._wall_high_ms)
        if remote > self._last and (remote >> LOGICAL_BITS) - high_ms > self.max_offset_ms:
            remote = self._refuse_or_clamp(remote, high_ms, source)
        if source == "client":
            self._stats.observed_client += 1
        else:
            self._stats.observed_peer += 1
        return self._advance(max(candidate, remote + 1), physical_ms)

    def persist_bound(self, physical_ms: int) -> int:
        """The value to persist now: above everything issued, and a lease ahead of the clock.

        The lease is counted from the wall clock, not from the last value: after a restart
        the last value is the floor, itself up to a lease ahead, and counting from it would
        push the clock another lease into the future on every restart of a crash loop. While
        the clock runs ahead of the wall clock the bound covers only the next millisecond,
        so a crash loop costs about 1 ms per restart.
        """
        bound_ms = max(physical_ms + self.lease_ms, (self._last >> LOGICAL_BITS) + 1)
        return pack(min(bound_ms, PHYSICAL_MAX_MS), 0)

    def bound_persisted(self, bound: int) -> None:
        """The runtime made `bound` durable; values up to it may now leave the node."""
        _check_value(bound)
        self._durable_bound = max(self._durable_bound, bound)

    @property
    def durable_bound(self) -> int:
        return self._durable_bound

    def needs_persist(self, physical_ms: int) -> bool:
        """True once the clock has used half its lease: time to persist a new bound.

        Checked on every tick, this keeps fsync off the stamping path. It cannot promise that
        every value stays below the durable bound (a peer may push the clock up to
        max_offset_ms ahead), so before a value leaves the node the runtime still checks
        ``value <= durable_bound`` and persists a new bound first when it is not.
        """
        half_lease = pack(min(physical_ms + self.lease_ms // 2, PHYSICAL_MAX_MS), 0)
        return max(self._last, half_lease) > self._durable_bound

    def _candidate(self, physical_ms: int) -> int:
        invariant(
            0 <= physical_ms <= PHYSICAL_MAX_MS,
            f"wall clock reading {physical_ms} ms is outside the HLC range",
        )
        self._wall_high_ms = max(self._wall_high_ms, physical_ms)
        return max(self._last + 1, physical_ms << LOGICAL_BITS)

    def _refuse_or_clamp(self, remote: int, physical_ms: int, source: Source) -> int:
        if source == "client":
            self._stats.refused_client += 1
            raise ClockOffsetError(
                remote=remote, local_physical_ms=physical_ms, max_offset_ms=self.max_offset_ms
            )
        self._stats.clamped_peer += 1
        return (physical_ms + self.max_offset_ms) << LOGICAL_BITS

    def _advance(self, value: int, physical_ms: int) -> int:
        invariant(value <= HLC_MAX, "hybrid logical clock overflowed 64 bits")
        invariant(value > self._last, "hybrid logical clock would not advance")
        # A zero counter that the wall clock did not supply came from a carry out of 65535.
        if value & LOGICAL_MAX == 0 and value != physical_ms << LOGICAL_BITS:
            self._stats.logical_overflows += 1
        self._stats.issued += 1
        self._last = value
        return value
