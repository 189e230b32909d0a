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

from typing import TYPE_CHECKING

from rerankit._lazy import lazy_exports as _lazy_exports  # private: not part of the surface

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


__getattr__, __dir__ = _lazy_exports(
    globals(),
    _LAZY_EXPORTS,
    missing="rerankit.serve.{name} needs starlette, uvicorn and prometheus-client ({missing}): "
    "pip install 'rerankit[serve]'",
)

__all__ = ["BackgroundServer", "ServeConfig", "create_app", "run_server"]
