"""Deliberately broken clock and ordering parts of the simulator (`SimParts`): each breaks one
of the properties of `wiber.sim.ordering`, so that the tests can show the checks notice.

- `raw-clock-stamp`: the leader stamps the raw wall-clock reading instead of its HLC, so a
  clock stepped back (or two publishes in one millisecond) repeat or lower the timestamp.
- `trusts-leader-stamp`: the node gives applied messages the leader's stamp rather than the
  broker's per-topic timestamp (as a runtime delivering `PublishBatch.hlc` instead of
  `Appended.first_hlc` would), so a new leader whose clock is behind goes back in time.
- `releases-early`: a reorder buffer that takes every dependency as satisfied, so it delivers
  in arrival order, unmarked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from wiber.broker import BrokerMessage
from wiber.broker.commands import RawBatch, decode_entry
from wiber.clocks.hlc import HybridClock, pack
from wiber.clocks.reorder import ReorderBuffer
from wiber.sim.machine import BrokerMachine
from wiber.sim.simulator import SimParts


def raw_clock_stamp(clock: HybridClock, now_ms: int, persist: Callable[[], None]) -> int:
    return pack(now_ms, 0)


class TrustsLeaderStamp(BrokerMachine):
    def apply(self, index: int, data: bytes | None) -> tuple[int, ...]:
        offsets = super().apply(index, data)
        if data is not None and self.appended:
            command = decode_entry(data)
            assert isinstance(command, RawBatch)
            self.appended = [replace(a, first_hlc=command.hlc) for a in self.appended]
        return offsets


class ReleasesEarly(ReorderBuffer[BrokerMessage]):
    def _satisfied(self, dep: tuple[str, int]) -> bool:
        return True


def releases_early(max_wait_ms: int, starts: Mapping[str, int]) -> ReorderBuffer[BrokerMessage]:
    return ReleasesEarly(max_wait_ms, starts)


CLOCK_MUTANTS: dict[str, SimParts] = {
    "raw-clock-stamp": SimParts(stamp=raw_clock_stamp),
    "trusts-leader-stamp": SimParts(machine=TrustsLeaderStamp),
    "releases-early": SimParts(reorder=releases_early),
}
