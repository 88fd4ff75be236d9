"""A structlog processor that turns structured log calls into OpenTelemetry log records (events).

    log = structlog.get_logger("cart")
    log.info("item_added", product__sku="AD115O0K2-A11", cart__quantity=2)

becomes an OpenTelemetry log record with

- event name ``cart.item_added``: ``<logger>.<entity>_<action>``, the logger's name and the
  structlog event (``<entity>_<action>``, lower snake case). A message that does not follow that
  form (``"payment provider slow"``) is sent as a plain log record with the message as its body
  and no event name;
- attributes from the keyword arguments, ``namespace__key`` written as ``namespace.key``
  (``product__sku`` -> ``product.sku``; ``a__b__c`` -> ``a.b.c``);
- every W3C baggage entry of the current context copied into the attributes (``user.id``,
  ``session.id``, ...), unless a keyword argument already set that key;
- the trace context (trace id, span id, flags) of the current span;
- the severity of the structlog method (``debug`` ... ``critical``).

The processor hands the event dict on unchanged, so the usual renderers keep working after it.
It uses only the OpenTelemetry logs API; the SDK set-up (providers, exporters) is the app's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import baggage, context as otel_context
from opentelemetry._logs import Logger, SeverityNumber, get_logger

__all__ = ["OTelEventBridge", "event_name", "attribute_key"]

# <entity>_<action>: two or more lower-case words joined by "_".
_ENTITY_ACTION = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")

# Keys structlog and its standard processors add to the event dict; they are not attributes.
_RESERVED = frozenset({"event", "logger", "logger_name", "level", "log_level", "timestamp", "exc_info", "stack_info", "_record", "_from_structlog"})

_SEVERITY = {
    "debug": (SeverityNumber.DEBUG, "DEBUG"),
    "info": (SeverityNumber.INFO, "INFO"),
    "msg": (SeverityNumber.INFO, "INFO"),
    "warning": (SeverityNumber.WARN, "WARN"),
    "warn": (SeverityNumber.WARN, "WARN"),
    "error": (SeverityNumber.ERROR, "ERROR"),
    "exception": (SeverityNumber.ERROR, "ERROR"),
    "critical": (SeverityNumber.FATAL, "FATAL"),
    "fatal": (SeverityNumber.FATAL, "FATAL"),
}


def event_name(logger_name: str | None, event: str) -> str | None:
    """``<logger>.<entity>_<action>``, or None when ``event`` is not ``<entity>_<action>``."""
    if not logger_name or not _ENTITY_ACTION.match(event):
        return None
    return f"{logger_name}.{event}"


def attribute_key(kwarg: str) -> str:
    """``namespace__key`` -> ``namespace.key`` (each double underscore is a dot)."""
    return kwarg.replace("__", ".")


def _attribute_value(value: Any) -> Any:
    """OpenTelemetry attribute values: str, bool, int, float, or homogeneous sequences of them."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items = [v if isinstance(v, (str, bool, int, float)) else str(v) for v in value if v is not None]
        if items and all(type(i) is type(items[0]) for i in items):
            return items
        return [str(i) for i in items]
    return str(value)


class OTelEventBridge:
    """structlog processor: emits each log call as an OpenTelemetry log record.

    ``logger_name_key``: event-dict key holding the logger name (``structlog.stdlib.add_logger_name``
    writes ``logger``); when absent, the wrapped logger's ``name`` is used, then ``default_logger``.
    ``otel_logger``: the OpenTelemetry logger to emit with (default: ``get_logger(scope_name)``
    from the global logger provider).
    """

    def __init__(self, *, default_logger: str = "app", logger_name_key: str = "logger", scope_name: str = "otel_structlog", otel_logger: Logger | None = None) -> None:
        self._default_logger = default_logger
        self._logger_name_key = logger_name_key
        self._scope_name = scope_name
        self._otel_logger = otel_logger

    def _logger(self) -> Logger:
        if self._otel_logger is None:
            self._otel_logger = get_logger(self._scope_name)
        return self._otel_logger

    def __call__(self, logger: Any, method_name: str, event_dict: Mapping[str, Any]) -> Mapping[str, Any]:
        message = str(event_dict.get("event", ""))
        logger_name = event_dict.get(self._logger_name_key) or getattr(logger, "name", None) or self._default_logger
        name = event_name(str(logger_name), message)

        attributes: dict[str, Any] = {}
        for key, value in event_dict.items():
            if key in _RESERVED or key.startswith("_") or value is None:
                continue
            attributes[attribute_key(key)] = _attribute_value(value)
        ctx = otel_context.get_current()
        for key, value in baggage.get_all(ctx).items():
            attributes.setdefault(key, _attribute_value(value))

        severity_number, severity_text = _SEVERITY.get(method_name, (SeverityNumber.INFO, "INFO"))
        self._logger().emit(
            timestamp=time.time_ns(),
            context=ctx,
            severity_number=severity_number,
            severity_text=severity_text,
            body=None if name else message,
            attributes=attributes,
            event_name=name,
        )
        return event_dict
