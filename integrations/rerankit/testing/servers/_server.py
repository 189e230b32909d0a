"""The loopback server itself: HTTP, recording, faults; the provider's format does the rest."""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from rerankit.testing.servers._expected_scores import expected_score
from rerankit.testing.servers._faults import (
    ANSWER_FAULTS,
    DEFAULT_MESSAGES,
    DEFAULT_RANDOM_FAULTS,
    DroppedConnection,
    check_fault,
    install_uvicorn_filter,
)
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected
from rerankit.testing.servers._registry import FORMATS

#: A provider name of :data:`PROVIDERS`.
Provider = str


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


class RerankServer:
    """A loopback HTTP server speaking one provider's rerank wire format.

    Args:
        provider: one of :data:`PROVIDERS` (``"gateway"``, ``"cohere"``, ``"jina"``, ``"deepinfra"``, ...),
            or ``"vllm"`` (a server the ``gateway`` backend reaches).
        api_key: the key requests must carry, where the provider's format says (``Authorization:
            Bearer <key>`` for most; any case of ``bearer`` for DeepInfra; ``Api-Key`` for Pinecone);
            ``None`` accepts requests with or without one.
        latency: seconds each request waits before it is answered, or a function of the
            :class:`RecordedRequest` giving them. Settable while running.
        max_documents_per_request: most documents one request may hold (the provider's error above it);
            ``None``: the provider's documented limit (:data:`DEFAULT_MAX_DOCUMENTS_PER_REQUEST`: Cohere 1,000,
            Jina 1,000, DeepInfra 1,024, TEI's ``max_client_batch_size`` 32, ...).
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
        port: the TCP port to listen on; 0 (the default) picks a free one. A server started again
            after :meth:`stop` listens on the port it had, so a test can bring a replica back.

    Use it as a context manager (or call :meth:`start` / :meth:`stop`); it works from notebooks
    (it runs its own event loop in its own thread). ``base_url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        api_key: str | None = "test-key",
        latency: float | Callable[[RecordedRequest], float] = 0.0,
        max_documents_per_request: int | None = None,
        paths: Sequence[str] | None = None,
        unknown_path_status: int = 404,
        fault_rate: float = 0.0,
        faults: Sequence[str] | None = None,
        seed: int = 0,
        retry_after: str = "1",
        stall_seconds: float = 10.0,
        max_pair_tokens: int | None = None,
        count_tokens: Callable[[str], int] | None = None,
        port: int = 0,
    ) -> None:
        if provider not in FORMATS:
            raise ValueError(f"unknown provider {provider!r}; valid providers: {', '.join(FORMATS)}")
        self.provider = provider
        #: The provider's wire format: request model, paths, limits, auth, answer and error bodies.
        self.format: ProviderFormat = FORMATS[provider](self)
        self.api_key = api_key
        self.latency = latency
        self.max_documents_per_request = (
            max_documents_per_request
            if max_documents_per_request is not None
            else self.format.max_documents_per_request
        )
        self.paths = tuple(paths) if paths is not None else self.format.paths
        self.unknown_path_status = unknown_path_status
        self.fault_rate = fault_rate
        self.faults = tuple(faults) if faults is not None else DEFAULT_RANDOM_FAULTS
        for fault in self.faults:
            check_fault(fault)
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
        self._port: int | None = port or None
        self._served_routes: list[Route] = []

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> RerankServer:
        """Start serving on a free port of 127.0.0.1; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        install_uvicorn_filter()
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port or 0))
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
            check_fault(fault)
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
        routes += self.format.routes()
        routes.append(Route("/{unknown_path:path}", endpoint=_Endpoint(self, served=False)))
        self._served_routes = routes[: len(self.paths)]
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
            raise DroppedConnection
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
        fmt = self.format
        try:
            fmt.check_auth(request.headers)
            call = fmt.call(fmt.parse_body(request.headers, body, payload), request.path_params)
            fmt.check_call(call)
            self._check_pair_tokens(call)
            scores = [expected_score(call.query, text) for text in call.texts]
            headers = {"x-request-id": request_id, **fmt.answer_headers(call)}
            if fault == "malformed-json":
                return Response(fmt.malformed_body, media_type="application/json", headers=headers)
            content = fmt.answer(call, scores, fault, request_id)  # may refuse too (a rate limit)
        except Rejected as rejected:
            return self._rejected(rejected, request_id)
        text = json.dumps(content)  # NaN is written as the bare token NaN, as some servers do
        return Response(text, media_type="application/json", headers=headers)

    def _check_pair_tokens(self, call: Call) -> None:
        if self.max_pair_tokens is None or self.count_tokens is None:
            return
        query_tokens = self.count_tokens(call.query)
        for index, text in enumerate(call.texts):
            tokens = query_tokens + self.count_tokens(text)
            if tokens > self.max_pair_tokens:
                raise Rejected(
                    400,
                    f"inputs must have less than {self.max_pair_tokens} tokens. "
                    f"Given: {tokens} (document at index {index})",
                )

    def _error(
        self,
        status: int,
        request_id: str,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> Response:
        message = message or DEFAULT_MESSAGES.get(status, f"error {status}")
        return self._rejected(Rejected(status, message), request_id, headers)

    def _rejected(
        self, rejected: Rejected, request_id: str, headers: dict[str, str] | None = None
    ) -> Response:
        headers = {"x-request-id": request_id, **(headers or {})}
        return self.format.error_response(rejected.status, rejected, request_id, headers)


class _Endpoint:
    """The ASGI endpoint of a route (an ASGI app, so a fault can drop the connection)."""

    def __init__(self, server: RerankServer, *, served: bool = True) -> None:
        self.server = server
        self.served = served

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.server._handle(scope, receive, send, served=self.served)


__all__ = ["Provider", "RecordedRequest", "RerankServer"]
