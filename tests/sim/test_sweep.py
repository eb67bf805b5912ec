"""The seed sweep: 500 seeds over 3- and 5-node clusters with every fault kind, no violation.

Seeds run in a pool of two processes (the CI machine has two cores). A failure names each
failing seed with its violation and the command that replays it. The long sweep is `slow`.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pytest

from wiber.sim.simulator import simulate

SWEEP_SEEDS = 250  # per cluster size: 500 in all
BLOCK = 50
SWEEP_TIME = 1.0  # virtual seconds of faults per seed, then a quiet phase for liveness


def run_seed(job: tuple[int, int, float]) -> str | None:
    seed, nodes, time = job
    result = simulate(seed, nodes=nodes, faults="all", time=time)
    if result.violation is None:
        return None
    replay = f"harness sim --seed {seed} --nodes {nodes} --faults all --time {time:g}"
    return f"{result.violation}  (replay: {replay})"


def sweep(nodes: int, seeds: range, time: float) -> list[str]:
    jobs = [(seed, nodes, time) for seed in seeds]
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(run_seed, jobs, chunksize=8))
    return [outcome for outcome in outcomes if outcome is not None]


# Blocks of seeds, so that no single test runs long on a busy machine.
BLOCKS = [(nodes, start) for nodes in (3, 5) for start in range(0, SWEEP_SEEDS, BLOCK)]


@pytest.mark.parametrize(("nodes", "start"), BLOCKS)
def test_sweep_finds_no_violation(nodes: int, start: int) -> None:
    assert sweep(nodes, range(start, start + BLOCK), SWEEP_TIME) == []


@pytest.mark.slow
@pytest.mark.timeout(7200)
@pytest.mark.parametrize("nodes", [3, 5])
def test_long_sweep_finds_no_violation(nodes: int) -> None:
    assert sweep(nodes, range(10_000, 12_000), 3.0) == []
