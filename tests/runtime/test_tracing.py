"""Tracing a publish: one trace from the client through the leader, replication and delivery.

The client's spans go to the SDK's in-memory exporter; the nodes (other processes) write
theirs with the `file` exporter, one JSON line per span, read back once the cluster is down
(a node flushes its spans when it stops). With tracing off, the facade's span factory is never
called and a delivery hands the client's trace context back untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.runtime.clusters import running_cluster
from wiber.client import CausalProducer, Client, Consumer, Producer
from wiber.codec import messages as m
from wiber.runtime import tracing
from wiber.runtime.config import ConfigError, NodeConfig, TracingConfig, load_config
from wiber.runtime.main import run_node

Record = dict[str, Any]


def client_tracer() -> tuple[Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test-client"), exporter


def node_spans(directory: Path) -> list[Record]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("spans-*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def only(spans: list[Record], name: str, **where: object) -> Record:
    found = [s for s in spans if s["name"] == name and all(s.get(k) == v for k, v in where.items())]
    assert len(found) == 1, f"{len(found)} {name} spans with {where}: {found}"
    return found[0]


def span_ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


async def publish_and_receive(
    cluster_addresses: list[str], follower: str, tracer: Any
) -> m.StoredMessage:
    async with Client([follower]) as sub_client, Client(cluster_addresses) as pub_client:
        consumer = Consumer(sub_client, "traced", from_offset=0)
        messages = consumer.messages()
        first = asyncio.ensure_future(anext(messages))
        await asyncio.sleep(0.5)  # subscribed before the publish: a live push, not history
        producer = Producer(pub_client, tracer=tracer)
        assert await producer.publish("traced", b"hello") == 0
        await producer.close()
        received = await asyncio.wait_for(first, 30)
        return received


def test_a_publish_is_one_trace_from_client_to_commit_replication_and_delivery(
    tmp_path: Path,
) -> None:
    tracer, exporter = client_tracer()
    spans_file = str(tmp_path / "spans-{id}.jsonl")
    tracing_section = {"exporter": "file", "path": spans_file, "service_name": "wiber-test"}
    with running_cluster(tmp_path / "cluster", 3, tracing=tracing_section) as cluster:
        leader = asyncio.run(cluster.leader())
        follower = next(n for n in cluster.nodes if n.id != leader)
        received = asyncio.run(publish_and_receive(cluster.addresses, follower.address, tracer))
        env = {**os.environ, "WIBER_BOOTSTRAP": ",".join(cluster.addresses)}
        cli = subprocess.run(
            [sys.executable, "-m", "wiber", "pub", "--trace", "traced", "from the cli"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert cli.returncode == 0, cli.stderr
    cli_trace = cli.stdout.split("trace ")[1].strip()

    (client_span,) = [s for s in exporter.get_finished_spans() if s.name == "wiber.client.publish"]
    trace_id, client_span_id = span_ids(client_span)
    spans = node_spans(tmp_path)
    in_trace = [s for s in spans if s["trace_id"] == trace_id]

    publish = only(in_trace, "wiber.publish")
    assert (publish["node"], publish["parent_span_id"]) == (leader, client_span_id)
    assert publish["attributes"]["wiber.topic"] == "traced"
    assert publish["attributes"]["wiber.count"] == 1
    assert publish["service"] == "wiber-test"
    propose = only(in_trace, "raft.propose")
    commit = only(in_trace, "raft.commit")
    for span in (propose, commit):
        assert (span["node"], span["parent_span_id"]) == (leader, publish["span_id"])
    assert commit["attributes"]["raft.index"] == propose["attributes"]["raft.index"]
    followers = sorted(n.id for n in cluster.nodes if n.id != leader)
    appends = [s for s in in_trace if s["name"] == "raft.append"]
    assert sorted(s["node"] for s in appends) == followers
    assert all(s["parent_span_id"] == publish["span_id"] for s in appends)
    deliver = only(in_trace, "wiber.deliver")
    assert (deliver["node"], deliver["parent_span_id"]) == (follower.id, publish["span_id"])
    # The subscriber got the context the batch was stored under: the leader's publish span.
    assert received.traceparent is not None
    assert received.traceparent.split("-")[:3] == ["00", trace_id, publish["span_id"]]
    assert int(received.traceparent[-2:], 16) & 1  # sampled

    # Group commit: the leader's fsync of the entry links to the entry's raft.commit span.
    linked = [
        s
        for s in spans
        if s["name"] == "log.fsync"
        and {"trace_id": trace_id, "span_id": commit["span_id"]} in s["links"]
    ]
    assert [s["node"] for s in linked] == [leader]

    # wiber pub --trace printed the trace its publish was stored under.
    cli_publish = only(spans, "wiber.publish", trace_id=cli_trace)
    assert cli_publish["node"] == leader


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def counting_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every span the facade makes, by name: its factory wrapped to count calls."""
    made: list[str] = []
    real = tracing._otel_span

    def counted(tracer: Any, name: str, *rest: Any) -> Any:
        made.append(name)
        return real(tracer, name, *rest)

    monkeypatch.setattr(tracing, "_otel_span", counted)
    yield made


TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def one_node_round_trip(config: NodeConfig) -> m.StoredMessage:
    """Publish with a client trace context to one in-process node; return the delivery."""
    started = asyncio.Event()
    switch_interval = sys.getswitchinterval()  # run_node lowers it for the whole process
    node = asyncio.create_task(run_node(config, started))
    try:
        await asyncio.wait_for(started.wait(), 20)
        async with Client([config.client_address]) as client:
            reply = await client.request(m.Subscribe("t"), leader=False)
            assert isinstance(reply, m.SubscribeOk)
            conn = await client.any_connection()
            queue = conn.deliveries(reply.subscription_id)
            publish = m.Publish("t", [m.PublishMessage(b"x")], traceparent=TP)
            assert isinstance(await client.request(publish, leader=True), m.PublishOk)
            delivery = await asyncio.wait_for(queue.get(), 20)
            assert delivery is not None
            (message,) = delivery.messages
            return message
    finally:
        node.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await node
        sys.setswitchinterval(switch_interval)


def test_with_tracing_off_no_span_is_made_and_the_context_passes_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    config = NodeConfig(data_dir=tmp_path / "off", client_port=port, metrics_port=0)
    with counting_factory(monkeypatch) as made:
        message = asyncio.run(one_node_round_trip(config))
    assert made == []
    assert message.traceparent == TP  # stored as the client sent it, no span of ours between


def test_the_span_counter_sees_the_spans_of_a_traced_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control for the test above: the same round trip with tracing on.
    spans = tmp_path / "spans.jsonl"
    config = NodeConfig(
        data_dir=tmp_path / "on",
        client_port=free_port(),
        metrics_port=0,
        tracing=TracingConfig(exporter="file", path=spans),
    )
    with counting_factory(monkeypatch) as made:
        message = asyncio.run(one_node_round_trip(config))
    assert {"wiber.publish", "raft.propose", "raft.commit", "log.fsync", "wiber.deliver"} <= set(
        made
    )
    records = [json.loads(line) for line in spans.read_text().splitlines()]
    publish = only(records, "wiber.publish")
    assert publish["parent_span_id"] == TP.split("-")[2]
    assert message.traceparent is not None
    assert message.traceparent.split("-")[1:3] == [TP.split("-")[1], publish["span_id"]]


def write_config(tmp_path: Path, section: object) -> Path:
    path = tmp_path / "node.yaml"
    path.write_text(json.dumps({"id": "n1", "tracing": section}))  # JSON is YAML
    return path


@pytest.mark.parametrize(
    ("section", "error"),
    [
        ({"exporter": "jaeger"}, "tracing.exporter: 'jaeger' is not one of"),
        ({"exporter": "file", "sample_ratio": 1.5}, "tracing.sample_ratio: expected a number"),
        ({"exporter": "file", "sample_ratio": True}, "tracing.sample_ratio"),
        ({"exporter": "file", "endpoint": "http://x"}, "only the otlp exporter has an endpoint"),
        ({"exporter": "console", "path": "s.jsonl"}, "only the file exporter writes to a path"),
        ({"exporter": "file", "colour": "red"}, "tracing: unknown key(s): colour"),
        ({"exporter": "file", "service_name": ""}, "tracing.service_name: expected a non-empty"),
        ("yes", "tracing: expected a mapping"),
    ],
)
def test_a_bad_tracing_section_is_named_in_the_error(
    tmp_path: Path, section: object, error: str
) -> None:
    with pytest.raises(ConfigError, match=error.replace("(", r"\(").replace(")", r"\)")):
        load_config(write_config(tmp_path, section))


