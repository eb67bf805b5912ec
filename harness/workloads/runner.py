"""One `harness run`, start to finish: cluster, workload, nemesis, heal, check, report.

`execute(spec)` owns the order of things and the guarantees: every run writes test.json before
anything can fail, streams history.jsonl while the test runs, and whatever happens (an error,
Ctrl-C) heals every fault, collects what the nodes logged and tears down what it made.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.checkers.run import run_checkers
from harness.cluster import Inventory, Provider, get_provider
from harness.control import Remote, remote_for
from harness.db import WiberDB
from harness.generator import (
    Generator,
    Sleep,
    TimeLimit,
    clients,
    nemesis,
    phases,
    rate,
    secs,
    with_nemesis,
)
from harness.generator.interpreter import Interpreter, Journal
from harness.generator.schedule import fault_cycle, final_heal
from harness.history import HistoryWriter
from harness.nemesis import NemesisContext, get_nemesis
from harness.report import write_report
from harness.store import RunDir, new_run
from harness.tls import PRINCIPAL, ClusterTls, plaintext_refusal
from harness.workloads import WORKLOADS
from harness.workloads.base import Workload, WorkloadOptions

HEAL_TIMEOUT = 60.0
LEADER_TIMEOUT = 60.0


@dataclass(frozen=True)
class RunSpec:
    test: str
    provider: str
    inventory: Path | None
    nodes: int
    workload: str
    nemeses: tuple[str, ...]
    time_limit: float
    rate: float
    concurrency: int
    seed: int
    store: Path
    fault_hold: float = 8.0
    fault_quiet: float = 5.0
    recovery: float = 5.0
    final_limit: float = 60.0
    op_timeout: float = 8.0
    check_time: float = 120.0
    settings: dict[str, Any] = field(default_factory=dict)
    targets: str | None = None  # node-target spec for every fault (None: each nemesis's own)
    nemesis_options: dict[str, Any] = field(default_factory=dict)  # into every start op
    tls: str | None = None  # client auth of a TLS cluster ("cert", "password"); None: plaintext

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["nemeses"] = list(self.nemeses)
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


@dataclass(frozen=True)
class Outcome:
    valid: Any
    results: dict[str, Any]
    run_dir: Path
    report: Path

    @property
    def verdict_name(self) -> str:
        return "true" if self.valid is True else "false" if self.valid is False else "unknown"

    @property
    def anomaly_lines(self) -> list[str]:
        """`anomaly<TAB>checker<TAB>count` per anomaly found, as `harness check` prints."""
        lines = []
        for name, result in self.results["checkers"].items():
            counts = result.get("counts") or {}
            for anomaly, witnesses in result.get("anomalies", {}).items():
                lines.append(f"{anomaly}\t{name}\t{counts.get(anomaly, len(witnesses))}")
            if result.get("valid") not in (True, False):
                lines.append(f"unknown\t{name}\t{result.get('reason', '')}")
        return lines


class NemesisDriver:
    """Turns the history's nemesis ops into `Nemesis.start` / `heal` calls."""

    def __init__(self, ctx: NemesisContext, names: tuple[str, ...]) -> None:
        self.ctx = ctx
        self.nemeses = {name: get_nemesis(name) for name in names}

    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        value = dict(op.get("value") or {})
        name = str(value.get("nemesis"))
        chosen = self.nemeses[name]
        if op["f"] == "start":
            done = await chosen.start(self.ctx, value)
        else:
            done = await chosen.heal(self.ctx)
        return {"type": "info", "value": {**done, "nemesis": name}}

    async def heal_all(self) -> None:
        for name, chosen in self.nemeses.items():
            try:
                async with asyncio.timeout(HEAL_TIMEOUT):
                    await chosen.heal(self.ctx)
            except Exception as e:  # keep healing the others; the operator must know
                print(f"harness run: healing {name} failed: {e}", file=sys.stderr)


