"""The one HTTP transport every remote backend goes through.

:class:`HTTPTransport` sends each request to one of the backend's endpoints (``base_url`` or a
list of them, chosen by :mod:`rerankit.backends._endpoints`: fewest in flight, circuit breakers,
retry budget), keeps per endpoint a pooled ``httpx.Client`` and, per event loop,
``httpx.AsyncClient`` pools of at most :data:`POOL_SIZE` connections (created on first use, closed
by :meth:`~HTTPTransport.close` / :meth:`~HTTPTransport.aclose`), posts JSON with the key in an
``Authorization`` header, retries what is worth retrying with tenacity, and turns every failure
into one of :mod:`rerankit.errors`:

* retried: 408, 409, 425, 429, 500, 502, 503, 504, connect errors, timeouts, dropped connections;
  waiting ``Retry-After`` (seconds or HTTP date, capped by ``max_retry_wait``) when the provider sends
  it, else exponential backoff with jitter from ``backoff_base``; at most ``max_retries`` retries,
  within the retry budget and, with a ``deadline``, never past it; a retry goes at once to another
  healthy endpoint when there is one, and stops when every endpoint's breaker is open;
* never retried: any other status (400, 401, 402, 403, 404, 422, 498, 501, ...), redirects (never
  followed, so the key never travels to another address) and answers that are not JSON.

Each retry is logged on ``logging.getLogger("rerankit")`` (provider, status or fault, wait); keys
never appear in logs, reprs or errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    stop_before_delay,
    wait_exponential,
    wait_random,
)

from rerankit.backends._endpoints import (
    BackendHealth,
    CallRoute,
    Clock,
    Endpoint,
    EndpointRouter,
    RetryBudget,
)
from rerankit.backends._settings import TransportSettings
from rerankit.backends.responses import (
    REQUEST_ID_HEADERS,
    Reply,
    error_class,
    parse_retry_after,
    provider_message,
    request_id,
    text_snippet,
)
from rerankit.errors import (
    BackendError,
    CircuitOpenError,
    InvalidRequestError,
    MalformedResponseError,
    RerankTimeoutError,
    ServerError,
)

logger = logging.getLogger("rerankit")

#: Statuses worth another try: the provider may answer differently in a moment.
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
USER_AGENT = "rerankit/0.1.0 (+https://rerankit.readthedocs.io)"
#: The most connections in one async pool. httpcore's pool re-scans its queued requests against its
#: connections on every change, so its CPU cost grows with requests x connections; a larger
#: ``max_connections`` is split into several pools of this size (see docs/performance.md).
POOL_SIZE = 8
#: How often a retry's wait checks whether every breaker has opened (then the wait ends early).
SLEEP_SLICE = 0.05


class _AttemptFailed(Exception):
    """One attempt's failure: the error to raise if it is the last, and whether to try again."""

    def __init__(
        self, error: BackendError, *, retryable: bool, reason: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retryable = retryable
        self.reason = reason or type(error).__name__
        self.retry_after = retry_after


@dataclass(frozen=True)
class PathFallback:
    """A second path to try once per endpoint when the first answers one of ``statuses`` (the
    gateway's ``/v1/rerank`` → ``/rerank``); the path that works is kept for that endpoint."""

    path: str
    statuses: frozenset[int]


@dataclass
class _Call:
    """One :meth:`HTTPTransport.post`: its route over the endpoints and what ended it."""

    route: CallRoute
    started: float
    attempts: int = 0
    budget_denied: bool = False
    breakers_open: bool = False


class _LoopPools:
    """The async clients of one event loop: ``connections`` split into pools of at most
    :data:`POOL_SIZE`, each opened when the ones before it are full; a request goes to the least
    busy pool."""

    def __init__(self, make_client: Callable[[int], httpx.AsyncClient], connections: int) -> None:
        self.loop = asyncio.get_running_loop()
        self._make_client = make_client
        self._sizes = [min(POOL_SIZE, connections - start) for start in range(0, connections, POOL_SIZE)]
        self.clients: list[httpx.AsyncClient] = []
        self._busy: list[int] = []

    @property
    def is_closed(self) -> bool:
        return any(client.is_closed for client in self.clients)

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """The least busy client (relative to its size), counted busy while the request runs."""
        opened = len(self.clients)
        index = min(range(opened), key=lambda i: self._busy[i] / self._sizes[i], default=None)
        if index is None or (self._busy[index] >= self._sizes[index] and opened < len(self._sizes)):
            self.clients.append(self._make_client(self._sizes[opened]))
            self._busy.append(0)
            index = opened
        self._busy[index] += 1
        try:
            yield self.clients[index]
        finally:
            self._busy[index] -= 1

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


class HTTPTransport:
    """Posts JSON to one provider's endpoints with pooled connections, retries, breakers and typed errors.

    Thread-safe: each endpoint's sync client is shared by the core's worker threads; its async
    clients belong to the event loop that first used them (a call from another loop gets fresh
    ones), and hold ``max_connections`` between them in pools of at most :data:`POOL_SIZE`.
    ``clock`` and ``rng`` drive the breakers and the retry budget (fakes in tests).

    >>> transport = HTTPTransport(TransportSettings(provider="cohere", base_url="https://api.cohere.com"))
    >>> transport  # doctest: +ELLIPSIS
    HTTPTransport(provider='cohere', base_url='https://api.cohere.com', api_key=None)
    """

    def __init__(
        self, settings: TransportSettings, *, clock: Clock = time.monotonic, rng: random.Random | None = None
    ) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self.router = EndpointRouter(
            settings.provider,
            settings.base_url,
            settings.api_keys(),
            breaker={
                "enabled": settings.circuit_breaker,
                "threshold": settings.breaker_threshold,
                "cooldown": settings.breaker_cooldown,
                "max_cooldown": settings.breaker_max_cooldown,
            },
            budget=RetryBudget(
                ratio=settings.retry_budget_ratio,
                floor=settings.retry_budget_floor,
                window=settings.retry_budget_window,
                enabled=settings.retry_budget,
                clock=clock,
            ),
            clock=clock,
            rng=rng,
        )

    def __repr__(self) -> str:
        key = "SecretStr('**********')" if self.settings.api_key is not None else "None"
        return f"HTTPTransport(provider={self.provider!r}, base_url={self.base_url!r}, api_key={key})"

    @property
    def provider(self) -> str:
        """The provider name errors and logs carry."""
        return self.settings.provider

    @property
    def base_url(self) -> str | list[str]:
        """The address, or the list of addresses when there are several."""
        urls = self.settings.base_url
        return urls[0] if len(urls) == 1 else list(urls)

    @property
    def endpoints(self) -> list[Endpoint]:
        """The endpoints, in the order of ``base_url``."""
        return self.router.endpoints

    def health(self, model: str) -> BackendHealth:
        """Each endpoint's breaker state, requests, failures and in-flight count, and the retry budget."""
        return self.router.health(model)

    # -- clients --------------------------------------------------------------------------------

    def _client_options(self, endpoint: Endpoint, connections: int) -> dict[str, Any]:
        return {
            "base_url": endpoint.url,
            "timeout": self.settings.timeout,
            "follow_redirects": False,
            "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            "headers": {"user-agent": USER_AGENT, "accept": "application/json", **self.settings.headers},
        }

    def _sync_client(self, endpoint: Endpoint) -> httpx.Client:
        with self._lock:
            if endpoint.client is None or endpoint.client.is_closed:
                endpoint.client = httpx.Client(
                    **self._client_options(endpoint, self.settings.max_connections)
                )
            return endpoint.client

    def _loop_pools(self, endpoint: Endpoint) -> _LoopPools:
        loop = asyncio.get_running_loop()
        pools = endpoint.pools
        if pools is None or pools.is_closed or pools.loop is not loop:
            # A client's connections belong to the loop that opened them.
            pools = endpoint.pools = _LoopPools(
                lambda size: httpx.AsyncClient(**self._client_options(endpoint, size)),
                self.settings.max_connections,
            )
        return pools

    def async_pools(self) -> list[Any]:
        """The httpcore connection pools of the current async clients (none before the first call)."""
        return [
            client._transport._pool
            for endpoint in self.endpoints
            if endpoint.pools is not None
            for client in endpoint.pools.clients
        ]

    def close(self) -> None:
        """Close the pooled sync connections (the async client is closed by :meth:`aclose`)."""
        with self._lock:
            clients = [endpoint.client for endpoint in self.endpoints if endpoint.client is not None]
            for endpoint in self.endpoints:
                endpoint.client = None
        for client in clients:
            client.close()

    async def aclose(self) -> None:
        """Close all pools (an async pool opened on another, finished event loop is just dropped)."""
        self.close()
        loop = asyncio.get_running_loop()
        for endpoint in self.endpoints:
            pools, endpoint.pools = endpoint.pools, None
            if pools is not None and pools.loop is loop:
                await pools.aclose()

    # -- calls ----------------------------------------------------------------------------------

    def post(self, path: str, body: Mapping[str, Any], *, fallback: PathFallback | None = None) -> Reply:
        """POST ``body`` as JSON to ``path`` on an endpoint, retrying per the policy; the 2xx reply."""
        return self.request("POST", path, body, fallback=fallback)

    async def apost(
        self, path: str, body: Mapping[str, Any], *, fallback: PathFallback | None = None
    ) -> Reply:
        """Async :meth:`post`; with a ``deadline`` the whole call, retries included, ends by it."""
        return await self.arequest("POST", path, body, fallback=fallback)

    def get(self, path: str) -> Reply:
        """GET ``path`` (a server's limits, say), with the same routing, retries and errors as :meth:`post`."""
        return self.request("GET", path, None)

    async def aget(self, path: str) -> Reply:
        """Async :meth:`get`."""
        return await self.arequest("GET", path, None)

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        fallback: PathFallback | None = None,
    ) -> Reply:
        """Send ``method`` to ``path`` on an endpoint (``body`` as JSON unless ``None``), retrying per
        the policy; the 2xx reply."""
        call = self._begin()
        try:
            for attempt in Retrying(**self._retry_policy(call), sleep=partial(self._sleep, call)):
                with attempt:
                    call.attempts += 1
                    timeout, _ = self._attempt_budget(call.started)
                    endpoint, probe = self._choose(call)
                    try:
                        reply = self._send_paths(
                            endpoint, method, path, fallback, body, timeout, call.started
                        )
                    except _AttemptFailed as failure:
                        call.route.failed(endpoint, failure.error, probe=probe)
                        raise
                    except BaseException:
                        call.route.abandoned(endpoint, probe=probe)
                        raise
                    call.route.succeeded(endpoint, probe=probe)
                    return reply
        except _AttemptFailed as failure:
            error = self._final_error(failure, call)
        finally:
            call.route.end()
        # Raised outside the handler: the error keeps no link to httpx's request (and its headers).
        raise error

    async def arequest(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        fallback: PathFallback | None = None,
    ) -> Reply:
        """Async :meth:`request`; with a ``deadline`` the whole call, retries included, ends by it."""
        call = self._begin()
        try:
            async for attempt in AsyncRetrying(**self._retry_policy(call), sleep=partial(self._asleep, call)):
                with attempt:
                    call.attempts += 1
                    timeout, remaining = self._attempt_budget(call.started)
                    endpoint, probe = self._choose(call)
                    try:
                        sending = self._asend_paths(
                            endpoint, method, path, fallback, body, timeout, call.started
                        )
                        if remaining is None:
                            reply = await sending
                        else:
                            try:
                                reply = await asyncio.wait_for(sending, remaining)
                            except asyncio.TimeoutError:
                                raise _AttemptFailed(self._deadline_error(), retryable=False) from None
                    except _AttemptFailed as failure:
                        call.route.failed(endpoint, failure.error, probe=probe)
                        raise
                    except BaseException:
                        call.route.abandoned(endpoint, probe=probe)
                        raise
                    call.route.succeeded(endpoint, probe=probe)
                    return reply
        except _AttemptFailed as failure:
            error = self._final_error(failure, call)
        finally:
            call.route.end()
        raise error

    def _begin(self) -> _Call:
        return _Call(CallRoute(self.router), time.monotonic())

    def _choose(self, call: _Call) -> tuple[Endpoint, bool]:
        try:
            chosen = call.route.start()
        except CircuitOpenError as error:
            raise _AttemptFailed(error, retryable=False) from None
        if call.attempts == 1:  # a first attempt that is sent: it earns the retry budget its share
            self.router.budget.record_request()
        return chosen

    def _paths(self, endpoint: Endpoint, path: str, fallback: PathFallback | None) -> list[str]:
        """The paths to try on ``endpoint``: the one that worked there, else ``path`` then the fallback."""
        known = endpoint.paths.get(path)
        if known is not None or fallback is None:
            return [known or path]
        return [path, fallback.path]

    def _send_paths(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        fallback: PathFallback | None,
        body: Mapping[str, Any] | None,
        timeout: float,
        started: float,
    ) -> Reply:
        """Send to ``path`` (or the path that worked on this endpoint before), trying ``fallback``
        once if this endpoint does not serve it."""
        first: _AttemptFailed | None = None
        for candidate in self._paths(endpoint, path, fallback):
            try:
                reply = self._send(endpoint, method, candidate, body, timeout, started)
            except _AttemptFailed as failure:
                first = self._next_path(endpoint, path, fallback, first, failure)
                continue
            endpoint.paths[path] = candidate
            return reply
        raise AssertionError("unreachable")  # pragma: no cover - _next_path raises on the last path

    async def _asend_paths(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        fallback: PathFallback | None,
        body: Mapping[str, Any] | None,
        timeout: float,
        started: float,
    ) -> Reply:
        """Async :meth:`_send_paths`."""
        first: _AttemptFailed | None = None
        for candidate in self._paths(endpoint, path, fallback):
            try:
                reply = await self._asend(endpoint, method, candidate, body, timeout, started)
            except _AttemptFailed as failure:
                first = self._next_path(endpoint, path, fallback, first, failure)
                continue
            endpoint.paths[path] = candidate
            return reply
        raise AssertionError("unreachable")  # pragma: no cover - _next_path raises on the last path

    def _next_path(
        self,
        endpoint: Endpoint,
        path: str,
        fallback: PathFallback | None,
        first: _AttemptFailed | None,
        failure: _AttemptFailed,
    ) -> _AttemptFailed:
        """After ``failure`` on one path: return it to try the fallback path next, or raise."""
        if fallback is None or endpoint.paths.get(path) is not None:
            raise failure
        if first is not None:  # the fallback path failed too
            raise self._both_paths_failed(endpoint, path, fallback, first, failure)
        if failure.error.status_code not in fallback.statuses:
            raise failure
        self.router.count_request(endpoint)
        return failure

    def _both_paths_failed(
        self,
        endpoint: Endpoint,
        path: str,
        fallback: PathFallback,
        first: _AttemptFailed,
        second: _AttemptFailed,
    ) -> _AttemptFailed:
        if second.error.status_code not in fallback.statuses:
            return second
        error = second.error
        message = (
            f"{endpoint.url} serves neither {path} (HTTP {first.error.status_code}) nor {fallback.path} "
            f"(HTTP {error.status_code}); check base_url: {error.message}"
        )
        return _AttemptFailed(
            type(error)(
                message, provider=error.provider, status_code=error.status_code, request_id=error.request_id
            ),
            retryable=False,
        )

    def _send(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        timeout: float,
        started: float,
    ) -> Reply:
        try:
            response = self._sync_client(endpoint).request(
                method, path, json=body, headers=self._auth(endpoint), timeout=timeout
            )
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, endpoint, started) from exc
        return self._reply(response)

    async def _asend(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        timeout: float,
        started: float,
    ) -> Reply:
        try:
            async with self._loop_pools(endpoint).client() as client:
                response = await client.request(
                    method, path, json=body, headers=self._auth(endpoint), timeout=timeout
                )
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, endpoint, started) from exc
        return self._reply(response)

    def _auth(self, endpoint: Endpoint) -> dict[str, str]:
        key = endpoint.api_key
        if key is None:
            return {}
        scheme = self.settings.auth_scheme
        value = f"{scheme} {key.get_secret_value()}" if scheme else key.get_secret_value()
        return {self.settings.auth_header: value}

    def _attempt_budget(self, started: float) -> tuple[float, float | None]:
        """This attempt's httpx timeout and the time left before the deadline (``None``: no deadline)."""
        if self.settings.deadline is None:
            return self.settings.timeout, None
        remaining = self.settings.deadline - (time.monotonic() - started)
        if remaining <= 0:
            raise _AttemptFailed(self._deadline_error(), retryable=False)
        return min(self.settings.timeout, remaining), remaining

    # -- retry policy ---------------------------------------------------------------------------

    def _retry_policy(self, call: _Call) -> dict[str, Any]:
        settings = self.settings
        stops: list[Any] = [stop_after_attempt(settings.max_retries + 1)]
        if settings.deadline is not None:
            stops.append(stop_before_delay(settings.deadline))
        stops.append(partial(self._breakers_open, call))
        stops.append(partial(self._over_budget, call))  # last: asked only when a retry would follow
        return {
            "stop": stop_any(*stops),
            "wait": partial(self._wait, call),
            "retry": retry_if_exception(lambda exc: isinstance(exc, _AttemptFailed) and exc.retryable),
            "before_sleep": partial(self._log_retry, call),
            "reraise": True,
        }

    def _breakers_open(self, call: _Call, retry_state: RetryCallState) -> bool:
        call.breakers_open = not self.router.any_available()
        return call.breakers_open

    def _over_budget(self, call: _Call, retry_state: RetryCallState) -> bool:
        if self.router.budget.try_retry():
            return False
        call.budget_denied = True
        return True

    def _wait(self, call: _Call, retry_state: RetryCallState) -> float:
        if call.route.has_fresh_endpoint():
            return 0.0  # another healthy endpoint: its Retry-After and backoff do not apply
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        cap = self.settings.max_retry_wait
        if isinstance(failure, _AttemptFailed) and failure.retry_after is not None:
            return min(failure.retry_after, cap)
        base = self.settings.backoff_base
        backoff = wait_exponential(multiplier=base, max=cap) + wait_random(0, base)
        return min(backoff(retry_state), cap)

    def _sleep(self, call: _Call, seconds: float) -> None:
        """Wait before a retry; stop waiting when every endpoint's breaker opens (the retry then
        fails at once with :class:`CircuitOpenError`)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and self.router.any_available():
            time.sleep(min(left, SLEEP_SLICE))

    async def _asleep(self, call: _Call, seconds: float) -> None:
        """Async :meth:`_sleep`."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and self.router.any_available():
            await asyncio.sleep(min(left, SLEEP_SLICE))

    def _log_retry(self, call: _Call, retry_state: RetryCallState) -> None:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if not isinstance(failure, _AttemptFailed):  # pragma: no cover - only _AttemptFailed is retried
            return
        error, wait = failure.error, retry_state.upcoming_sleep
        logger.warning(
            "%s: %s on attempt %d of %d, retrying in %.2f s%s%s",
            self.provider,
            failure.reason,
            retry_state.attempt_number,
            self.settings.max_retries + 1,
            wait,
            " on another endpoint" if len(self.endpoints) > 1 and call.route.has_fresh_endpoint() else "",
            f" (request id {error.request_id})" if error.request_id else "",
            extra={"provider": self.provider, "status_code": error.status_code, "retry_wait": wait},
        )

    def _final_error(self, failure: _AttemptFailed, call: _Call) -> BackendError:
        error = failure.error
        if not failure.retryable:
            return error
        if call.breakers_open:  # this failure (or others meanwhile) opened every breaker
            return self.router.open_error(error)
        # Retries ran out (or the deadline or the retry budget left no room for another).
        attempts = call.attempts
        why = "; retry budget exhausted" if call.budget_denied else ""
        return type(error)(
            f"{error.message} (gave up after {attempts} attempt{'s' if attempts != 1 else ''}{why})",
            provider=error.provider,
            status_code=error.status_code,
            request_id=error.request_id,
        )

    # -- turning answers and faults into replies or errors ------------------------------------

    def _deadline_error(self) -> RerankTimeoutError:
        return RerankTimeoutError(
            f"{self.provider} call did not finish within its deadline of {self.settings.deadline:g} s",
            provider=self.provider,
        )

    def _transport_failure(
        self, exc: httpx.TransportError, endpoint: Endpoint, started: float
    ) -> _AttemptFailed:
        deadline = self.settings.deadline
        if isinstance(exc, httpx.TimeoutException):
            if deadline is not None and time.monotonic() - started >= deadline - 1e-3:
                return _AttemptFailed(self._deadline_error(), retryable=False)
            kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
            error: BackendError = RerankTimeoutError(
                f"{self.provider} did not answer within {self.settings.timeout:g} s ({kind} timeout)",
                provider=self.provider,
            )
            return _AttemptFailed(error, retryable=True, reason=f"{kind} timeout")
        if isinstance(exc, httpx.ConnectError):
            message = f"could not connect to {self.provider} at {endpoint.url}: {exc}"
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            message = (
                f"{self.provider} dropped the connection before a complete answer ({type(exc).__name__})"
            )
        else:
            return _AttemptFailed(
                ServerError(
                    f"request to {self.provider} failed: {type(exc).__name__}", provider=self.provider
                ),
                retryable=False,
            )
        reason = "connect error" if isinstance(exc, httpx.ConnectError) else "connection dropped"
        return _AttemptFailed(
            ServerError(self._redact(message), provider=self.provider), retryable=True, reason=reason
        )

    def _reply(self, response: httpx.Response) -> Reply:
        status = response.status_code
        answer_id = request_id(response)
        if answer_id is not None:  # some servers echo the request, key included, as its id
            answer_id = self._redact(answer_id)
        if 200 <= status < 300:
            try:
                payload = json.loads(response.content)
            except ValueError:
                kind = response.headers.get("content-type", "no content type")
                snippet = self._redact(text_snippet(response.text))
                error = MalformedResponseError(
                    f"{self.provider} answered HTTP {status} with a body that is not JSON ({kind}): {snippet!r}",
                    provider=self.provider,
                    status_code=status,
                    request_id=answer_id,
                )
                raise _AttemptFailed(error, retryable=False) from None
            return Reply(self.provider, status, payload, answer_id, response.headers)
        raise self._status_failure(response, answer_id)

    def _status_failure(self, response: httpx.Response, answer_id: str | None) -> _AttemptFailed:
        status = response.status_code
        if 300 <= status < 400:
            target = httpx.URL(response.headers.get("location", ""))
            port = f":{target.port}" if target.port else ""
            where = (
                f"{target.scheme}://{target.host}{port}{target.path}"
                if target.host
                else "an unnamed location"
            )
            error: BackendError = InvalidRequestError(
                f"{self.provider} answered a redirect (HTTP {status}) to {where}; redirects are not "
                "followed so the API key never travels to another address: set base_url to the final address",
                provider=self.provider,
                status_code=status,
                request_id=answer_id,
            )
            return _AttemptFailed(error, retryable=False)
        message = self._redact(provider_message(response))
        text = f"{self.provider} answered HTTP {status}: {message}"
        error = error_class(status)(text, provider=self.provider, status_code=status, request_id=answer_id)
        retryable = status in RETRY_STATUSES
        retry_after = parse_retry_after(response.headers.get("retry-after")) if retryable else None
        return _AttemptFailed(error, retryable=retryable, reason=f"HTTP {status}", retry_after=retry_after)

    def _redact(self, text: str) -> str:
        for key in self.settings.api_keys():
            secret = key.get_secret_value() if key is not None else ""
            if secret:
                text = text.replace(secret, "**********")
        return text


__all__ = [
    "POOL_SIZE",
    "REQUEST_ID_HEADERS",
    "RETRY_STATUSES",
    "HTTPTransport",
    "PathFallback",
    "Reply",
    "TransportSettings",
    "parse_retry_after",
    "provider_message",
]
