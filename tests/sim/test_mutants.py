"""The checks can fail: each broken core of tests/mutants.py is caught within a bounded number
of seeds, by the property it breaks."""

from __future__ import annotations

import pytest

from tests.mutants import MUTANTS
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