def build_generator(spec: RunSpec, workload: Workload) -> Generator:
    main: Any = rate(spec.rate, workload.generator)
    if spec.nemeses:
        schedule = fault_cycle(
            spec.nemeses,
            hold=secs(spec.fault_hold),
            quiet=secs(spec.fault_quiet),
            options={
                **spec.nemesis_options,
                **({"targets": spec.targets} if spec.targets else {}),
            },
        )
        main = with_nemesis(main, schedule)
    else:
        main = clients(main)
    steps: list[Any] = [TimeLimit(secs(spec.time_limit), main)]
    if spec.nemeses:
        steps.append(nemesis(final_heal(spec.nemeses)))
    if workload.final is not None:
        steps.append(Sleep(secs(spec.recovery)))
        steps.append(clients(TimeLimit(secs(spec.final_limit), workload.final)))
    return phases(*steps)


class Progress:
    """Counts of completed ops by type, and the nemesis state, on stderr (rich)."""

    def __init__(self, spec: RunSpec) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.counts: Counter[str] = Counter()
        self.faults: set[str] = set()
        self.spec = spec
        self.bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = self.bar.add_task(spec.test, total=spec.time_limit)
        self.started = time.monotonic()

    def on_op(self, op: dict[str, Any]) -> None:
        if op["process"] == "nemesis":
            name = str((op.get("value") or {}).get("nemesis"))
            if op["type"] != "invoke":
                (self.faults.add if op["f"] == "start" else self.faults.discard)(name)
        elif op["type"] != "invoke":
            self.counts[op["type"]] += 1

    def refresh(self) -> None:
        c = self.counts
        faults = ",".join(sorted(self.faults)) or "-"
        text = f"{self.spec.test}  ok {c['ok']}  fail {c['fail']}  info {c['info']}  fault {faults}"
        elapsed = min(time.monotonic() - self.started, self.spec.time_limit)
        self.bar.update(self.task, description=text, completed=elapsed)

    async def tick(self) -> None:
        while True:
            self.refresh()
            await asyncio.sleep(0.5)


