"""Clock-offset estimation: synthetic four-timestamp exchanges between our clock (the reference)
and a peer clock with a true offset, drift, and random asymmetric delays. The estimate's error
bound must always contain the true offset, for every peer and for the cluster median."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wiber.clocks.offset import Estimate, OffsetEstimator, Sample

T0 = 1_700_000_000_000_000  # our clock, in us


@dataclass(frozen=True)
class PeerClock:
    offset_us: int  # peer minus us at T0
    drift_ppm: float  # how fast the peer's clock runs relative to ours

    def truth(self, t: int) -> float:
        return self.offset_us + self.drift_ppm * 1e-6 * (t - T0)

    def read(self, t: int) -> int:
        return math.floor(t + self.truth(t))  # a clock reading is truncated to whole us


def exchange(peer: PeerClock, t1: int, d1: int, processing: int, d2: int) -> tuple[int, ...]:
    arrive = t1 + d1
    leave = arrive + processing
    return t1, peer.read(arrive), peer.read(leave), leave + d2


exchanges = st.lists(
    st.tuples(
        st.integers(0, 2_000_000),  # gap before this exchange
        st.integers(5, 50_000),  # d1
        st.integers(0, 2_000),  # processing at the peer
        st.integers(5, 50_000),  # d2
    ),
    min_size=1,
    max_size=30,
)
peers = st.builds(
    PeerClock, st.integers(-10_000_000, 10_000_000), st.floats(-200, 200, allow_nan=False)
)


@given(peers, exchanges, st.integers(1, 8), st.integers(0, 5_000_000))
def test_estimate_bound_always_contains_the_true_offset(
    peer: PeerClock, rounds: list[tuple[int, int, int, int]], window: int, later_us: int
) -> None:
    estimator = OffsetEstimator(window=window, drift_ppm=200)
    t = T0
    for gap, d1, processing, d2 in rounds:
        t1, t2, t3, t4 = exchange(peer, t + gap, d1, processing, d2)
        assert estimator.add("n2", t1, t2, t3, t4) is not None
        t = t4
        estimate = estimator.estimate("n2")
        assert estimate is not None
        assert estimate.contains(peer.truth(t)), (estimate, peer.truth(t))
        aged = estimator.estimate("n2", now_us=t + later_us)
        assert aged is not None
        assert aged.contains(peer.truth(t + later_us))
    assert estimator.stats.steps == 0  # drift within the allowance is never taken for a step


def test_without_a_drift_allowance_the_bound_misses_a_drifting_clock() -> None:
    """The containment property can fail: ignore drift and an old sample lies."""
    peer = PeerClock(offset_us=1_000, drift_ppm=200)
    estimator = OffsetEstimator(window=8, drift_ppm=0)
    estimator.add("n2", *exchange(peer, T0, 10, 0, 10))
    estimate = estimator.estimate("n2", now_us=T0 + 60_000_000)
    assert estimate is not None
    assert not estimate.contains(peer.truth(T0 + 60_000_000))


def test_minimum_delay_sample_wins_within_the_window() -> None:
    peer = PeerClock(offset_us=5_000, drift_ppm=0)
    estimator = OffsetEstimator(window=3, drift_ppm=0)
    estimator.add("n2", *exchange(peer, T0, 100, 0, 9_900))  # asymmetric: offset off by 4.9 ms
    estimator.add("n2", *exchange(peer, T0 + 1_000_000, 50, 0, 50))  # the precise one
    estimator.add("n2", *exchange(peer, T0 + 2_000_000, 9_000, 0, 1_000))
    best = estimator.estimate("n2")
    assert best is not None
    assert (best.offset_us, best.delay_us, best.samples) == (5_000, 100, 3)
    assert best.error_us == 52  # delay/2 + the resolution slack
    for i in range(3):  # the precise sample slides out of the window
        estimator.add("n2", *exchange(peer, T0 + (3 + i) * 1_000_000, 4_000, 0, 2_000))
    after = estimator.estimate("n2")
    assert after is not None
    assert after.delay_us == 6_000
    assert after.offset_us == 6_000
    assert after.contains(5_000)


def test_a_clock_step_is_detected_and_followed_at_once() -> None:
    estimator = OffsetEstimator(window=8, drift_ppm=200)
    before = PeerClock(offset_us=0, drift_ppm=0)
    for i in range(5):
        estimator.add("n2", *exchange(before, T0 + i * 100_000, 100, 10, 100))
    stepped = PeerClock(offset_us=3_000_000, drift_ppm=0)  # someone set the peer 3 s ahead
    estimator.add("n2", *exchange(stepped, T0 + 600_000, 2_000, 10, 2_000))
    estimate = estimator.estimate("n2")
    assert estimate is not None
    assert estimate.contains(3_000_000)
    assert estimator.stats.steps == 1
    assert estimate.samples == 1


@pytest.mark.parametrize(
    "times",
    [
        (T0, T0 + 5, T0 + 6, T0 - 1),  # our clock ran backwards during the exchange
        (T0, T0 + 50, T0 + 40, T0 + 100),  # the reply left before the request arrived
        (T0, T0 + 10, T0 + 500, T0 + 100),  # the peer took longer than the round trip
    ],
)
def test_impossible_exchanges_are_rejected_and_counted(times: tuple[int, int, int, int]) -> None:
    estimator = OffsetEstimator()
    assert estimator.add("n2", *times) is None
    assert estimator.stats.rejected == 1
    assert estimator.estimate("n2") is None


@given(st.lists(peers, min_size=0, max_size=6), st.integers(5, 5_000))
def test_cluster_offset_contains_our_offset_from_the_median_clock(
    cluster: list[PeerClock], delay: int
) -> None:
    estimator = OffsetEstimator(drift_ppm=200)
    for i, peer in enumerate(cluster):
        estimator.add(f"n{i}", *exchange(peer, T0, delay, 100, delay * 2))
    view = estimator.cluster_offset()
    truth = -statistics.median([0.0, *(p.truth(T0) for p in cluster)])
    assert view.contains(truth)
    assert view.samples == len(cluster) + 1


def test_a_skewed_node_sees_itself_ahead_and_warns_about_nobody_else() -> None:
    # We are 5 s ahead of both peers: they look 5 s behind, and the cluster says we are ahead.
    estimator = OffsetEstimator()
    for peer in ("n2", "n3"):
        estimator.add(peer, *exchange(PeerClock(-5_000_000, 0), T0, 200, 50, 200))
    view = estimator.cluster_offset()
    assert view.contains(5_000_000)
    assert view.offset_ms == pytest.approx(5_000, abs=1)
    assert view.certainly_exceeds(1_000_000)
    # From a healthy node's side, only the skewed peer is named.
    healthy = OffsetEstimator()
    healthy.add("n1", *exchange(PeerClock(5_000_000, 0), T0, 200, 50, 200))
    healthy.add("n3", *exchange(PeerClock(0, 0), T0, 200, 50, 200))
    assert healthy.peers_beyond(1_000_000) == ("n1",)
    assert healthy.cluster_offset().contains(0)


def test_estimate_helpers() -> None:
    e = Estimate(offset_us=1_500, error_us=500)
    assert (e.offset_ms, e.error_ms, e.low_us, e.high_us) == (1.5, 0.5, 1_000, 2_000)
    assert e.certainly_exceeds(999)
    assert not e.certainly_exceeds(1_000)
    assert e.possibly_exceeds(1_999)
    assert not e.possibly_exceeds(2_000)
    assert Estimate(offset_us=-1_500, error_us=500).certainly_exceeds(999)
    sample = Sample(0, 1_100, 1_200, 400)
    assert (sample.offset_us, sample.delay_us) == (950.0, 300)


def test_empty_and_forgotten_peers() -> None:
    estimator = OffsetEstimator()
    assert estimator.cluster_offset() == Estimate(0.0, 0.0, 0.0, 1)
    estimator.add("n2", T0, T0 + 10, T0 + 11, T0 + 21)
    assert estimator.peers() == ("n2",)
    estimator.forget("n2")
    assert estimator.estimate("n2") is None
    with pytest.raises(ValueError, match="window"):
        OffsetEstimator(window=0)
