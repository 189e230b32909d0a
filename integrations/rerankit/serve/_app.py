"""The Starlette app: the rerank routes over the core, plus ``/health``, ``/info`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rerankit import _tracing
from rerankit._documents import needs_fetch
from rerankit._errors import (
    AuthenticationError,
    InvalidInputError,
    RateLimitError,
    RerankError,
    RerankTimeoutError,
)
from rerankit._validation import check_documents, check_query, check_score_threshold, check_top_n
from rerankit.serve._admission import Admission, DeadlineExceeded, Overloaded, within_deadline
from rerankit.serve._auth import is_authorized
from rerankit.serve._config import ServeConfig
from rerankit.serve._disconnect import ClientDisconnected, unless_disconnected
from rerankit.serve._errors import ErrorStyle, HTTPProblem, error_response, exception_handlers, new_request_id
from rerankit.serve._json import JSONBodyError, parse_json_body
from rerankit.serve._metrics import ServeMetrics
from rerankit.serve._models import ServedModel
from rerankit.serve._openapi import openapi_document
from rerankit.serve._schemas import RerankRequest, document_texts, rerank_body

logger = logging.getLogger("rerankit.serve")

#: The status a request whose client hung up is counted with (nginx's "client closed request");
#: nothing is sent, the connection being gone.
CLIENT_CLOSED = 499

#: (path, error style, ``return_documents`` default): Jina and vLLM echo documents unless told not
#: to; Cohere's v2 API never echoes them.
RERANK_ROUTES: tuple[tuple[str, ErrorStyle, bool], ...] = (
    ("/v1/rerank", "openai", True),
    ("/rerank", "openai", True),
    ("/v2/rerank", "cohere", False),
)


class RerankService:
    """One server's state: config, the served model, admission, metrics; the route handlers.

    Args:
        config: what to serve and the limits.
        on_load_failure: called (on the event loop) when the model fails to load; the CLI stops the
            server with it. Defaults to logging only; ``/health`` then answers 503 with the error.
    """

    def __init__(self, config: ServeConfig, on_load_failure: Callable[[BaseException], None] | None = None):
        self.config = config
        self.model = ServedModel(config)
        self.admission = Admission(
            max_queue=config.max_queue, deadline=config.request_timeout, retry_after=config.retry_after
        )
        self.metrics = ServeMetrics(config.max_queue)
        self.metrics.watch(self.admission)
        self.on_load_failure = on_load_failure

    # -- lifecycle ----------------------------------------------------------------------------

    async def load(self) -> None:
        """Load the model in a worker thread; the server answers ``/health`` 503 meanwhile."""
        try:
            await asyncio.to_thread(self.model.load)
        except Exception as exc:
            self.model.load_error = exc
            logger.error("could not load %s: %s", self.config.spec, exc)
            if self.on_load_failure is not None:
                self.on_load_failure(exc)
            return
        self.metrics.ready.set(1)

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        loading = asyncio.create_task(self.load())
        try:
            yield
        finally:
            self.metrics.ready.set(0)
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
            await self.model.aclose()

    # -- routes -------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        routes = [
            Route(path, self._rerank_endpoint(path, style, echo), methods=["POST"])
            for path, style, echo in RERANK_ROUTES
        ]
        routes += [
            Route("/health", self.health, methods=["GET"]),
            Route("/info", self.info, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]
        return routes

    async def openapi(self, request: Request) -> JSONResponse:
        """The API as OpenAPI 3.1: the rerank routes' bodies, the error bodies, the auth scheme."""
        return JSONResponse(openapi_document(self.config))

    async def health(self, request: Request) -> JSONResponse:
        """200 once the model is loaded; 503 while it loads or when it failed to."""
        if self.model.ready:
            return JSONResponse({"status": "ok", "model": self.config.model_name})
        if self.model.load_error is not None:
            return JSONResponse({"status": "failed", "error": str(self.model.load_error)}, status_code=503)
        return JSONResponse(
            {"status": "loading"}, status_code=503, headers={"retry-after": str(self.config.retry_after)}
        )

    async def info(self, request: Request) -> JSONResponse:
        """What is served, what its scores are (the ``score_threshold`` scale) and the limits."""
        backend = self.model.reranker.backend if self.model.reranker else None
        scale = self.model.reranker.score_scale if self.model.reranker else None
        return JSONResponse(
            {
                "model": self.config.model_name,
                "spec": self.config.spec,
                "backend": backend.name if backend else None,
                "ready": self.model.ready,
                "instruction": self.model.takes_instruction,
                "score_kind": scale.kind if scale else None,
                "score_range": list(scale.range) if scale and scale.range else None,
                "auth": self.config.api_key is not None,
                "routes": [path for path, _, _ in RERANK_ROUTES],
                "limits": {
                    "max_documents_per_request": self.config.max_documents_per_request,
                    "max_request_bytes": self.config.max_request_bytes,
                    "max_queue": self.config.max_queue,
                    "request_timeout_s": self.config.request_timeout,
                },
            }
        )

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), media_type=self.metrics.content_type)

    def _rerank_endpoint(self, path: str, style: ErrorStyle, echo: bool) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            request_id = new_request_id()
            try:
                response: Response = await self._rerank(request, request_id, style, echo)
            except HTTPProblem as problem:
                response = error_response(problem, style, request_id)
            except ClientDisconnected:  # nobody to answer: its work was cancelled
                response = Response(status_code=CLIENT_CLOSED)
            except Exception:
                logger.exception("rerank request %s failed", request_id)
                response = error_response(HTTPProblem(500, "internal server error"), style, request_id)
            self.metrics.observe(path, response.status_code, time.perf_counter() - started)
            return response

        # The caller's W3C trace context continues here, and the calls made count on this page.
        return _tracing.traced_endpoint(path, endpoint, self.metrics.core)

    async def _rerank(self, request: Request, request_id: str, style: ErrorStyle, echo: bool) -> Response:
        if not is_authorized(request.headers.get("authorization"), self.config.api_key):
            raise HTTPProblem(401, "invalid or missing API key: send Authorization: Bearer <key>")
        if not self.model.ready:
            raise HTTPProblem(
                503, "the model is still loading; retry shortly", headers=self._retry_after_header()
            )
        self._check_content_type(request)
        parsed = self._parse(await self._read_body(request))
        if parsed.model is not None and parsed.model != self.config.model_name:
            raise HTTPProblem(
                404,
                f"model {parsed.model!r} is not served here; this server serves {self.config.model_name!r}",
            )
        try:
            query = check_query(parsed.query)
            documents = document_texts(parsed.documents)
            limits = self.model.reranker.images if self.model.reranker is not None else None
            if isinstance(documents, list) and needs_fetch(documents):  # images: decoded off the loop
                texts = await asyncio.to_thread(check_documents, documents, limits)
            else:
                texts = check_documents(documents, limits)
            top_n = check_top_n(parsed.top_n)
            score_threshold = check_score_threshold(parsed.score_threshold)
        except InvalidInputError as exc:
            raise HTTPProblem(400, exc.message) from None
        if len(texts) > self.config.max_documents_per_request:
            raise HTTPProblem(
                413,
                f"too many documents: got {len(texts)}, the limit is {self.config.max_documents_per_request} per request",
            )
        try:
            reranker = await self.model.reranker_for(parsed.instruction)
            pairs = len(dict.fromkeys(texts))  # identical documents are scored once
            answer = await within_deadline(
                unless_disconnected(
                    request,
                    self.admission.run(
                        pairs,
                        lambda: reranker.arerank(query, texts, top_n=top_n, score_threshold=score_threshold),
                    ),
                ),
                self.config.request_timeout,
            )
        except Overloaded as refused:
            raise HTTPProblem(
                429, refused.message, headers={"retry-after": str(refused.retry_after)}
            ) from None
        except DeadlineExceeded:
            # 504, not 408: 408 says the client was too slow to send its request (RFC 9110 15.5.9);
            # here the whole request arrived and the server (a gateway in front of the model) ran out
            # of time. Clients, rerankit's transport included, retry a 504.
            raise HTTPProblem(
                504,
                f"the request was not scored within the server's {self.config.request_timeout:g} s deadline",
            ) from None
        except InvalidInputError as exc:
            raise HTTPProblem(400, exc.message) from None
        except RerankError as exc:  # a remote backend behind this server failed
            raise HTTPProblem(*_upstream_status(exc)) from None
        tokens = (
            answer.usage.tokens if answer.usage.tokens is not None else self.model.count_tokens(query, texts)
        )
        self.metrics.scored(answer.usage.documents, answer.usage.pairs_scored)
        body = rerank_body(
            answer,
            documents=documents,
            request_id=request_id,
            model=self.config.model_name,
            return_documents=echo if parsed.return_documents is None else parsed.return_documents,
            tokens=tokens,
            cohere_meta=style == "cohere",
        )
        return JSONResponse(body, headers={"x-request-id": request_id})

    def _check_content_type(self, request: Request) -> None:
        """JSON only: ``application/json`` (or ``+json``), or no ``Content-Type`` at all."""
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            raise HTTPProblem(
                415, f"unsupported Content-Type {media_type!r}: send the body as application/json"
            )

    async def _read_body(self, request: Request) -> bytes:
        limit = self.config.max_request_bytes
        too_large = HTTPProblem(413, f"request body too large: the limit is {limit} bytes")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        body = bytearray()
        chunks = request.stream().__aiter__()
        while True:
            try:  # each part of the body within read_timeout: a half-sent body holds nothing for long
                chunk = await asyncio.wait_for(chunks.__anext__(), self.config.read_timeout)
            except StopAsyncIteration:
                return bytes(body)
            except ClientDisconnect:
                raise ClientDisconnected from None
            except asyncio.TimeoutError:
                raise HTTPProblem(
                    408,
                    f"the request body was not received in time: nothing came for {self.config.read_timeout:g} s",
                    headers={"connection": "close"},
                ) from None
            body += chunk
            if len(body) > limit:
                raise too_large

    def _parse(self, body: bytes) -> RerankRequest:
        try:
            payload = parse_json_body(body) if body else None
        except JSONBodyError as exc:
            raise HTTPProblem(400, str(exc)) from None
        if not isinstance(payload, dict):
            raise HTTPProblem(400, "request body must be a JSON object")
        try:
            return RerankRequest.model_validate(payload)
        except ValidationError as exc:
            detail = [
                {"type": error["type"], "loc": ["body", *error["loc"]], "msg": error["msg"]}
                for error in exc.errors(include_url=False, include_input=False, include_context=False)
            ]
            first = detail[0]
            field = ".".join(map(str, first["loc"][1:]))
            raise HTTPProblem(422, f"invalid request: {field}: {first['msg']}", detail=detail) from None

    def _retry_after_header(self) -> dict[str, str]:
        return {"retry-after": str(self.config.retry_after)}