async def wait_for_leader(db: WiberDB, timeout: float = LEADER_TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            leader = await db.leader()
            if leader is not None:
                return leader
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no leader elected within {timeout:.0f} s")


@dataclass
class _Cluster:
    provider: Provider | None  # None: the inventory was given, so the run does not own hosts
    inventory: Inventory
    remote: Remote
    db: WiberDB
    workdir: Path | None
    plaintext_probe: str | None = None  # what a TLS node told a plaintext client


def cluster_tls(spec: RunSpec, inventory: Inventory, run_dir: RunDir) -> ClusterTls | None:
    """The run's TLS material: the inventory's own when `harness cluster up --tls` made the
    cluster (its running nodes already use it), else new certificates in the run's store."""
    if inventory.extra.get("tls"):
        return ClusterTls.from_json(inventory.extra["tls"])
    if spec.tls is None:
        return None
    return ClusterTls.create(run_dir.path / "certs", inventory.nodes, spec.tls)


async def _cluster_up(spec: RunSpec, run_dir: RunDir) -> _Cluster:
    workdir: Path | None = None
    provider: Provider | None = None
    if spec.inventory is not None:
        inventory = Inventory.load(spec.inventory)
    else:
        provider = get_provider(spec.provider)
        workdir = Path(tempfile.mkdtemp(prefix="wiber-run-"))
        inventory = await provider.up(spec.nodes, workdir)
    try:
        tls = await asyncio.to_thread(cluster_tls, spec, inventory, run_dir)
    except BaseException:
        if provider is not None:
            await provider.down(inventory)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    remote = remote_for(inventory)
    db = WiberDB(inventory, remote, settings=spec.settings, tls=tls)
    return _Cluster(provider, inventory, remote, db, workdir)


async def _cluster_down(cluster: _Cluster) -> None:
    with contextlib.suppress(Exception):
        await cluster.db.stop_all()
    with contextlib.suppress(Exception):
        await cluster.remote.close()
    if cluster.provider is not None:
        await cluster.provider.down(cluster.inventory)
    if cluster.workdir is not None:
        shutil.rmtree(cluster.workdir, ignore_errors=True)


async def _drive(
    spec: RunSpec, cluster: _Cluster, run_dir: RunDir
) -> tuple[Workload, list[dict[str, Any]]]:
    """Install, start, run the generator; heals every fault on the way out, however it ends."""
    db = cluster.db
    await db.install()
    await db.configure()
    await db.start_all()
    await wait_for_leader(db)
    if db.tls is not None:
        cluster.plaintext_probe = await check_tls_in_force(db)
    ctx = NemesisContext(cluster.inventory, cluster.remote, db, random.Random(spec.seed + 1))
    driver = NemesisDriver(ctx, spec.nemeses) if spec.nemeses else None
    opts = WorkloadOptions(
        addresses=db.addresses(),
        names=cluster.inventory.names,
        op_timeout=spec.op_timeout,
        credentials=db.credentials,
    )
    workload = WORKLOADS[spec.workload](opts, spec.concurrency)
    progress = Progress(spec)
    with HistoryWriter(run_dir.history) as writer:
        journal = Journal(writer, progress.on_op)
        interpreter = Interpreter(
            workload.open_client,
            spec.concurrency,
            journal,
            nemesis=driver,
            rng=random.Random(spec.seed),
            op_timeout=spec.op_timeout + 2.0,
        )
        ticker = asyncio.create_task(progress.tick())
        try:
            with progress.bar:
                return workload, await interpreter.run(build_generator(spec, workload))
        finally:
            ticker.cancel()
            progress.refresh()
            if driver is not None:
                await driver.heal_all()


async def check_tls_in_force(db: WiberDB) -> str:
    """A plaintext client must be refused, or the run would not test what it says it does."""
    answer = await plaintext_refusal(db.addresses()[0])
    if answer != "tls-required":
        raise RuntimeError(f"TLS is not in force: a plaintext client was answered {answer!r}")
    return answer


def tls_summary(cluster: _Cluster) -> dict[str, Any] | None:
    """What test.json and results.json say about TLS (None: a plaintext run)."""
    tls = cluster.db.tls
    if tls is None:
        return None
    summary = {**tls.to_json(), "principal": PRINCIPAL}
    if cluster.plaintext_probe is not None:
        summary["plaintext_client"] = cluster.plaintext_probe
    return summary


def check(
    spec: RunSpec, workload: Workload, history: list[dict[str, Any]], run_dir: RunDir
) -> dict[str, Any]:
    """The workload's checkers, and the Raft invariants when the nodes left event traces."""
    names = list(workload.checkers)
    if any(run_dir.nodes.glob("*/trace.jsonl")):
        names.append("raft")
    opts = {
        "model": workload.checker_opts.get("model"),
        "seconds": spec.check_time,
        "traces": run_dir.path,
    }
    return run_checkers(history, names, opts)


async def execute(spec: RunSpec) -> Outcome:
    run_dir = new_run(spec.store, spec.test)
    test = {**spec.to_json(), "command": sys.argv, "started": time.time()}
    run_dir.write_test(test)
    print(f"harness run: {run_dir.path} (seed {spec.seed})", file=sys.stderr)
    cluster = await _cluster_up(spec, run_dir)
    try:
        test = {**test, "inventory": cluster.inventory.to_dict(), "tls": tls_summary(cluster)}
        run_dir.write_test(test)
        try:
            workload, history = await _drive(spec, cluster, run_dir)
        except Exception as e:
            # No verdict, but the store says why (the history so far is on disk).
            error = f"{type(e).__name__}: {e}"
            run_dir.write_results(
                {"valid": "unknown", "checkers": {}, "error": error, "tls": tls_summary(cluster)}
            )
            raise
        finally:
            with contextlib.suppress(Exception):
                await cluster.db.collect(run_dir.path)
    finally:
        await asyncio.shield(_cluster_down(cluster))
    results = await asyncio.to_thread(check, spec, workload, history, run_dir)
    tls = tls_summary(cluster)
    results["tls"] = tls
    run_dir.write_results(results)
    title = f"harness run {spec.test}"
    if tls is not None:
        title += f" · TLS, clients authenticated by {tls['client_auth']}"
    report = write_report(history, results, run_dir.path, title)
    return Outcome(results["valid"], results, run_dir.path, report)
