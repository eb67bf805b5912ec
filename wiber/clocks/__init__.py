"""wiber.clocks: time and ordering, all pure (wall-clock readings are arguments).

- `hlc`: the hybrid logical clock stamped on every message (DESIGN 4.8).
- `lamport`, `vector`: logical clocks; `causal`: a client's causal context -> publish deps.
- `offset`: NTP-style clock-offset estimation between brokers.
- `reorder`: the consumer-side causal reorder buffer.
"""

from wiber.clocks.causal import CausalContext
from wiber.clocks.hlc import (
    ClockOffsetError,
    HlcStats,
    HybridClock,
    Stamp,
    pack,
    physical_ms,
    to_unix_seconds,
    unpack,
)
from wiber.clocks.lamport import LamportClock
from wiber.clocks.offset import Estimate, OffsetEstimator, Sample
from wiber.clocks.reorder import Delivered, Mark, Message, ReorderBuffer
from wiber.clocks.vector import Order, VectorClock

__all__ = [
    "CausalContext",
    "ClockOffsetError",
    "Delivered",
    "Estimate",
    "HlcStats",
    "HybridClock",
    "LamportClock",
    "Mark",
    "Message",
    "OffsetEstimator",
    "Order",
    "ReorderBuffer",
    "Sample",
    "Stamp",
    "VectorClock",
    "pack",
    "physical_ms",
    "to_unix_seconds",
    "unpack",
]