def test_the_otlp_exporter_without_its_package_is_a_clear_config_error(tmp_path: Path) -> None:
    if importlib.util.find_spec("opentelemetry.exporter") is not None:
        pytest.skip("an OpenTelemetry exporter package is installed here")
    with pytest.raises(ConfigError, match="needs the opentelemetry-exporter-otlp package"):
        load_config(write_config(tmp_path, {"exporter": "otlp"}))


def test_a_good_tracing_section_is_read(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            {"exporter": "file", "path": "spans-{id}.jsonl", "sample_ratio": 0.25},
        )
    )
    assert config.tracing == TracingConfig(
        "file", None, tmp_path / "spans-{id}.jsonl", "wiber", 0.25
    )
    assert load_config(write_config(tmp_path, None)).tracing is None


def test_tracing_off_is_the_shared_disabled_tracer() -> None:
    assert tracing.tracer_for(None, "n1", Path()) is tracing.DISABLED
    assert tracing.tracer_for(TracingConfig("none"), "n1", Path()) is tracing.DISABLED
    assert not tracing.DISABLED.enabled
    with tracing.DISABLED.start_span("x", TP) as span:
        assert span is tracing.NOOP_SPAN
        assert span.traceparent is None


WITHOUT_OPENTELEMETRY = """
import sys, json, pathlib
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Blocker())
from wiber.client import producer
from wiber.runtime import node, server, tracing
from wiber.runtime.config import ConfigError, load_config
out = {"span": producer.current_span(), "tracer": tracing.tracer_for(None, "n1", pathlib.Path())
       is tracing.DISABLED}
path = pathlib.Path(sys.argv[1])
path.write_text('{"tracing": {"exporter": "file"}}')
try:
    load_config(path)
except ConfigError as e:
    out["error"] = str(e)
out["loaded"] = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print(json.dumps(out))
"""


def test_wiber_runs_without_opentelemetry_and_says_what_tracing_needs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_OPENTELEMETRY, str(tmp_path / "node.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["span"] is None
    assert out["tracer"] is True
    assert "tracing.exporter: file needs the opentelemetry-sdk package" in out["error"]
    assert out["loaded"] == []


async def with_node(config: NodeConfig, body: Any) -> Any:
    started = asyncio.Event()
    switch_interval = sys.getswitchinterval()
    node = asyncio.create_task(run_node(config, started))
    try:
        await asyncio.wait_for(started.wait(), 20)
        async with Client([config.client_address]) as client:
            return await body(client)
    finally:
        node.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await node
        sys.setswitchinterval(switch_interval)


def test_producers_send_their_span_or_the_callers_active_span(tmp_path: Path) -> None:
    from opentelemetry import trace

    tracer, exporter = client_tracer()
    config = NodeConfig(data_dir=tmp_path / "n", client_port=free_port(), metrics_port=0)

    async def body(client: Client) -> list[m.StoredMessage]:
        await CausalProducer(client, tracer=tracer).send("t", b"causal, own span")
        with tracer.start_as_current_span("caller"):
            await Producer(client).publish("t", b"plain, caller's span")
            await CausalProducer(client).send("t", b"causal, caller's span")
        await Producer(client).publish("t", b"untraced")
        reply = await client.request(m.Fetch("t", from_offset=0), leader=True)
        assert isinstance(reply, m.FetchOk)
        return reply.messages

    own, plain, causal, untraced = asyncio.run(with_node(config, body))
    spans = {s.name: span_ids(s) for s in exporter.get_finished_spans()}
    assert own.traceparent is not None
    assert own.traceparent.split("-")[1:3] == list(spans["wiber.client.publish"])
    for message in (plain, causal):
        assert message.traceparent is not None
        assert message.traceparent.split("-")[1:3] == list(spans["caller"])
    assert untraced.traceparent is None
    assert trace.get_current_span() is trace.INVALID_SPAN  # the test left no span active
