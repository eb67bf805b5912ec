"""`wiber`: the broker, the clients and the benchmark on the command line."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import faulthandler
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wiber.codec import line as ln
from wiber.codec import messages as m
from wiber.localcluster import DEFAULT_DIR as DEFAULT_CLUSTER_DIR

if TYPE_CHECKING:
    from wiber.client import Client, Credentials


def _add_security(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("security (when the cluster has `tls:`)")
    group.add_argument("--tls-ca", metavar="FILE", help="cluster CA (env WIBER_TLS_CA)")
    group.add_argument("--tls-cert", metavar="FILE", help="client certificate (WIBER_TLS_CERT)")
    group.add_argument("--tls-key", metavar="FILE", help="its key (env WIBER_TLS_KEY)")
    group.add_argument("--user", help="SCRAM user name (env WIBER_USER)")
    group.add_argument("--password", help="SCRAM password (env WIBER_PASSWORD)")


def credentials(args: argparse.Namespace) -> Credentials:
    from wiber.client import Credentials

    return Credentials.from_env(
        ca=getattr(args, "tls_ca", None),
        cert=getattr(args, "tls_cert", None),
        key=getattr(args, "tls_key", None),
        user=getattr(args, "user", None),
        password=getattr(args, "password", None),
    )


def _add_bootstrap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT,...",
        help="nodes to contact (default: WIBER_BOOTSTRAP, else WIBER_HOST:WIBER_PORT)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_security(parser)


def _add_cluster(sub: Any) -> None:
    cluster = sub.add_parser("cluster", help="run and operate a cluster")
    ops = cluster.add_subparsers(dest="op", required=True)
    up = ops.add_parser("up", help="start a local cluster of broker processes on loopback")
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--voters", type=int, help="how many of the nodes vote (default: all)")
    up.add_argument("--base-port", type=int, default=7070, help="n1's client port; +10 per node")
    up.add_argument("--fsync", default="group")
    up.add_argument("--trace", action="store_true", help="nodes write Raft event traces")
    up.add_argument(
        "--tls",
        action="store_true",
        help="TLS and authentication: certificates (made in DIR/certs if absent), superuser admin",
    )
    for op in ("up", "down", "status", "start", "stop", "kill"):
        parser = up if op == "up" else ops.add_parser(op, help=_CLUSTER_HELP[op])
        parser.add_argument("--dir", type=Path, default=DEFAULT_CLUSTER_DIR, help="cluster folder")
        if op in ("start", "stop", "kill"):
            parser.add_argument("node")
    status = ops.choices["status"]
    status.add_argument("--bootstrap", help="ask these nodes instead of a local cluster folder")
    status.add_argument("--json", action="store_true")
    _add_security(status)
    for op, help_text in (
        ("add", "add NODE as a voter (Raft membership change)"),
        ("remove", "remove NODE from the cluster (the leader too)"),
        ("transfer-leader", "hand leadership to NODE"),
    ):
        parser = ops.add_parser(op, help=help_text)
        parser.add_argument("node")
        parser.add_argument("--bootstrap", help="nodes to contact (default: WIBER_BOOTSTRAP)")
        _add_security(parser)


def _add_security_commands(sub: Any) -> None:
    certs = sub.add_parser("certs", help="a cluster CA and node and client certificates")
    ops = certs.add_subparsers(dest="op", required=True)
    init = ops.add_parser("init", help="create the cluster CA in DIR")
    init.add_argument("dir", type=Path)
    issue = ops.add_parser("issue", help="issue a node or client certificate signed by DIR's CA")
    issue.add_argument("dir", type=Path)
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument("--node", help="node id (CN and DNS name of the certificate)")
    who.add_argument("--client", help="client principal (CN of the certificate)")
    issue.add_argument("--host", action="append", default=[], help="extra DNS name or IP")
    issue.add_argument("--days", type=int, default=365)

    user = sub.add_parser("user", help="SCRAM users, stored through Raft")
    uops = user.add_subparsers(dest="op", required=True)
    add = uops.add_parser(
        "add", help="create or replace a user (password: --new-password or stdin)"
    )
    remove = uops.add_parser("remove", help="remove a user")
    digest = uops.add_parser("hash", help="print a verifier for the config's tls.users (offline)")
    for parser in (add, remove, digest):
        parser.add_argument("name")
    for parser in (add, digest):
        parser.add_argument("--new-password", help="the user's password (default: read stdin)")
    for parser in (add, remove):
        parser.add_argument("--bootstrap", help="nodes to contact (default: WIBER_BOOTSTRAP)")
        _add_security(parser)

    acl = sub.add_parser("acl", help="per-topic ACL rules, stored through Raft")
    aops = acl.add_subparsers(dest="op", required=True)
    for op in ("add", "remove"):
        parser = aops.add_parser(op, help=f"{op} a rule")
        parser.add_argument("principal", help="a principal, or * for every authenticated one")
        parser.add_argument("operation", choices=["publish", "subscribe", "admin"])
        parser.add_argument("pattern", help="topic, prefix (orders.* or prefix:orders.), or *")
    listing = aops.add_parser("list", help="the rules and users")
    listing.add_argument("--json", action="store_true")
    for parser in aops.choices.values():
        parser.add_argument("--bootstrap", help="nodes to contact (default: WIBER_BOOTSTRAP)")
        _add_security(parser)


def _add_groups(sub: Any) -> None:
    groups = sub.add_parser("groups", help="consumer groups: describe and reset offsets")
    ops = groups.add_subparsers(dest="op", required=True)
    describe = ops.add_parser("describe", help="committed offset, end and lag per topic")
    reset = ops.add_parser("reset", help="move the group's committed offset")
    for parser in (describe, reset):
        parser.add_argument("group")
        parser.add_argument("--topic", action="append", required=True, help="repeatable")
        _add_bootstrap(parser)
    target = reset.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-earliest", action="store_true")
    target.add_argument("--to-latest", action="store_true")
    target.add_argument("--to-offset", type=int, metavar="K")
    target.add_argument("--to-time", metavar="T", help="Unix seconds or ISO 8601")


_CLUSTER_HELP = {
    "down": "stop the local cluster's processes",
    "status": "role, term, commit and applied index of every node",
    "start": "start one node of the local cluster",
    "stop": "stop one node of the local cluster (SIGTERM)",
    "kill": "kill one node of the local cluster (SIGKILL)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wiber", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    broker = sub.add_parser("broker", help="run a broker node")
    broker.add_argument("--config", type=Path, help="node or cluster YAML file")
    broker.add_argument("--id", help="this node's id (required with a cluster file)")
    broker.add_argument("--host", help="listen address (env WIBER_HOST)")
    broker.add_argument("--port", type=int, help="client port (env WIBER_PORT, default 7070)")
    broker.add_argument("--data-dir", type=Path, help="data directory (env WIBER_DATA_DIR)")
    broker.add_argument("--fsync", help="always | group | interval:<ms> | never")
    broker.add_argument(
        "--trace", action="store_true", help="write Raft events to <data dir>/trace.jsonl"
    )
    broker.add_argument("--log-format", choices=["text", "json"], default="text")
    broker.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default="info"
    )

    pub = sub.add_parser("pub", help="publish messages (arguments, or one per stdin line)")
    pub.add_argument("topic")
    pub.add_argument("message", nargs="*", help="words of one message (seed style)")
    pub.add_argument("--lines", action="store_true", help="each stdin line is a message")
    pub.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to keep retrying each message"
    )
    pub.add_argument(
        "--trace",
        action="store_true",
        help="trace the publish with OpenTelemetry (needs opentelemetry-sdk) and print the "
        "trace id; the spans go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set",
    )
    _add_bootstrap(pub)

    subp = sub.add_parser("sub", help="print history, then live messages")
    subp.add_argument("topic")
    start = subp.add_mutually_exclusive_group()
    start.add_argument("--history", type=int, metavar="N", help="start with the last N")
    start.add_argument("--from-offset", type=int, metavar="K")
    start.add_argument("--from-time", metavar="T", help="Unix seconds or ISO 8601 time")
    subp.add_argument("--group", help="consumer group: resume from and commit its offset")
    subp.add_argument("--count", type=int, help="exit after this many messages")
    subp.add_argument(
        "--stale-ok", action="store_true", help="read history from the node's applied state"
    )
    _add_bootstrap(subp)

    history = sub.add_parser("history", help="print the last N messages of a topic")
    history.add_argument("topic")
    history.add_argument("n", type=int)
    history.add_argument(
        "--stale-ok", action="store_true", help="answer from the node's applied state"
    )
    _add_bootstrap(history)

    _add_cluster(sub)
    _add_groups(sub)
    _add_security_commands(sub)

    bench = sub.add_parser("bench", help="measure publish throughput and latency")
    bench.add_argument("--topic", default="bench")
    bench.add_argument("--size", type=int, default=100, help="message bytes")
    bench.add_argument("--inflight", type=int, default=256, help="unacknowledged messages")
    amount = bench.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, help="seconds to measure (default 10)")
    amount.add_argument("--count", type=int, help="messages to publish")
    bench.add_argument("--warmup", type=float, default=1.0, help="seconds not counted")
    bench.add_argument("--acks", choices=["quorum", "all"], default="quorum")
    bench.add_argument(
        "--kill-leader-after",
        type=float,
        metavar="S",
        help="SIGKILL the leader S seconds in and report the failover time (local clusters)",
    )
    bench.add_argument("--cluster-dir", type=Path, default=DEFAULT_CLUSTER_DIR)
    _add_bootstrap(bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # `kill -USR1 <pid>` prints every thread's stack to stderr: how to see where a node hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    command = {
        "broker": cmd_broker,
        "pub": cmd_pub,
        "sub": cmd_sub,
        "history": cmd_history,
        "bench": cmd_bench,
        "cluster": cmd_cluster,
        "groups": cmd_groups,
        "certs": cmd_certs,
        "user": cmd_user,
        "acl": cmd_acl,
    }[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:
        return 130


# -- broker ------------------------------------------------------------------------------


def cmd_broker(args: argparse.Namespace) -> int:

    from wiber.runtime.config import ConfigError, load_config
    from wiber.runtime.logs import use_json_logs
    from wiber.runtime.main import run_node
    from wiber.storage import FsyncPolicy, StorageError

    try:
        config = load_config(args.config, args.id)
        overrides = {
            "host": args.host,
            "client_port": args.port,
            "data_dir": args.data_dir,
            "fsync": args.fsync,
            "trace": args.trace or None,
        }
        if args.port is not None:
            overrides.update(peer_port=args.port + 1, metrics_port=args.port + 2)
        config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
        FsyncPolicy.parse(config.fsync)
    except (ConfigError, ValueError) as e:
        print(f"wiber broker: {e}", file=sys.stderr)
        return 2
    level = getattr(logging, args.log_level.upper())
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else level)
    formatter = use_json_logs(level) if args.log_format == "json" else None
    try:
        asyncio.run(run_node(config, formatter=formatter))
    except StorageError as e:
        print(f"wiber broker: storage: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"wiber broker: {e}", file=sys.stderr)
        return 1
    return 0


# -- clients -----------------------------------------------------------------------------


def _print_message(kind: str, msg: m.StoredMessage, as_json: bool) -> None:
    if as_json:
        record = {
            "kind": kind.lower(),
            "topic": msg.topic,
            "offset": msg.offset,
            "ts": (msg.hlc >> 16) / 1000,
            "hlc": msg.hlc,
            "producer_id": msg.producer_id,
            "seq": msg.seq,
            "message": msg.payload.decode("utf-8", "backslashreplace"),
        }
        print(json.dumps(record), flush=True)
        return
    render = ln.history_line if kind == "HISTORY" else ln.msg_line
    sys.stdout.write(render(msg.topic, msg.hlc, msg.payload).decode("utf-8"))
    sys.stdout.flush()


def cmd_pub(args: argparse.Namespace) -> int:
    if args.message and not args.lines:
        messages = [" ".join(args.message)]
    else:
        messages = [line.rstrip("\n") for line in sys.stdin]
    return asyncio.run(_pub(args, messages))


async def _pub(args: argparse.Namespace, messages: list[str]) -> int:
    if not args.trace:
        return await _publish_all(args, messages)
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        print("wiber pub: --trace needs the opentelemetry-sdk package", file=sys.stderr)
        return 2
    provider = TracerProvider()
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        _export_otlp(provider)
    tracer = provider.get_tracer("wiber.cli")
    try:
        with tracer.start_as_current_span("wiber pub", attributes={"wiber.topic": args.topic}):
            trace_id = trace.get_current_span().get_span_context().trace_id
            code = await _publish_all(args, messages, tracer)
    finally:
        provider.shutdown()
    if args.json:
        print(json.dumps({"trace_id": f"{trace_id:032x}"}))
    else:
        print(f"trace {trace_id:032x}")
    return code


def _export_otlp(provider: Any) -> None:
    try:
        otlp = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    except ImportError:
        print(
            "wiber pub: not exporting: opentelemetry-exporter-otlp is not installed",
            file=sys.stderr,
        )
        return
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider.add_span_processor(BatchSpanProcessor(otlp.OTLPSpanExporter()))


async def _publish_all(args: argparse.Namespace, messages: list[str], tracer: Any = None) -> int:
    from wiber.client import Client, ClientError, Producer, bootstrap_from_env

    failures = 0
    async with Client(bootstrap_from_env(args.bootstrap), credentials=credentials(args)) as client:
        producer = Producer(client, delivery_timeout=args.timeout, tracer=tracer)
        futures = [await producer.send(args.topic, text.encode()) for text in messages]
        for text, future in zip(messages, futures, strict=True):
            try:
                offset = await future
            except ClientError as e:
                failures += 1
                print(f"wiber pub: not acknowledged: {e} ({text[:40]!r})", file=sys.stderr)
                continue
            if args.json:
                print(json.dumps({"topic": args.topic, "offset": offset}))
            else:
                print(f"published {args.topic} {offset}")
        await producer.close()
    return 1 if failures else 0


def parse_time(text: str) -> int:
    """Unix seconds (float) or an ISO 8601 time, as Unix milliseconds."""
    try:
        return int(float(text) * 1000)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"wiber: bad time {text!r}: use Unix seconds or ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1000)


def cmd_sub(args: argparse.Namespace) -> int:
    return asyncio.run(_sub(args))


async def _sub(args: argparse.Namespace) -> int:
    from wiber.client import Client, ClientError, bootstrap_from_env
    from wiber.client.consumer import Consumer

    async with Client(bootstrap_from_env(args.bootstrap), credentials=credentials(args)) as client:
        try:
            start, printed = await _history_pages(client, args)
            if args.count is not None and printed >= args.count:
                return 0
            consumer = Consumer(client, args.topic, from_offset=start, group=args.group)
            async for msg in consumer.messages():
                _print_message("MSG", msg, args.json)
                printed += 1
                if args.group:
                    await consumer.commit()
                if args.count is not None and printed >= args.count:
                    break
        except ClientError as e:
            print(f"wiber sub: {e}", file=sys.stderr)
            return 1
    return 0


async def _history_pages(client: Client, args: argparse.Namespace) -> tuple[int | None, int]:
    """Print the requested history with HISTORY lines; return where live delivery starts."""
    request: m.Fetch | None = None
    if args.history is not None:
        request = m.Fetch(args.topic, last_n=args.history)
    elif args.from_offset is not None:
        request = m.Fetch(args.topic, from_offset=args.from_offset)
    elif args.from_time is not None:
        request = m.Fetch(args.topic, from_time_ms=parse_time(args.from_time))
    elif args.group is not None:
        reply = await client.request(m.FetchOffset(args.group, args.topic), leader=False)
        offset = reply.offset if isinstance(reply, m.OffsetOk) else None
        request = m.Fetch(args.topic, from_offset=offset or 0)
    if request is None:
        return None, 0
    count = 0
    limits = [x for x in (args.history, args.count) if x is not None]
    limit = min(limits) if limits else None
    next_offset: int | None = None
    while True:
        reply = await client.request(replace(request, stale_ok=args.stale_ok), leader=False)
        if not isinstance(reply, m.FetchOk):
            raise SystemExit(f"wiber sub: unexpected reply {reply!r}")
        for msg in reply.messages:
            if limit is not None and count >= limit:
                break
            _print_message("HISTORY", msg, args.json)
            count += 1
            next_offset = msg.offset + 1
        if not reply.messages or (limit is not None and count >= limit):
            if next_offset is None:
                next_offset = reply.next_offset
            elif args.group is not None:
                commit = m.CommitOffset(args.group, args.topic, next_offset)
                await client.request(commit, leader=True)
            return next_offset, count
        request = m.Fetch(args.topic, from_offset=reply.next_offset)


def cmd_history(args: argparse.Namespace) -> int:
    return asyncio.run(_history(args))


async def _history(args: argparse.Namespace) -> int:
    from wiber.client import Client, ClientError, bootstrap_from_env

    if args.n < 0:
        print("wiber history: N must be >= 0", file=sys.stderr)
        return 2
    async with Client(bootstrap_from_env(args.bootstrap), credentials=credentials(args)) as client:
        count = 0
        request = m.Fetch(args.topic, last_n=args.n, stale_ok=args.stale_ok) if args.n else None
        try:
            while request is not None and count < args.n:
                reply = await client.request(request, leader=False)
                if not isinstance(reply, m.FetchOk) or not reply.messages:
                    break
                for msg in reply.messages[: args.n - count]:
                    _print_message("HISTORY", msg, args.json)
                    count += 1
                request = m.Fetch(args.topic, from_offset=reply.next_offset, stale_ok=args.stale_ok)
        except ClientError as e:
            print(f"wiber history: {e}", file=sys.stderr)
            return 1
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    import signal

    from wiber import admin, localcluster
    from wiber.client import ClientError, bootstrap_from_env

    try:
        if args.op == "up":
            extra: dict[str, object] = {"trace": True} if args.trace else {}
            nodes = localcluster.up(
                args.dir,
                args.nodes,
                args.base_port,
                fsync=args.fsync,
                voters=args.voters,
                extra=extra,
                tls=args.tls,
            )
            addresses = ",".join(n.address for n in nodes)
            print(f"cluster of {len(nodes)} nodes up in {args.dir.resolve()}")
            print(f"export WIBER_BOOTSTRAP={addresses}")
            if args.tls:
                for key, value in localcluster.admin_env(args.dir).items():
                    print(f"export {key}={value}")
        elif args.op == "down":
            stopped = localcluster.down(args.dir)
            print(f"stopped {', '.join(stopped) if stopped else 'nothing'}")
        elif args.op in ("start", "stop", "kill"):
            node = localcluster.find_node(args.dir, args.node)
            if args.op == "start":
                localcluster.start_node(args.dir.resolve(), node)
            else:
                sig = signal.SIGKILL if args.op == "kill" else signal.SIGTERM
                if not localcluster.stop_node(args.dir.resolve(), node, sig):
                    print(f"{args.node} is not running", file=sys.stderr)
                    return 1
        elif args.op == "status":
            return _cluster_status(args)
        elif args.op in ("add", "remove"):
            asyncio.run(
                admin.change_members(
                    bootstrap_from_env(args.bootstrap), args.op, args.node, credentials(args)
                )
            )
            print(f"{args.op} {args.node}: done")
        elif args.op == "transfer-leader":
            asyncio.run(
                admin.transfer_leader(
                    bootstrap_from_env(args.bootstrap), args.node, credentials=credentials(args)
                )
            )
            print(f"{args.node} is the leader")
    except (localcluster.ClusterError, ClientError) as e:
        print(f"wiber cluster {args.op}: {e}", file=sys.stderr)
        return 1
    return 0


def _cluster_status(args: argparse.Namespace) -> int:
    from wiber import admin, localcluster
    from wiber.client import bootstrap_from_env

    if args.bootstrap:
        addresses = asyncio.run(
            admin.members(bootstrap_from_env(args.bootstrap), credentials(args))
        )
    else:
        addresses = [n.address for n in localcluster.read_nodes(args.dir)]
    rows = asyncio.run(admin.cluster_status(addresses, credentials(args)))
    if args.json:
        print(json.dumps(rows))
        return 0
    print(
        f"{'id':6} {'address':22} {'role':14} {'term':>5} {'commit':>8} {'applied':>8} {'lag':>5}"
    )
    for r in rows:
        print(
            f"{r['id'] or '?':6} {r['address']:22} {r['role']:14} {r.get('term', ''):>5} "
            f"{r.get('commit_index', ''):>8} {r.get('applied_index', ''):>8} {r.get('lag', ''):>5}"
        )
    return 0 if all(r["role"] != "unreachable" for r in rows) else 1


def cmd_groups(args: argparse.Namespace) -> int:
    from wiber import admin
    from wiber.client import ClientError, bootstrap_from_env

    bootstrap = bootstrap_from_env(args.bootstrap)
    try:
        if args.op == "describe":
            rows = asyncio.run(
                admin.describe_group(bootstrap, args.group, args.topic, credentials(args))
            )
            for row in rows:
                if args.json:
                    print(json.dumps(row))
                else:
                    print(
                        f"{row['group']} {row['topic']}: committed {row['committed']}, "
                        f"log start {row['log_start']}, end {row['end']}, lag {row['lag']}"
                    )
            return 0
        to = "earliest" if args.to_earliest else "latest" if args.to_latest else None
        to = to or ("offset" if args.to_offset is not None else "time")
        time_ms = parse_time(args.to_time) if args.to_time else None
        for topic in args.topic:
            target = asyncio.run(
                admin.reset_group(
                    bootstrap,
                    args.group,
                    topic,
                    to=to,
                    offset=args.to_offset,
                    time_ms=time_ms,
                    credentials=credentials(args),
                )
            )
            print(f"{args.group} {topic}: committed offset now {target}")
    except ClientError as e:
        print(f"wiber groups {args.op}: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_certs(args: argparse.Namespace) -> int:
    from wiber.security import certs

    try:
        if args.op == "init":
            issued = certs.init_ca(args.dir)
        elif args.node:
            issued = certs.issue_node(args.dir, args.node, tuple(args.host), days=args.days)
        else:
            issued = certs.issue_client(args.dir, args.client, days=args.days)
    except certs.CertError as e:
        print(f"wiber certs {args.op}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {issued.cert} and {issued.key}")
    return 0


def _new_password(args: argparse.Namespace) -> str:
    if args.new_password is not None:
        return str(args.new_password)
    text = sys.stdin.readline().rstrip("\n")
    if not text:
        raise SystemExit("wiber user: give --new-password or the password on stdin")
    return text


def cmd_user(args: argparse.Namespace) -> int:
    import secrets

    from wiber import admin
    from wiber.client import ClientError, bootstrap_from_env
    from wiber.security import scram

    if args.op == "hash":
        verifier = scram.derive(_new_password(args), secrets.token_bytes(16))
        print(f"{args.name}: {scram.format_credential(verifier)}")
        return 0
    bootstrap = bootstrap_from_env(args.bootstrap)
    try:
        if args.op == "add":
            password = _new_password(args)
            asyncio.run(admin.add_user(bootstrap, args.name, password, credentials(args)))
            print(f"user {args.name} stored")
        else:
            asyncio.run(admin.remove_user(bootstrap, args.name, credentials(args)))
            print(f"user {args.name} removed")
    except ClientError as e:
        print(f"wiber user {args.op}: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_acl(args: argparse.Namespace) -> int:
    from wiber import admin
    from wiber.client import ClientError, bootstrap_from_env

    bootstrap = bootstrap_from_env(args.bootstrap)
    try:
        if args.op == "list":
            listing = asyncio.run(admin.list_acls(bootstrap, credentials(args)))
            if args.json:
                rules = [
                    dict(zip(("principal", "operation", "pattern"), r, strict=True))
                    for r in listing.rules
                ]
                print(json.dumps({"rules": rules, "users": listing.users}))
            else:
                for principal, operation, pattern in listing.rules:
                    print(f"allow {principal} {operation} {pattern}")
                print(f"users: {', '.join(listing.users) or '(none stored)'}")
            return 0
        asyncio.run(
            admin.change_acl(
                bootstrap, args.op, args.principal, args.operation, args.pattern, credentials(args)
            )
        )
        print(f"acl {args.op}: {args.principal} {args.operation} {args.pattern}")
    except ClientError as e:
        print(f"wiber acl {args.op}: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from wiber.bench import BenchConfig, run_bench

    config = BenchConfig(
        bootstrap=args.bootstrap,
        topic=args.topic,
        size=args.size,
        inflight=args.inflight,
        duration=args.duration if args.count is None and args.duration else 10.0,
        count=args.count,
        warmup=args.warmup,
        acks=args.acks,
        kill_leader_after=args.kill_leader_after,
        cluster_dir=args.cluster_dir,
        credentials=credentials(args),
    )
    result = asyncio.run(run_bench(config))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['msgs_per_s']:.0f} msgs/s ({result['mb_per_s']:.2f} MB/s), "
            f"latency p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
            f"p99.9 {result['p999_ms']:.2f} ms, max {result['max_ms']:.2f} ms; "
            f"{result['acked']} acked, {result['errors']} errors"
        )
        if result["failover_s"] is not None:
            print(
                f"failover: publishes succeeded again {result['failover_s']:.2f} s after the kill"
            )
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
