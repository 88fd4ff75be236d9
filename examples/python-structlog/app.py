"""A small checkout service that emits backend events with structlog and OpenTelemetry.

Run it against otelytics (or any OTLP endpoint):

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python app.py --call http://127.0.0.1:8080/stock
    OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 python app.py

The standard ``OTEL_*`` variables configure the exporters (``OTEL_EXPORTER_OTLP_PROTOCOL``:
``http/protobuf``, the default, or ``grpc``; ``OTEL_EXPORTER_OTLP_ENDPOINT``; ``OTEL_SERVICE_NAME``;
``OTEL_RESOURCE_ATTRIBUTES``). At the end it prints one JSON line with the trace id of the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import requests
import structlog
from opentelemetry import baggage, context, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_structlog import OTelEventBridge


def setup_opentelemetry() -> tuple[TracerProvider, LoggerProvider]:
    """Tracer and logger providers with OTLP exporters chosen by OTEL_EXPORTER_OTLP_PROTOCOL."""
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        sys.exit(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported here: use http/protobuf or grpc")

    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; these are defaults.
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "checkout-py"), "service.version": "1.4.2"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    set_logger_provider(logger_provider)
    RequestsInstrumentor().instrument(tracer_provider=tracer_provider)
    return tracer_provider, logger_provider


def setup_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            OTelEventBridge(),  # every log call also becomes an OpenTelemetry log record
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        # Console output goes to stderr; stdout carries only the final JSON line.
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def checkout(call_url: str | None) -> str:
    """One checkout: a server span, events inside it, and an outgoing HTTP call. Returns the trace id."""
    tracer = trace.get_tracer("checkout")
    cart_log = structlog.get_logger().bind(logger="cart")
    order_log = structlog.get_logger().bind(logger="order")

    # Identity and consent travel as W3C baggage (set by an upstream service or middleware); the
    # bridge copies each entry into the event's attributes. With consent.analytics otelytics'
    # privacy processor keeps the ids (pseudonymised); without it the events are anonymised.
    ctx = baggage.set_baggage("user.id", "u-1042")
    ctx = baggage.set_baggage("session.id", "s-77", context=ctx)
    ctx = baggage.set_baggage("consent.analytics", "true", context=ctx)
    token = context.attach(ctx)
    try:
        # The baggage on the server span too (what a baggage span processor does), so that an event
        # a rule makes of the span has the same identity and consent.
        attributes = {"http.request.method": "POST", "http.route": "/checkout", **baggage.get_all(ctx)}
        with tracer.start_as_current_span("POST /checkout", kind=trace.SpanKind.SERVER, attributes=attributes) as span:
            cart_log.info("item_added", product__sku="AD115O0K2-A11", product__price=59.95, cart__quantity=2)
            if call_url:
                # Instrumented by RequestsInstrumentor: a CLIENT span, and a traceparent header.
                requests.get(call_url, timeout=5).raise_for_status()
            order_log.info("order_placed", order__id="o-9001", order__amount=119.9, order__currency="EUR", order__items=["AD115O0K2-A11"])
            order_log.warning("payment provider slow", provider="acme-pay")  # not <entity>_<action>: a plain log record
            # The order on the span too: a rule can make an event of the request itself (the example
            # config's `checkout` rule makes `purchase` with transaction_id, value and currency).
            span.set_attributes({"order.id": "o-9001", "order.amount": 119.9, "currency": "EUR", "http.response.status_code": 201})
            return format(span.get_span_context().trace_id, "032x")
    finally:
        context.detach(token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call", help="URL to GET inside the checkout span (shows trace propagation)")
    args = parser.parse_args()
    tracer_provider, logger_provider = setup_opentelemetry()
    setup_structlog()
    trace_id = checkout(args.call)
    # Flush before exiting so that nothing buffered is lost.
    tracer_provider.shutdown()
    logger_provider.shutdown()
    print(json.dumps({"trace_id": trace_id}))


if __name__ == "__main__":
    main()
