"""TLC checks the shipped configurations: exhaustively for the CI models, by seeded random
simulation for the all-features model. Distinct-state counts are pinned loosely so that a
change that silently shrinks a model (a bound or guard that disables half the spec) fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec.tlc_output import TlcResult
from spec.tlc_runner import TlcOptions, run_tlc

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"

pytestmark = pytest.mark.usefixtures("tlc_available")


def check(module: str, config: str, **options: object) -> TlcResult:
    spec = SPEC_DIR / f"{module}.tla"
    result = run_tlc(TlcOptions(spec=spec, config=SPEC_DIR / config, **options))  # type: ignore[arg-type]
    assert result.verdict == "ok", result.errors or result.output[-3000:]
    return result


def test_raft_cfg_is_exhaustively_safe() -> None:
    result = check("Raft", "Raft.cfg", workers=2, timeout=600)
    assert result.distinct_states is not None
    assert 80_000 < result.distinct_states < 130_000


def test_raft_prevote_cfg_is_exhaustively_safe() -> None:
    result = check("Raft", "RaftPreVote.cfg", workers=2, timeout=600)
    assert result.distinct_states is not None
    assert 25_000 < result.distinct_states < 45_000


def test_message_ordering_cfg_is_exhaustively_safe() -> None:
    result = check("MessageOrdering", "MessageOrdering.cfg", workers=2, timeout=600)
    assert result.distinct_states is not None
    assert 10_000 < result.distinct_states < 25_000


def test_all_features_survive_seeded_simulation() -> None:
    result = check("Raft", "RaftSim.cfg", simulate=True, depth=100, num=200, seed=1, timeout=600)
    assert result.states_generated is not None
    assert result.states_generated > 1_000


@pytest.mark.slow
def test_raft_with_prevote_up_to_term_2_is_exhaustively_safe(tmp_path: Path) -> None:
    config = (SPEC_DIR / "RaftPreVote.cfg").read_text().replace("MaxTerm = 1", "MaxTerm = 2")
    (tmp_path / "Raft.tla").write_text((SPEC_DIR / "Raft.tla").read_text())
    (tmp_path / "Raft.cfg").write_text(config)
    result = run_tlc(TlcOptions(spec=tmp_path / "Raft.tla", workers=2, timeout=3600))
    assert result.verdict == "ok", result.errors or result.output[-3000:]


@pytest.mark.slow
def test_all_features_survive_long_simulation() -> None:
    check("Raft", "RaftSim.cfg", simulate=True, depth=150, num=5000, seed=2, timeout=3600)
