"""The checks can fail: each broken core of tests/mutants.py, and each broken clock or ordering
part of tests/sim/clock_mutants.py, is caught within a bounded number of seeds, by the property
it breaks."""

from __future__ import annotations

import pytest

from tests.mutants import MUTANTS
from tests.sim.clock_mutants import CLOCK_MUTANTS
from wiber.sim.ordering import CAUSAL_DELIVERY, HLC_MONOTONIC, TIMESTAMP_MONOTONIC
from wiber.sim.simulator import simulate

SEED_BOUND = 40  # measured: each mutant is caught by seed 6 at the latest

EXPECTED = {
    "commits-previous-term": "Leader Commits Current Term",
    "double-vote": "One Vote Per Term",
    "forgets-to-persist-vote": "Persist Before Send",
    "applies-before-commit": "State Machine Safety",
}


def test_every_mutant_has_an_expected_property() -> None:
    assert set(EXPECTED) == set(MUTANTS)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_simulator_catches_the_mutant_by_name(name: str) -> None:
    for seed in range(SEED_BOUND):
        result = simulate(seed, nodes=3, time=2.0, core_factory=MUTANTS[name])
        if result.violation is not None:
            assert result.violation.property == EXPECTED[name], (seed, result.violation)
            assert result.trace, "a failing seed comes with the trace of its last events"
            return
    pytest.fail(f"{name} survived {SEED_BOUND} seeds")


# Broken clock and ordering parts (tests/sim/clock_mutants.py), run with the causal workload
# under the clock nemesis and leadership transfers: a skewed clock matters when leaders change.
CLOCK_SEED_BOUND = 20  # measured: each is caught at seed 0 (20 of the first 30 seeds catch
# trusts-leader-stamp, every one of them the other two)
CLOCK_FAULTS = "clock,transfer"

CLOCK_EXPECTED = {
    "raw-clock-stamp": HLC_MONOTONIC,
    "trusts-leader-stamp": TIMESTAMP_MONOTONIC,
    "releases-early": CAUSAL_DELIVERY,
}


def test_every_clock_mutant_has_an_expected_property() -> None:
    assert set(CLOCK_EXPECTED) == set(CLOCK_MUTANTS)


@pytest.mark.parametrize("name", sorted(CLOCK_MUTANTS))
def test_the_simulator_catches_the_clock_mutant_by_name(name: str) -> None:
    for seed in range(CLOCK_SEED_BOUND):
        result = simulate(
            seed, time=1.0, faults=CLOCK_FAULTS, causal=True, parts=CLOCK_MUTANTS[name]
        )
        if result.violation is not None:
            assert result.violation.property == CLOCK_EXPECTED[name], (seed, result.violation)
            return
    pytest.fail(f"{name} survived {CLOCK_SEED_BOUND} seeds")


def test_the_same_seeds_pass_with_the_real_parts() -> None:
    for seed in range(3):
        result = simulate(seed, time=1.0, faults=CLOCK_FAULTS, causal=True)
        assert result.ok, (seed, result.violation)
