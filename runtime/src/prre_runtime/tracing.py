"""OpenTelemetry set-up and the W3C trace context carried with every event.

A span's context is stored with each event a request records; the relay puts
it into the Kafka headers and consumers continue the same trace, so one
referral's journey reads as one trace across services.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from threading import Lock
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

logger = logging.getLogger(__name__)


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span to a file as one JSON object per line."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [span.to_json(indent=None) + "\n" for span in spans]
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.writelines(lines)
        return SpanExportResult.SUCCESS


def setup_tracing(
    service: str, otlp_endpoint: str | None, span_log: str | None
) -> TracerProvider:
    """Install the tracer provider for this process and its exporters."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
        )
    if span_log:
        exporter = JsonLinesSpanExporter(Path(span_log.replace("{service}", service)))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument_database_drivers()
    return provider


def _instrument_database_drivers() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    instrumentors = (
        AsyncPGInstrumentor(),  # type: ignore[no-untyped-call]  # untyped upstream
        PsycopgInstrumentor(),
    )
    for instrumentor in instrumentors:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


def current_trace_headers() -> dict[str, str]:
    """The W3C ``traceparent``/``tracestate`` of the active span, if any."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(headers: Mapping[str, str]) -> context.Context:
    return propagate.extract(dict(headers))


def span_log_records(path: Path) -> list[dict[str, Any]]:
    """Read back spans written by :class:`JsonLinesSpanExporter`."""
    if not path.exists():
        return []
    decoder = json.JSONDecoder()
    text = path.read_text(encoding="utf-8")
    records: list[dict[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        record, position = decoder.raw_decode(text, position)
        records.append(record)
    return records
