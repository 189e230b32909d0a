"""Loopback rerank servers that speak each provider's wire format, for tests, notebooks and benchmarks.

A :class:`RerankServer` runs a real HTTP server (starlette on uvicorn, in a background thread) on a
free port of 127.0.0.1. It checks every request's shape and auth header the way the provider does,
answers with the provider's documented response and error bodies, records what it received, counts
concurrent requests, and can be told to misbehave.

>>> from rerankit import Reranker
>>> with RerankServer("cohere") as server:  # doctest: +SKIP
...     reranker = Reranker("cohere/rerank-v3.5", base_url=server.base_url, api_key="test-key")
...     response = reranker.rerank("what is bm25", ["bm25 is a ranking function", "a fruit"])
...     server.requests[0].json["documents"]
['bm25 is a ranking function', 'a fruit']

Scores are :func:`expected_score` of (query, text), so a test can check that each score landed on
the right document; token counts are :func:`expected_tokens`.

Faults (queue them with :meth:`RerankServer.fail_next`, one per request, first in first out):

==================== ==============================================================================
``"429"``            429 with the provider's error body, no ``Retry-After``
``"429-retry-after"``  429 with ``Retry-After: <server.retry_after>`` (seconds, default ``"1"``)
``"429-retry-after-date"``  429 with ``Retry-After`` as an HTTP date ``retry_after`` seconds ahead
``"NNN"``            any status code (``"400"``, ``"401"``, ``"404"``, ``"500"``, ``"503"``, ...) with the
                     provider's error body for it
``"drop"``           200 status line and headers, then the connection is closed before the body
``"stall"``          no answer for ``server.stall_seconds`` (default 10 s, ended early by ``stop()``)
``"malformed-json"`` 200 with a truncated JSON body
``"html"``           502 with an HTML error page (what a proxy or CDN in front of the API sends)
``"html-200"``       200 with an HTML page (a captive portal or a misrouted base URL)
``"redirect"``       307 to the same path on ``localhost`` (another host than ``127.0.0.1``)
``"bad-index"``      200 with one result's index out of range (DeepInfra: one score too many)
``"dup-index"``      200 with two results for the same index (DeepInfra: one score too many)
``"missing"``        200 with one result left out (DeepInfra: one score too few)
``"nan"``            200 with one score ``NaN``
``"string-score"``   200 with one score sent as a JSON string
==================== ==============================================================================

Answer-shaping faults (the 200 ones) are taken from the queue when the request arrives and apply to
its answer if the request is valid; an invalid request gets its 4xx instead.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import logging
import math
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

Provider = Literal["gateway", "cohere", "jina", "deepinfra"]

PROVIDERS: tuple[str, ...] = ("gateway", "cohere", "jina", "deepinfra")

#: The paths each provider serves when ``paths`` is not given (starlette path syntax).
DEFAULT_PATHS: dict[str, tuple[str, ...]] = {
    "gateway": ("/v1/rerank",),
    "cohere": ("/v2/rerank",),
    "jina": ("/v1/rerank",),
    "deepinfra": ("/v1/inference/{model:path}",),
}

#: The documents one request may carry when ``max_documents`` is not given.
DEFAULT_MAX_DOCUMENTS: dict[str, int] = {"gateway": 1000, "cohere": 1000, "jina": 1000, "deepinfra": 1024}

#: Faults that change a valid request's 200 answer (the others replace the answer).
ANSWER_FAULTS = frozenset({"malformed-json", "bad-index", "dup-index", "missing", "nan", "string-score"})
#: Faults that replace the answer whatever the request holds.
TRANSPORT_FAULTS = frozenset(
    {"429-retry-after", "429-retry-after-date", "drop", "stall", "html", "html-200", "redirect"}
)
#: The pool the random fault mix draws from unless ``faults`` is given: all retryable.
DEFAULT_RANDOM_FAULTS: tuple[str, ...] = ("429", "500", "502", "503", "504", "drop")

_STATUS_FAULT = re.compile(r"^[1-5]\d\d$")
_WORD = re.compile(r"\w+")

_DEFAULT_MESSAGES = {
    400: "invalid request",
    401: "invalid api token",
    402: "payment required: please add a payment method",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    408: "request timeout",
    409: "conflict",
    422: "unprocessable entity",
    425: "too early",
    429: "rate limit exceeded, please retry later",
    498: "blocked input",
    500: "internal server error",
    501: "not implemented",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def expected_score(query: str, text: str) -> float:
    """The score every loopback server gives ``text`` for ``query``: deterministic, in [0, 1).

    Mostly the share of the query's words found in the text, plus a small hash of both so that
    different texts almost never tie.

    >>> expected_score("what is bm25", "bm25 is a ranking function") > expected_score("what is bm25", "a fruit")
    True
    """
    query_words = {word.lower() for word in _WORD.findall(query)}
    text_words = {word.lower() for word in _WORD.findall(text)}
    overlap = len(query_words & text_words) / len(query_words) if query_words else 0.0
    digest = hashlib.sha256(f"{query}\x1f{text}".encode()).digest()
    return 0.9 * overlap + 0.1 * (int.from_bytes(digest[:8], "big") / 2**64)


def expected_tokens(query: str, texts: Iterable[str]) -> int:
    """The token count a loopback server reports: whitespace words of the query and each text, per text.

    >>> expected_tokens("a b", ["c", "d e"])
    7
    """
    query_tokens = len(query.split())
    return sum(query_tokens + len(text.split()) for text in texts)


def expected_search_units(document_count: int) -> int:
    """Cohere-style billing the cohere server reports: one search unit per 100 documents started."""
    return max(1, math.ceil(document_count / 100))


@dataclass(frozen=True)
class RecordedRequest:
    """One request a server received.

    ``headers`` has lower-case names; ``json`` is the parsed body (``None`` if it was not JSON);
    ``fault`` the fault it was answered with, if any; ``request_id`` the id the answer carried
    (header ``x-request-id`` and, where the format has one, a body field); ``client_port`` the
    client's TCP port (the same port on two requests means a reused pooled connection).
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    fault: str | None
    request_id: str
    received_at: float
    client_port: int | None = None


