"""`harness run`: stand up a cluster, drive a workload under a nemesis, check, report.

Steps: provider up (or reuse `--inventory`), install, configure and start Wiber, run the
workload's generator beside the nemesis schedule for `--time-limit` seconds with progress on
stderr, heal every fault, let the cluster recover, run the workload's final phase (read
everything back), collect node logs and traces, run the checkers, write results.json and the
report into the run store (DESIGN.md 4.5), tear down. Exit 0 valid, 1 invalid, 2 unknown or
error. Ctrl-C heals every fault and tears down what the run made.

`--tls` makes the cluster TLS-only, with certificates made in the run's store, and every client
of the run authenticated as the `harness` superuser (`harness.tls`, docs/security.md).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.cluster import PROVIDERS, default_provider
from harness.nemesis import NEMESES, NETWORK_NEMESES, TARGET_SPECS
from harness.store import DEFAULT_STORE
from harness.tls import CLIENT_AUTH
from harness.trace_validation import validated
from harness.workloads import WORKLOADS
from harness.workloads.runner import Outcome, RunSpec, execute

EXIT = {True: 0, False: 1}


def configure(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--provider", choices=sorted(PROVIDERS), help="default: netns as root, else local")
    add("--inventory", type=Path, help="reuse the cluster of this inventory (no up/down)")
    add("--nodes", type=int, default=5, help="cluster size (default 5)")
    add("--workload", choices=sorted(WORKLOADS), default="log", help="default log")
    add("--nemesis", default="", help=f"comma list of {', '.join(NEMESES)} (default: none)")
    add("--time-limit", type=float, default=60.0, metavar="S", help="main phase (default 60)")
    add(
        "--rate", type=float, default=100.0, metavar="R", help="client ops/s in total (default 100)"
    )
    add("--concurrency", type=int, default=5, metavar="C", help="client threads (default 5)")
    add("--seed", type=int, help="seed of the generator and nemeses (default: random)")
    add("--store", type=Path, default=DEFAULT_STORE, help="run store (default ./reports)")
    add(
        "--nemesis-targets",
        choices=TARGET_SPECS,
        help="which nodes every fault hits (default: each nemesis picks)",
    )
    add(
        "--nemesis-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="put KEY (VALUE read as YAML) into every fault's start, e.g. delta_ms=[4000,-4000]",
    )
    add(
        "--fault-hold",
        type=float,
        default=8.0,
        metavar="S",
        help="how long a fault lasts (default 8)",
    )
    add(
        "--fault-quiet",
        type=float,
        default=5.0,
        metavar="S",
        help="quiet time between faults (default 5)",
    )
    add(
        "--recovery",
        type=float,
        default=5.0,
        metavar="S",
        help="quiet time before final reads (default 5)",
    )
    add(
        "--final-limit",
        type=float,
        default=60.0,
        metavar="S",
        help="final phase time limit (default 60)",
    )
    add(
        "--op-timeout",
        type=float,
        default=8.0,
        metavar="S",
        help="one client op, retries in (default 8)",
    )
    add(
        "--check-time",
        type=float,
        default=120.0,
        metavar="S",
        help="linearizability budget (default 120)",
    )
    add("--setting", action="append", default=[], metavar="KEY=VALUE", help="node config key")
    add(
        "--tls",
        action="store_true",
        help="TLS cluster: certificates in the run's store, every client over TLS",
    )
    add(
        "--tls-client-auth",
        choices=CLIENT_AUTH,
        help="with --tls, how the harness's clients authenticate (default cert)",
    )
    # Testing only: a deliberately broken Wiber build (DESIGN: the harness must be able to fail).
    add("--debug-fault", choices=("ack-before-commit", "stale-reads"), help=argparse.SUPPRESS)
    add("--test-name", help="the store's test folder (default: workload-nemeses)")
    add("--validate", action="store_true", help="also check the node traces against Raft.tla")


def parse_settings(items: list[str], debug_fault: str | None) -> dict[str, Any]:
    settings = _key_values(items, "--setting")
    if debug_fault:
        settings["debug_fault"] = debug_fault
    return settings


def parse_options(items: list[str]) -> dict[str, Any]:
    return _key_values(items, "--nemesis-option")


def _key_values(items: list[str], flag: str) -> dict[str, Any]:
    """KEY=VALUE items, each value read as YAML."""
    found: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} wants KEY=VALUE, not {item!r}")
        found[key] = yaml.safe_load(text)
    return found


def spec_from(args: argparse.Namespace) -> RunSpec:
    nemeses = tuple(n for n in (x.strip() for x in args.nemesis.split(",")) if n and n != "none")
    unknown = sorted(set(nemeses) - set(NEMESES))
    if unknown:
        raise ValueError(f"unknown nemesis {unknown}; choose from {sorted(NEMESES)}")
    provider = args.provider or default_provider()
    if provider == "local" and not args.inventory and set(nemeses) & NETWORK_NEMESES:
        raise ValueError(
            f"{sorted(set(nemeses) & NETWORK_NEMESES)} need a host per node: use netns or ssh"
        )
    if args.nodes < 1 or args.concurrency < 1 or args.time_limit <= 0:
        raise ValueError("--nodes, --concurrency and --time-limit must be positive")
    if args.tls_client_auth and not args.tls:
        raise ValueError("--tls-client-auth needs --tls")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    name = args.test_name or "-".join((args.workload, *nemeses))
    return RunSpec(
        test=name,
        provider=provider,
        inventory=args.inventory,
        nodes=args.nodes,
        workload=args.workload,
        nemeses=nemeses,
        time_limit=args.time_limit,
        rate=args.rate,
        concurrency=args.concurrency,
        seed=seed,
        store=args.store,
        fault_hold=args.fault_hold,
        fault_quiet=args.fault_quiet,
        recovery=args.recovery,
        final_limit=args.final_limit,
        op_timeout=args.op_timeout,
        check_time=args.check_time,
        settings=parse_settings(args.setting, args.debug_fault),
        targets=args.nemesis_targets,
        nemesis_options=parse_options(args.nemesis_option),
        tls=(args.tls_client_auth or "cert") if args.tls else None,
    )


def run(args: argparse.Namespace) -> int:
    try:
        spec = spec_from(args)
    except ValueError as e:
        print(f"harness run: {e}", file=sys.stderr)
        return 2
    interrupted = False

    async def main() -> Outcome:
        # Ctrl-C cancels the run (its finally blocks heal and tear down) and is remembered
        # here: a run that swallowed the cancellation on its way out is still interrupted.
        task = asyncio.current_task()

        def on_interrupt() -> None:
            nonlocal interrupted
            interrupted = True
            if task is not None:
                task.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, on_interrupt)
        return await execute(spec)

    try:
        outcome = asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        interrupted = True
    except Exception as e:  # the run failed before a verdict: say so, never a pass
        if not interrupted:
            print(f"harness run: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
    if interrupted:
        print("harness run: interrupted; faults healed and cluster torn down", file=sys.stderr)
        return 2
    if args.validate:
        outcome = validated(outcome)
    for line in outcome.anomaly_lines:
        print(line)
    print(f"report\t{outcome.report}")
    print(f"valid\t{outcome.verdict_name}")
    return EXIT.get(outcome.valid, 2) if outcome.valid in (True, False) else 2