def _upstream_status(error: RerankError) -> tuple[int, str]:
    """The status a failure of the backend behind this server is answered with, and its message."""
    if isinstance(error, RateLimitError):
        return 429, str(error)
    if isinstance(error, RerankTimeoutError):
        return 504, str(error)
    if isinstance(error, AuthenticationError):  # the server's own upstream key: not the client's fault
        return 502, f"the server's backend rejected its credentials: {error}"
    return 502, f"the server's backend failed: {error}"


def create_app(
    config: ServeConfig, *, on_load_failure: Callable[[BaseException], None] | None = None
) -> Starlette:
    """The ASGI app serving ``config``: run it with uvicorn (``rerankit serve`` does).

    The model loads in a worker thread when the app starts (its lifespan); ``/health`` answers 503
    until it is loaded.

    Args:
        config: what to serve and the limits.
        on_load_failure: called when the model fails to load. Defaults to None (``/health`` answers
            503 with the error).

    Returns:
        The Starlette app; ``app.state.service`` is its :class:`RerankService`.

    >>> import uvicorn
    >>> app = create_app(ServeConfig(spec="local/BAAI/bge-reranker-base"))  # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    service = RerankService(config, on_load_failure)
    app = Starlette(
        routes=service.routes(), lifespan=service.lifespan, exception_handlers=exception_handlers()
    )
    app.state.service = service
    return app