# ---------------------------------------------------------------------------------------------
# Request shapes, as each provider documents them (unknown fields are rejected).


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _CohereRequest(_Strict):
    model: str
    query: str
    documents: list[str]
    top_n: int | None = Field(default=None, ge=1)
    max_tokens_per_doc: int | None = Field(default=None, ge=1)
    priority: int | None = Field(default=None, ge=0, le=999)


class _TextDocument(_Strict):
    text: str


class _JinaRequest(_Strict):
    model: str
    query: str
    documents: list[str | _TextDocument]
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool = True


class _DeepInfraRequest(_Strict):
    queries: list[str]
    documents: list[str]
    instruction: str | None = None
    top_n: int | None = None


class _GatewayDocument(_Strict):
    text: str
    id: str | None = None
    meta: dict[str, Any] | None = None


class _GatewayRequest(_Strict):
    model: str
    query: str
    documents: list[str | _GatewayDocument]
    top_n: int | None = None
    return_documents: bool | None = None
    max_tokens_per_doc: int | None = Field(default=None, ge=1)
    priority: int | None = Field(default=None, ge=0)
    fallbacks: list[str] | None = None


_REQUEST_MODELS: dict[str, type[_Strict]] = {
    "cohere": _CohereRequest,
    "jina": _JinaRequest,
    "deepinfra": _DeepInfraRequest,
    "gateway": _GatewayRequest,
}


