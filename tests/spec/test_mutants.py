"""No invariant is vacuous: each mutated spec makes TLC report exactly the invariant or
property its bug breaks. The mutants run two at a time (TLC's start-up dominates them)."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest

from spec.tlc_output import TlcResult
from spec.tlc_runner import TlcOptions, run_tlc
from tests.spec.mutants import ALL_MUTANTS, INVARIANT, Mutant

pytestmark = pytest.mark.usefixtures("tlc_available")


def _run(mutant: Mutant, root: Path) -> TlcResult:
    folder = root / mutant.name
    folder.mkdir()
    spec = folder / f"{mutant.module}.tla"
    spec.write_text(mutant.mutated_source())
    config = folder / "Mutant.cfg"
    config.write_text(mutant.config())
    return run_tlc(TlcOptions(spec=spec, config=config, workers=1, timeout=300))


@pytest.fixture(scope="module")
def mutant_results(
    tmp_path_factory: pytest.TempPathFactory, tlc_available: None
) -> dict[str, TlcResult]:
    root = tmp_path_factory.mktemp("mutants")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {m.name: pool.submit(_run, m, root) for m in ALL_MUTANTS}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("mutant", ALL_MUTANTS, ids=lambda m: m.name)
def test_mutant_violates_its_target(mutant: Mutant, mutant_results: dict[str, TlcResult]) -> None:
    result = mutant_results[mutant.name]
    assert result.verdict == "violation", result.errors or result.output[-2000:]
    assert result.violated == mutant.target
    expected_kind = "invariant" if mutant.kind == INVARIANT else "action-property"
    assert result.violation_kind == expected_kind
    assert result.trace  # a counterexample from the initial state on
    assert result.trace[0].action == "Initial predicate"


def test_every_invariant_and_property_has_a_mutant() -> None:
    raft = (Path(__file__).resolve().parents[2] / "spec" / "Raft.tla").read_text()
    targets = {m.target for m in ALL_MUTANTS}
    required = {
        "TypeOK",
        "ElectionSafety",
        "LogMatching",
        "LeaderCompleteness",
        "StateMachineSafety",
        "CommitIndexBound",
        "AckedValueNotLost",
        "ReadIndexLinearizable",
        "MonotonicTerm",
        "LeaderAppendOnly",
        "CommittedLogAppendOnly",
        "MonotonicCommitIndex",
        "MonotonicMatchIndex",
        "TopicOrder",
        "ConsumerPrefix",
        "OffsetsDense",
        "OffsetsImmutable",
        "NoDuplicateAppend",
        "ProducerFIFO",
        "AckedDurable",
        "CausalDelivery",
        "HLCMonotone",
    }
    assert required <= targets, required - targets
    for name in required & {"ElectionSafety", "LogMatching", "MonotonicTerm"}:
        assert f"\n{name} ==" in raft


def test_a_mutant_that_no_longer_applies_is_refused() -> None:
    stale = Mutant("stale", "Raft", "TypeOK", INVARIANT, (("no such text", "x"),))
    with pytest.raises(ValueError, match="occurs 0 times"):
        stale.mutated_source()
