"""Simulated wall clocks, and the leader's HLC stamping rule shared with the runtime.

Each node reads "wall time" from its own `SimClock`: virtual time, plus a small base offset and
a drift drawn from the seed (an NTP-synced fleet), plus whatever offset the clock nemesis set.
Raft never reads these clocks (its timers are ticks); only the hybrid logical clock does, when
a leader stamps a publish, so a clock fault can change timestamps and nothing else.

`stamp_like_runtime` is the runtime's stamping step (`wiber.runtime.node.Node.publish`): persist
a new HLC bound when half the lease is used, then take `HybridClock.now`. The simulator calls it
through `SimParts.stamp` so that a test can swap in a broken one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from wiber.clocks.hlc import HybridClock

# Virtual time 0 is this Unix time, so that a clock stepped back by seconds stays positive.
EPOCH_MS = 1_700_000_000_000
BASE_OFFSET_MS = 20  # the most a healthy node's clock is off
MAX_DRIFT_PPM = 200


@dataclass
class SimClock:
    base_offset_ms: int = 0
    drift_ppm: int = 0
    fault_offset_ms: int = 0  # set by the clock nemesis; 0 when healthy

    @classmethod
    def drawn(cls, rng: random.Random) -> SimClock:
        return cls(
            rng.randint(-BASE_OFFSET_MS, BASE_OFFSET_MS),
            rng.randint(-MAX_DRIFT_PPM, MAX_DRIFT_PPM),
        )

    def reading_ms(self, now_us: int) -> int:
        """Wall-clock milliseconds at virtual time `now_us`."""
        drifted_us = now_us + now_us * self.drift_ppm // 1_000_000
        return EPOCH_MS + drifted_us // 1000 + self.base_offset_ms + self.fault_offset_ms

    @property
    def skewed(self) -> bool:
        return self.fault_offset_ms != 0

    def reset(self) -> None:
        self.fault_offset_ms = 0


# (clock, wall-clock ms, persist a new bound now) -> the HLC value to stamp.
Stamper = Callable[[HybridClock, int, Callable[[], None]], int]


def stamp_like_runtime(clock: HybridClock, now_ms: int, persist: Callable[[], None]) -> int:
    if clock.needs_persist(now_ms):
        persist()
    return clock.now(now_ms)