class _Rejected(Exception):
    """A request the provider would refuse: its status and message (or FastAPI-style detail list)."""

    def __init__(self, status: int, message: str, detail: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


class _DroppedConnection(Exception):
    """Raised after the status line to make uvicorn close the connection without a body."""


class _HideDroppedConnections(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[0] is _DroppedConnection)


_uvicorn_filter_installed = False
_uvicorn_filter_lock = threading.Lock()


def _install_uvicorn_filter() -> None:
    global _uvicorn_filter_installed
    with _uvicorn_filter_lock:
        if not _uvicorn_filter_installed:
            logging.getLogger("uvicorn.error").addFilter(_HideDroppedConnections())
            _uvicorn_filter_installed = True


class RerankServer:
    """A loopback HTTP server speaking one provider's rerank wire format.

    Args:
        provider: ``"gateway"``, ``"cohere"``, ``"jina"`` or ``"deepinfra"``.
        api_key: the key requests must carry as ``Authorization: Bearer <key>`` (DeepInfra: any case
            of ``bearer``); ``None`` accepts requests with or without one.
        latency: seconds each request waits before it is answered, or a function of the
            :class:`RecordedRequest` giving them. Settable while running.
        max_documents: most documents one request may hold (a 400/422 above it); ``None``: the
            provider's documented limit (Cohere 1,000, Jina 1,000, DeepInfra 1,024, gateway 1,000).
        paths: the paths it serves (starlette syntax); default the provider's documented one.
            Any other path answers ``unknown_path_status`` (e.g. ``paths=["/rerank"]`` makes a
            gateway that only serves ``/rerank``).
        unknown_path_status: the status of a path it does not serve: 404 by default, or 405 / 501.
        fault_rate: chance that a request without a queued fault gets a random one from ``faults``.
        faults: the pool random faults are drawn from (default: 429, 5xx and dropped connections).
        seed: seed of the random fault mix.
        retry_after: the ``Retry-After`` value the ``429-retry-after`` faults send, in seconds.
        stall_seconds: how long the ``stall`` fault withholds its answer.
        max_pair_tokens: reject (400, TEI's ``inputs must have less than N tokens``) a request with
            a (query, document) pair over this many tokens, counted by ``count_tokens``, the way a
            self-hosted server without truncation does; ``None`` (default): no length limit.
        count_tokens: the server's tokenizer, text -> tokens (needed with ``max_pair_tokens``).

    Use it as a context manager (or call :meth:`start` / :meth:`stop`); it works from notebooks
    (it runs its own event loop in its own thread). ``base_url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        api_key: str | None = "test-key",
        latency: float | Callable[[RecordedRequest], float] = 0.0,
        max_documents: int | None = None,
        paths: Sequence[str] | None = None,
        unknown_path_status: int = 404,
        fault_rate: float = 0.0,
        faults: Sequence[str] | None = None,
        seed: int = 0,
        retry_after: str = "1",
        stall_seconds: float = 10.0,
        max_pair_tokens: int | None = None,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; valid providers: {', '.join(PROVIDERS)}")
        self.provider = provider
        self.api_key = api_key
        self.latency = latency
        self.max_documents = max_documents if max_documents is not None else DEFAULT_MAX_DOCUMENTS[provider]
        self.paths = tuple(paths) if paths is not None else DEFAULT_PATHS[provider]
        self.unknown_path_status = unknown_path_status
        self.fault_rate = fault_rate
        self.faults = tuple(faults) if faults is not None else DEFAULT_RANDOM_FAULTS
        for fault in self.faults:
            _check_fault(fault)
        self.retry_after = retry_after
        self.stall_seconds = stall_seconds
        if max_pair_tokens is not None and count_tokens is None:
            raise ValueError("max_pair_tokens needs count_tokens, the server's tokenizer")
        self.max_pair_tokens = max_pair_tokens
        self.count_tokens = count_tokens
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._queued: deque[str] = deque()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._counter = 0
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._served_routes: list[Route] = []

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> RerankServer:
        """Start serving on a free port of 127.0.0.1; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        _install_uvicorn_filter()
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"RerankServer-{self.provider}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.provider} loopback server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving: stalled requests end, open connections close, the thread is joined."""
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> RerankServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.base_url if self._thread is not None else "stopped"
        return f"RerankServer({self.provider!r}, {state})"

    # -- what tests read and steer --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: what a backend's ``base_url`` option takes."""
        if self._port is None:
            raise RuntimeError("the server is not started; use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        if self._port is None:
            raise RuntimeError("the server is not started; use it as a context manager or call start()")
        return self._port

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def max_in_flight(self) -> int:
        """The most requests it was handling at the same time."""
        with self._lock:
            return self._max_in_flight

    @property
    def in_flight(self) -> int:
        """Requests being handled right now."""
        with self._lock:
            return self._in_flight

    def fail_next(self, *faults: str) -> None:
        """Queue faults: the next requests get them, one each, in order (see the module docs)."""
        for fault in faults:
            _check_fault(fault)
        with self._lock:
            self._queued.extend(faults)

    @property
    def pending_faults(self) -> list[str]:
        """Queued faults no request has taken yet."""
        with self._lock:
            return list(self._queued)

    def reset(self) -> None:
        """Forget recorded requests, queued faults and the in-flight peak (keeps running)."""
        with self._lock:
            self._requests.clear()
            self._queued.clear()
            self._max_in_flight = self._in_flight

    # -- serving --------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        routes = [Route(path, endpoint=_Endpoint(self), methods=["POST"]) for path in self.paths]
        routes.append(Route("/{unknown_path:path}", endpoint=_Endpoint(self, served=False)))
        self._served_routes = routes[:-1]
        return Starlette(routes=routes)

    def _unserved_status(self, scope: Scope) -> int:
        """405 for a served path asked with another method, else ``unknown_path_status``."""
        if any(route.matches(scope)[0] is Match.PARTIAL for route in self._served_routes):
            return 405
        return self.unknown_path_status

    def _take_fault(self) -> str | None:
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            if self.fault_rate and self.faults and self._random.random() < self.fault_rate:
                return self._random.choice(self.faults)
            return None

    def _enter(self, recorded: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(recorded)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _next_request_id(self) -> str:
        with self._lock:
            self._counter += 1
            return f"{self.provider}-req-{self._counter:06d}"

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, ending early when the server stops."""
        end = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.05))

    async def _handle(self, scope: Scope, receive: Receive, send: Send, *, served: bool) -> None:
        request = Request(scope, receive)
        body = await request.body()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        request_id = self._next_request_id()
        fault = self._take_fault() if served else None
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            json=payload,
            fault=fault,
            request_id=request_id,
            received_at=time.monotonic(),
            client_port=request.client.port if request.client else None,
        )
        self._enter(recorded)
        try:
            latency = self.latency(recorded) if callable(self.latency) else self.latency
            if latency:
                await self._wait(latency)
            if not served:
                status = self._unserved_status(scope)
                response: Response = self._error(status, request_id)
            elif fault is not None and fault not in ANSWER_FAULTS:
                response = await self._transport_fault(fault, request_id, scope, send)
            else:
                response = self._answer(request, body, payload, fault, request_id)
        finally:
            self._leave()
        await response(scope, receive, send)

    async def _transport_fault(self, fault: str, request_id: str, scope: Scope, send: Send) -> Response:
        headers = {"x-request-id": request_id}
        if fault == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"128")],
                }
            )
            raise _DroppedConnection
        if fault == "stall":
            await self._wait(self.stall_seconds)
            return self._error(503, request_id, "stalled request released")
        if fault == "html":
            page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
            return Response(page, status_code=502, media_type="text/html", headers=headers)
        if fault == "html-200":
            page = (
                "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"
            )
            return Response(page, status_code=200, media_type="text/html", headers=headers)
        if fault == "redirect":
            location = f"http://localhost:{self._port}{scope['path']}"
            return Response(status_code=307, headers={**headers, "location": location})
        if fault == "429-retry-after":
            return self._error(429, request_id, headers={"retry-after": self.retry_after})
        if fault == "429-retry-after-date":
            when = email.utils.formatdate(time.time() + float(self.retry_after), usegmt=True)
            return self._error(429, request_id, headers={"retry-after": when})
        return self._error(int(fault), request_id)

    def _answer(
        self, request: Request, body: bytes, payload: Any, fault: str | None, request_id: str
    ) -> Response:
        try:
            self._check_auth(request.headers.get("authorization"))
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                raise _Rejected(400, "content-type must be application/json")
            if not isinstance(payload, dict):
                raise _Rejected(400, "request body must be a JSON object")
            parsed = self._parse(payload)
            query, texts, top_n, return_documents = self._request_parts(parsed)
        except _Rejected as rejected:
            return self._error(rejected.status, request_id, rejected.message, detail=rejected.detail)
        scores = [expected_score(query, text) for text in texts]
        if fault == "malformed-json":
            truncated = '{"results": [{"index": 0, "relevance'
            return Response(truncated, media_type="application/json", headers={"x-request-id": request_id})
        model = request.path_params.get("model") or payload.get("model", "")
        content = self._format(query, texts, scores, top_n, return_documents, fault, request_id, model)
        text = json.dumps(content)  # NaN is written as the bare token NaN, as some servers do
        return Response(text, media_type="application/json", headers={"x-request-id": request_id})

    def _check_auth(self, header: str | None) -> None:
        if self.api_key is None:
            return
        scheme, _, token = (header or "").partition(" ")
        scheme_ok = scheme == "Bearer" or (self.provider == "deepinfra" and scheme.lower() == "bearer")
        if not header:
            raise _Rejected(401, "no api key supplied")
        if not scheme_ok or token != self.api_key:
            # Echo the key, as some providers do: clients must redact it from their errors.
            raise _Rejected(401, f"{_DEFAULT_MESSAGES[401]}: incorrect API key provided: {token}")

    def _parse(self, payload: dict[str, Any]) -> BaseModel:
        try:
            return _REQUEST_MODELS[self.provider].model_validate(payload)
        except ValidationError as exc:
            detail = [
                {"type": error["type"], "loc": ["body", *error["loc"]], "msg": error["msg"]}
                for error in exc.errors(include_url=False, include_input=False, include_context=False)
            ]
            first = detail[0]
            message = f"invalid request: {'.'.join(map(str, first['loc'][1:]))}: {first['msg']}"
            raise _Rejected(400 if self.provider in ("cohere", "gateway") else 422, message, detail) from None

    def _request_parts(self, parsed: Any) -> tuple[str, list[str], int | None, bool]:
        if self.provider == "deepinfra":
            texts = list(parsed.documents)
            if len(parsed.queries) not in (1, len(texts)):
                raise _Rejected(422, "queries and documents must have the same length")
            query, top_n, return_documents = parsed.queries[0] if parsed.queries else "", None, False
        else:
            query = parsed.query
            texts = [doc if isinstance(doc, str) else doc.text for doc in parsed.documents]
            top_n = parsed.top_n or None  # vLLM-style: 0 means all
            return_documents = bool(parsed.return_documents) if self.provider != "cohere" else False
        if not query.strip():
            raise _Rejected(400, "query is required for rerank")
        if not texts:
            raise _Rejected(400, "documents are required for rerank")
        for index, text in enumerate(texts):
            if not text.strip():
                raise _Rejected(400, f"document text is required for rerank at index {index}")
        if len(texts) > self.max_documents:
            raise _Rejected(
                400, f"too many documents: got {len(texts)}, the limit is {self.max_documents} per request"
            )
        if self.max_pair_tokens is not None and self.count_tokens is not None:
            query_tokens = self.count_tokens(query)
            for index, text in enumerate(texts):
                tokens = query_tokens + self.count_tokens(text)
                if tokens > self.max_pair_tokens:
                    raise _Rejected(
                        400,
                        f"inputs must have less than {self.max_pair_tokens} tokens. "
                        f"Given: {tokens} (document at index {index})",
                    )
        return query, texts, top_n, return_documents

    def _format(
        self,
        query: str,
        texts: list[str],
        scores: list[float],
        top_n: int | None,
        return_documents: bool,
        fault: str | None,
        request_id: str,
        model: str,
    ) -> dict[str, Any]:
        tokens = expected_tokens(query, texts)
        if self.provider == "deepinfra":
            values: list[Any] = list(scores)
            if fault in ("bad-index", "dup-index"):
                values.append(0.5)
            elif fault == "missing":
                values.pop()
            elif fault == "nan":
                values[0] = float("nan")
            elif fault == "string-score":
                values[0] = str(values[0])
            return {
                "request_id": request_id,
                "scores": values,
                "input_tokens": tokens,
                "inference_status": {
                    "status": "succeeded",
                    "runtime_ms": 1,
                    "cost": 0.0,
                    "tokens_input": tokens,
                },
            }
        order = sorted(range(len(texts)), key=lambda i: scores[i], reverse=True)[:top_n]
        results: list[dict[str, Any]] = []
        for index in order:
            result: dict[str, Any] = {"index": index, "relevance_score": scores[index]}
            if return_documents:
                result["document"] = {"text": texts[index]}
            results.append(result)
        _shape_results(results, fault, len(texts))
        if self.provider == "cohere":
            return {
                "id": request_id,
                "results": results,
                "meta": {
                    "api_version": {"version": "2"},
                    "billed_units": {"search_units": expected_search_units(len(texts))},
                },
            }
        if self.provider == "jina":
            return {"model": model, "usage": {"total_tokens": tokens}, "results": results}
        return {
            "id": request_id,
            "results": results,
            "model": model.partition("/")[2] or model,
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
            "extra_fields": {"request_type": "rerank", "provider": model.partition("/")[0], "latency": 1},
        }

    def _error(
        self,
        status: int,
        request_id: str,
        message: str | None = None,
        *,
        detail: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        message = message or _DEFAULT_MESSAGES.get(status, f"error {status}")
        headers = {"x-request-id": request_id, **(headers or {})}
        return JSONResponse(_error_body(self.provider, status, message, request_id, detail), status, headers)


class _Endpoint:
    """The ASGI endpoint of a route (an ASGI app, so a fault can drop the connection)."""

    def __init__(self, server: RerankServer, *, served: bool = True) -> None:
        self.server = server
        self.served = served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.server._handle(scope, receive, send, served=self.served)


def _shape_results(results: list[dict[str, Any]], fault: str | None, count: int) -> None:
    if not results or fault is None:
        return
    if fault == "bad-index":
        results[-1]["index"] = count
    elif fault == "dup-index":
        results[-1]["index"] = results[0]["index"]
    elif fault == "missing":
        results.pop()
    elif fault == "nan":
        results[0]["relevance_score"] = float("nan")
    elif fault == "string-score":
        results[0]["relevance_score"] = str(results[0]["relevance_score"])


def _error_body(
    provider: str, status: int, message: str, request_id: str, detail: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """The error body each provider documents."""
    if provider == "cohere":
        return {"id": request_id, "message": message}
    if provider in ("jina", "deepinfra"):
        if detail is not None:
            return {"detail": detail}
        if provider == "deepinfra" and status != 401:
            return {"detail": {"error": message}}
        return {"detail": message}
    return {
        "is_bifrost_error": False,
        "status_code": status,
        "error": {"message": message, "type": "invalid_request_error" if status < 500 else "server_error"},
    }


def _check_fault(fault: str) -> None:
    if fault in ANSWER_FAULTS or fault in TRANSPORT_FAULTS or _STATUS_FAULT.match(fault):
        return
    valid = sorted(ANSWER_FAULTS | TRANSPORT_FAULTS)
    raise ValueError(f"unknown fault {fault!r}; valid faults: any status code like '503', {', '.join(valid)}")


__all__ = [
    "ANSWER_FAULTS",
    "DEFAULT_MAX_DOCUMENTS",
    "DEFAULT_PATHS",
    "DEFAULT_RANDOM_FAULTS",
    "PROVIDERS",
    "TRANSPORT_FAULTS",
    "RecordedRequest",
    "RerankServer",
    "expected_score",
    "expected_search_units",
    "expected_tokens",
]
