"""``rerankit serve``: the core as an HTTP rerank server (Starlette on uvicorn).

Serves ``POST /v1/rerank`` and ``/rerank`` (Jina, vLLM and Infinity style) and ``/v2/rerank``
(Cohere v2 style), ``GET /health``, ``/info`` and ``/metrics`` (Prometheus). Concurrent requests
go through :meth:`rerankit.Reranker.arerank` on the server's event loop, so a local model merges
them into shared forward passes. See docs/serve.md.

>>> from rerankit.serve import ServeConfig, run_server
>>> run_server(ServeConfig(spec="local/BAAI/bge-reranker-base"), port=8000)  # doctest: +SKIP

Needs the ``serve`` extra: ``pip install 'rerankit[serve]'``.
"""

from rerankit.serve._app import create_app
from rerankit.serve._background import BackgroundServer
from rerankit.serve._config import ServeConfig
from rerankit.serve._server import run_server

__all__ = ["BackgroundServer", "ServeConfig", "create_app", "run_server"]
