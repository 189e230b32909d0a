"""Whether the application set OpenTelemetry's global tracer (meter) provider yet: until it does,
the API's stand-ins record nothing, and rerankit's hooks skip their spans (instruments) altogether
(imported only when ``opentelemetry`` is installed)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from opentelemetry import metrics, trace

try:  # the API's stand-in until a meter provider is set (private: without it, assume one is set)
    from opentelemetry.metrics import _internal as metrics_api
    from opentelemetry.metrics._internal import _ProxyMeterProvider as UNSET_METER_PROVIDER
except ImportError:  # pragma: no cover - another API version
    metrics_api, UNSET_METER_PROVIDER = None, ()
#: The API's stand-in until a tracer provider is set: its tracers make only non-recording spans.
UNSET_TRACER_PROVIDER = trace.ProxyTracerProvider
_MISSING: Any = object()
#: The variables naming a provider for the API to load that were set when this module was imported.
_NAMED_AT_IMPORT = frozenset(
    name for name in ("OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER") if name in os.environ
)


def _provider_set(api: Any, name: str, environment: str, unset: Any, get: Callable[[], Any]) -> bool:
    """Whether the application set the global provider ``api.<name>``.

    The API keeps it in a module global, ``None`` until set (opentelemetry-api's
    ``trace/__init__.py`` ``_TRACER_PROVIDER``, ``metrics/_internal/__init__.py`` ``_METER_PROVIDER``);
    its getter also loads one that the ``environment`` variable names, at the cost of an
    ``os.environ`` look-up each time. The global is read where that variable was unset when this
    module was imported, the public getter otherwise (or where the global is not found: another
    API version).
    """
    provider = getattr(api, name, _MISSING) if api is not None else _MISSING
    if provider is _MISSING or environment in _NAMED_AT_IMPORT:
        return not isinstance(get(), unset)
    return provider is not None


def _bound(api: Any, name: str, environment: str, unset: Any, get: Callable[[], Any]) -> Callable[[], bool]:
    """:func:`_provider_set` for one provider, as a function of no arguments (one call a look-up)."""
    if api is None or not hasattr(api, name) or environment in _NAMED_AT_IMPORT:
        return lambda: _provider_set(api, name, environment, unset, get)
    return lambda: getattr(api, name) is not None


#: Whether the global tracer provider is set.
tracer_provider_set = _bound(
    trace, "_TRACER_PROVIDER", "OTEL_PYTHON_TRACER_PROVIDER", UNSET_TRACER_PROVIDER, trace.get_tracer_provider
)
#: Whether the global meter provider is set.
meter_provider_set = _bound(
    metrics_api,
    "_METER_PROVIDER",
    "OTEL_PYTHON_METER_PROVIDER",
    UNSET_METER_PROVIDER,
    metrics.get_meter_provider,
)


__all__ = ["meter_provider_set", "tracer_provider_set"]
