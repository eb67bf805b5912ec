"""NTP-style clock-offset estimation between brokers.

Theory of operation. Heartbeats carry a four-timestamp exchange, all in integer microseconds
of the clock of whoever read them:

    t1  we send the request            (our clock)
    t2  the peer receives it           (peer's clock)
    t3  the peer sends the reply       (peer's clock)
    t4  we receive the reply           (our clock)

Writing theta for "peer clock minus our clock" and d1, d2 for the one-way delays,

    offset = ((t2 - t1) + (t3 - t4)) / 2 = theta + (d1 - d2) / 2
    delay  = (t4 - t1) - (t3 - t2)       = d1 + d2

so ``|offset - theta| <= delay / 2`` whatever the asymmetry: the sample with the smallest
delay is the most trustworthy. `OffsetEstimator` keeps the last `window` samples per peer and
estimates from the minimum-delay one. Clocks also drift (the rate of each differs by up to
`drift_ppm` parts per million), so the error bound grows with the age of that sample:

    error = delay / 2 + 2 * drift_ppm * 1e-6 * (now - t1) + 2 us

Why factor 2: take our clock as the reference and the peer's as ``t + theta(t)`` with
``|theta'| <= rho``. The request arrives at a, the reply leaves at b (a <= b). Then
``offset = (theta(a) + theta(b))/2 + (d1 - d2)/2``, the measured delay undercounts d1 + d2 by
at most ``rho (b - a)``, and theta moves by at most ``rho (now - t1)`` from a or b to now;
summing gives at most ``delay/2 + 1.5 rho (now - t1)``. Readings are whole microseconds, each
truncated by less than 1 us, which moves offset by less than 1 us and delay/2 by less than
1 us: `RESOLUTION_SLACK_US` adds those 2 us.

A clock *step* (someone set the time) breaks that model. When the newest sample's interval
[offset - error, offset + error] is disjoint from the current best's, at least one of them
cannot contain the truth, and the newer is the one to believe: the older samples are dropped
(`OffsetStats.steps`). Steps smaller than the error bounds cannot be told
from noise; the window makes them age out after `window` exchanges.

The cluster view (`cluster_offset`) takes the median of all clocks (ours counts as offset 0),
with bounds [median of lower bounds, median of upper bounds]; the median is monotone in every
argument, so if each peer's interval holds its truth, that interval holds the median truth.
It is reported as *our* offset from the cluster: positive means our clock is ahead.

Microseconds are pinned because loopback and LAN round trips are far below a millisecond;
`Estimate.offset_ms` converts for `wiber cluster status` (DESIGN 4.7, `clock_offset_ms`).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Final

DEFAULT_WINDOW: Final = 8
DEFAULT_DRIFT_PPM: Final = 200  # two commodity clocks at 100 ppm each, in opposite directions
RESOLUTION_SLACK_US: Final = 2


@dataclass(frozen=True, slots=True)
class Sample:
    """One four-timestamp exchange, in microseconds."""

    t1: int
    t2: int
    t3: int
    t4: int

    @property
    def offset_us(self) -> float:
        """Peer clock minus our clock, as this exchange measured it."""
        # Differences of us timestamps are small ints, so /2 is exact in a float.
        return ((self.t2 - self.t1) + (self.t3 - self.t4)) / 2

    @property
    def delay_us(self) -> int:
        """Round-trip time spent on the network (the peer's processing time excluded)."""
        return (self.t4 - self.t1) - (self.t3 - self.t2)


@dataclass(frozen=True, slots=True)
class Estimate:
    """An offset (peer minus us, or us minus cluster) and a bound on its error, in us."""

    offset_us: float
    error_us: float
    delay_us: float = 0.0
    samples: int = 1

    @property
    def offset_ms(self) -> float:
        return self.offset_us / 1000.0

    @property
    def error_ms(self) -> float:
        return self.error_us / 1000.0

    @property
    def low_us(self) -> float:
        return self.offset_us - self.error_us

    @property
    def high_us(self) -> float:
        return self.offset_us + self.error_us

    def contains(self, offset_us: float) -> bool:
        """True when `offset_us` lies within the error bound."""
        return self.low_us <= offset_us <= self.high_us

    def certainly_exceeds(self, limit_us: float) -> bool:
        """True when even the most favourable reading is further than `limit_us` from 0."""
        return self.low_us > limit_us or self.high_us < -limit_us

    def possibly_exceeds(self, limit_us: float) -> bool:
        """True when some reading within the bound is further than `limit_us` from 0."""
        return self.high_us > limit_us or self.low_us < -limit_us


@dataclass(slots=True)
class OffsetStats:
    accepted: int = 0
    rejected: int = 0  # impossible exchanges (negative delay or time running backwards)
    steps: int = 0  # clock steps detected: older samples dropped


@dataclass(slots=True)
class _PeerWindow:
    samples: deque[Sample]
    latest_t4: int = field(default=0)


class OffsetEstimator:
    """Per-peer minimum-delay filters over sliding windows of exchanges."""

    def __init__(self, window: int = DEFAULT_WINDOW, drift_ppm: float = DEFAULT_DRIFT_PPM) -> None:
        if window < 1 or drift_ppm < 0:
            raise ValueError("window must be >= 1 and drift_ppm >= 0")
        self.window = window
        self.drift_ppm = drift_ppm
        self.stats = OffsetStats()
        self._peers: dict[str, _PeerWindow] = {}

    def add(self, peer: str, t1: int, t2: int, t3: int, t4: int) -> Sample | None:
        """Record one exchange; returns the sample, or None when it is impossible.

        An exchange is impossible when our clock ran backwards between send and receive, the
        peer's reply left before the request arrived, or the peer's processing took longer
        than the whole round trip: all signs of a clock step mid-exchange or of bad input.
        """
        sample = Sample(t1, t2, t3, t4)
        if t4 < t1 or t3 < t2 or sample.delay_us < 0:
            self.stats.rejected += 1
            return None
        state = self._peers.setdefault(peer, _PeerWindow(deque(maxlen=self.window)))
        if state.samples and t4 >= state.latest_t4:
            best = _min_delay(state.samples)
            if _disjoint(self._bound(best, t4), self._bound(sample, t4)):
                state.samples.clear()
                self.stats.steps += 1
        state.samples.append(sample)
        state.latest_t4 = max(state.latest_t4, t4)
        self.stats.accepted += 1
        return sample

    def estimate(self, peer: str, now_us: int | None = None) -> Estimate | None:
        """The peer's offset (peer clock minus ours) with its error bound, or None if unknown.

        `now_us` (our clock) ages the bound for drift; by default the latest exchange's t4.
        """
        state = self._peers.get(peer)
        if state is None or not state.samples:
            return None
        now = state.latest_t4 if now_us is None else max(now_us, state.latest_t4)
        best = _min_delay(state.samples)
        return Estimate(
            offset_us=best.offset_us,
            error_us=self._error(best, now),
            delay_us=float(best.delay_us),
            samples=len(state.samples),
        )

    def peers(self) -> tuple[str, ...]:
        return tuple(sorted(self._peers))

    def forget(self, peer: str) -> None:
        """Drop a peer's samples (it left the cluster, or restarted with a new clock)."""
        self._peers.pop(peer, None)

    def cluster_offset(self, now_us: int | None = None) -> Estimate:
        """Our clock minus the median of the cluster's clocks (ours included), with a bound.

        With no peer estimates yet this is exactly 0: we are the whole cluster we know of.
        """
        estimates = [e for p in self.peers() if (e := self.estimate(p, now_us)) is not None]
        lows = [0.0, *(e.low_us for e in estimates)]
        highs = [0.0, *(e.high_us for e in estimates)]
        # We are the reference: our offset from the cluster is minus the cluster's from us.
        low, high = -statistics.median(highs), -statistics.median(lows)
        return Estimate(
            offset_us=(low + high) / 2,
            error_us=(high - low) / 2,
            delay_us=0.0,
            samples=len(estimates) + 1,
        )

    def peers_beyond(self, max_offset_us: float, now_us: int | None = None) -> tuple[str, ...]:
        """Peers whose offset from us certainly exceeds `max_offset_us` (for the warning)."""
        return tuple(
            p
            for p in self.peers()
            if (e := self.estimate(p, now_us)) is not None and e.certainly_exceeds(max_offset_us)
        )

    def _error(self, sample: Sample, now_us: int) -> float:
        drift = 2 * self.drift_ppm * 1e-6 * (now_us - sample.t1)
        return sample.delay_us / 2 + drift + RESOLUTION_SLACK_US

    def _bound(self, sample: Sample, now_us: int) -> tuple[float, float]:
        error = self._error(sample, now_us)
        return sample.offset_us - error, sample.offset_us + error


def _min_delay(samples: deque[Sample]) -> Sample:
    # Ties go to the newest sample: equally precise, and less drift since.
    return min(reversed(samples), key=lambda s: s.delay_us)


def _disjoint(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] < b[0] or b[1] < a[0]
