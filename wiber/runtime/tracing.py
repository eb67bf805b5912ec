"""Tracing a publish with OpenTelemetry: the runtime's one entry point, free when it is off.

The runtime calls `Tracer.start_span(name, parent_traceparent, attributes)` and never imports
OpenTelemetry itself. A node whose configuration has no `tracing:` section (or
`exporter: none`) gets `DISABLED`: `enabled` is False, `start_span` returns one shared
do-nothing context manager, the span factory (`_otel_span`) is never called and the
`opentelemetry` packages are never imported, so they need not be installed.

With tracing on, each node has its own `TracerProvider` (several nodes may share a process in
tests), sampled parent-based with `sample_ratio` for new traces, exported in batches by the
configured exporter: `otlp` (OTLP over HTTP, needs `opentelemetry-exporter-otlp`), `console`
(stdout), or `file` (one JSON object per span and line, `span_record`, for the harness and the
tests, which collect node files).

Span contexts cross processes as W3C `traceparent` strings (`wiber.codec.messages`): in the
`Publish` frame, in the stored batch (so followers and subscribers continue the trace) and in
`Delivery`/`FetchOk` messages.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, cast

from wiber.codec.messages import is_traceparent
from wiber.runtime.config import TracingConfig

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanContext

Attributes = Mapping[str, str | int | float | bool]


def traceparent_of(context: SpanContext) -> str | None:
    """The W3C header value of an OpenTelemetry span context (None when it is invalid)."""
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def span_context_of(traceparent: str) -> SpanContext | None:
    """The remote span context a traceparent names (None for anything malformed)."""
    if not is_traceparent(traceparent):
        return None
    from opentelemetry.trace import SpanContext, TraceFlags

    _, trace_id, span_id, flags = traceparent.split("-")
    return SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(int(flags, 16))
    )


class Span:
    """An open span as the runtime sees it: its context to pass on, attributes, an error."""

    __slots__ = ("_span",)

    def __init__(self, span: Any) -> None:
        self._span = span

    @property
    def traceparent(self) -> str | None:
        """This span's context as a traceparent, for the next hop (None when off)."""
        return None if self._span is None else traceparent_of(self._span.get_span_context())

    @property
    def context(self) -> SpanContext | None:
        """This span's context, for linking from another span (None when off)."""
        return None if self._span is None else self._span.get_span_context()

    def set_attribute(self, key: str, value: str | int | float | bool) -> None:
        if self._span is not None:
            self._span.set_attribute(key, value)

    def fail(self, code: str, message: str) -> None:
        """Mark the span failed (a refused or failed request), with the error code."""
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_attribute("wiber.error", code)
            self._span.set_status(Status(StatusCode.ERROR, f"{code}: {message}"[:200]))


NOOP_SPAN: Final = Span(None)
_NOOP: Final = contextlib.nullcontext(NOOP_SPAN)


@contextlib.contextmanager
def _otel_span(
    tracer: Any,
    name: str,
    parent: str | None,
    attributes: Attributes | None,
    links: Sequence[SpanContext],
) -> Iterator[Span]:
    """The span factory: one OpenTelemetry span, ended (and failed on an exception) on exit."""
    from opentelemetry import trace

    context = None
    if parent is not None and (remote := span_context_of(parent)) is not None:
        context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    span = tracer.start_span(
        name,
        context=context,
        attributes=attributes,
        links=[trace.Link(c) for c in links] or None,
    )
    try:
        yield Span(span)
    except BaseException as e:
        span.record_exception(e)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(e).__name__))
        raise
    finally:
        span.end()


class Tracer:
    """A node's tracing: spans through OpenTelemetry, or nothing at all (`DISABLED`)."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._provider = provider
        self._tracer = None if provider is None else provider.get_tracer("wiber")
        self.enabled = provider is not None

    def start_span(
        self,
        name: str,
        parent_traceparent: str | None = None,
        attributes: Attributes | None = None,
        links: Sequence[SpanContext] = (),
    ) -> contextlib.AbstractContextManager[Span]:
        """A context manager around one span, child of `parent_traceparent` (a new trace when
        None), linked to `links`. When tracing is off: a shared no-op, nothing allocated."""
        if self._tracer is None:
            return _NOOP
        return _otel_span(self._tracer, name, parent_traceparent, attributes, links)

    def shutdown(self) -> None:
        """Export what is buffered and stop the exporter (on node shutdown)."""
        if self._provider is not None:
            self._provider.shutdown()


DISABLED: Final = Tracer()


def tracer_for(config: TracingConfig | None, node_id: str, data_dir: Path) -> Tracer:
    """The tracer a node's configuration asks for; `DISABLED` without a `tracing:` section."""
    if config is None or config.exporter == "none":
        return DISABLED
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    resource = Resource.create(
        {"service.name": config.service_name, "service.instance.id": node_id}
    )
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(config.sample_ratio))
    )
    provider.add_span_processor(
        BatchSpanProcessor(_exporter(config, node_id, data_dir), schedule_delay_millis=500)
    )
    return Tracer(provider)


def _exporter(config: TracingConfig, node_id: str, data_dir: Path) -> SpanExporter:
    if config.exporter == "otlp":
        # why: an optional package (the config loader checked it is there); imported by name
        # so that type-checking does not need it installed.
        otlp = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        return cast("SpanExporter", otlp.OTLPSpanExporter(endpoint=config.endpoint))
    if config.exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(service_name=config.service_name)
    path = config.path or data_dir / "spans.jsonl"
    # why: duck-typed, so that this module defines it without importing the SDK.
    return cast("SpanExporter", JsonLinesExporter(Path(str(path).replace("{id}", node_id))))


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """One finished span as plain JSON: ids in hex, times in ns since the epoch."""
    context = span.get_span_context()
    parent = span.parent
    resource = span.resource.attributes
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent_span_id": f"{parent.span_id:016x}" if parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
        "service": resource.get("service.name"),
        "node": resource.get("service.instance.id"),
    }


class JsonLinesExporter:
    """Appends each finished span to a file as one JSON object per line (`span_record`)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()  # the batch processor exports from its own thread

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        with self._lock:
            if self._file is None:
                return SpanExportResult.FAILURE
            for span in spans:
                self._file.write(json.dumps(span_record(span), separators=(",", ":")) + "\n")
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
