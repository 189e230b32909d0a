"""``rerankit serve``: the core as an HTTP rerank server (Starlette on uvicorn).

Serves ``POST /v1/rerank`` and ``/rerank`` (Jina, vLLM and Infinity style) and ``/v2/rerank``
(Cohere v2 style), ``GET /health``, ``/info`` and ``/metrics`` (Prometheus). Concurrent requests
go through :meth:`rerankit.Reranker.arerank` on the server's event loop, so a local model merges
them into shared forward passes. See docs/serve.md.

>>> from rerankit.serve import ServeConfig, run_server
>>> run_server(ServeConfig(spec="local/BAAI/bge-reranker-base"), port=8000)  # doctest: +SKIP

Needs the ``serve`` extra: ``pip install 'rerankit[serve]'``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: name -> "module:attribute", imported on first use: the config (pydantic only) is read without the
#: ``serve`` extra (the CLI takes its defaults from it); the app and runner need starlette and uvicorn.
_LAZY_EXPORTS = {
    "BackgroundServer": "rerankit.serve._background:BackgroundServer",
    "ServeConfig": "rerankit.serve._config:ServeConfig",
    "create_app": "rerankit.serve._app:create_app",
    "run_server": "rerankit.serve._server:run_server",
}

if TYPE_CHECKING:
    from rerankit.serve._app import create_app
    from rerankit.serve._background import BackgroundServer
    from rerankit.serve._config import ServeConfig
    from rerankit.serve._server import run_server


def __getattr__(name: str) -> Any:
    if name in _LAZY_EXPORTS:
        module_name, _, attribute = _LAZY_EXPORTS[name].partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ImportError(
                f"rerankit.serve.{name} needs starlette, uvicorn and prometheus-client ({exc.name}): "
                "pip install 'rerankit[serve]'"
            ) from exc
        value = getattr(module, attribute)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_EXPORTS))


__all__ = ["BackgroundServer", "ServeConfig", "create_app", "run_server"]
