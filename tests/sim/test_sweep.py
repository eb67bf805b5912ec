"""The seed sweep: 500 seeds over 3- and 5-node clusters with every fault kind, no violation;
and 150 seeds of the causal workload under the clock nemesis (with crashes, partitions, pauses
and leadership transfers, so that skewed clocks meet leader changes).

Seeds run in a pool of two processes (the CI machine has two cores). A failure names each
failing seed with its violation and the command that replays it. The long sweep is `slow`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import pytest

from wiber.sim.simulator import simulate

SWEEP_SEEDS = 250  # per cluster size: 500 in all
BLOCK = 50
SWEEP_TIME = 1.0  # virtual seconds of faults per seed, then a quiet phase for liveness


CLOCK_FAULTS = "clock,crash,partition,pause,transfer"
CLOCK_BLOCKS = [(3, 0), (3, BLOCK), (5, 0)]  # 150 seeds
CLOCK_CLIENTS = 1  # log-workload clients beside the causal ones: cheaper seeds, more of them


def run_seed(job: tuple[int, int, float]) -> str | None:
    seed, nodes, time = job
    result = simulate(seed, nodes=nodes, faults="all", time=time)
    if result.violation is None:
        return None
    replay = f"harness sim --seed {seed} --nodes {nodes} --faults all --time {time:g}"
    return f"{result.violation}  (replay: {replay})"


def run_causal_seed(job: tuple[int, int, float]) -> str | None:
    seed, nodes, time = job
    result = simulate(
        seed, nodes=nodes, faults=CLOCK_FAULTS, time=time, clients=CLOCK_CLIENTS, causal=True
    )
    if result.violation is None:
        return None
    replay = (
        f"harness sim --seed {seed} --nodes {nodes} --faults {CLOCK_FAULTS} "
        f"--time {time:g} --clients {CLOCK_CLIENTS} --causal"
    )
    return f"{result.violation}  (replay: {replay})"


def sweep(
    nodes: int, seeds: range, time: float, run: Callable[[tuple[int, int, float]], str | None]
) -> list[str]:
    jobs = [(seed, nodes, time) for seed in seeds]
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(run, jobs, chunksize=8))
    return [outcome for outcome in outcomes if outcome is not None]


# Blocks of seeds, so that no single test runs long on a busy machine.
BLOCKS = [(nodes, start) for nodes in (3, 5) for start in range(0, SWEEP_SEEDS, BLOCK)]


@pytest.mark.parametrize(("nodes", "start"), BLOCKS)
def test_sweep_finds_no_violation(nodes: int, start: int) -> None:
    assert sweep(nodes, range(start, start + BLOCK), SWEEP_TIME, run_seed) == []


@pytest.mark.parametrize(("nodes", "start"), CLOCK_BLOCKS)
def test_clock_nemesis_and_causal_sweep_finds_no_violation(nodes: int, start: int) -> None:
    assert sweep(nodes, range(start, start + BLOCK), SWEEP_TIME, run_causal_seed) == []


@pytest.mark.slow
@pytest.mark.timeout(7200)
@pytest.mark.parametrize("nodes", [3, 5])
def test_long_sweep_finds_no_violation(nodes: int) -> None:
    assert sweep(nodes, range(10_000, 12_000), 3.0, run_seed) == []
