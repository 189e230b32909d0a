"""The one HTTP transport every remote backend goes through.

:class:`HTTPTransport` sends each request to one of the backend's endpoints (``base_url`` or a
list of them, chosen by :mod:`rerankit.backends._endpoints`: fewest in flight, circuit breakers,
retry budget) over pooled connections (:mod:`rerankit.backends._clients`: per endpoint an
``httpx.Client`` and, per event loop, ``httpx.AsyncClient`` pools, created on first use, closed by
:meth:`~HTTPTransport.close` / :meth:`~HTTPTransport.aclose`), sends JSON with the key in its
header, tries a gateway's second path once where the first is not served (:class:`PathFallback`),
and turns every answer and fault into a reply or one of :mod:`rerankit._errors`
(:mod:`rerankit.backends._answers`). When to try again and how long to wait is
:mod:`rerankit.backends._retries`:

* retried: 408, 409, 425, 429, 500, 502, 503, 504, connect errors, timeouts, dropped connections;
  waiting ``Retry-After`` (seconds or HTTP date, capped by ``max_retry_wait``) when the provider sends
  it, else exponential backoff with jitter from ``backoff_base``; at most ``max_retries`` retries,
  within the retry budget (:mod:`rerankit.backends._retry_quota`) and, with a ``deadline``, never past it; a retry goes at once to another
  healthy endpoint when there is one, and stops when every endpoint's breaker is open;
* never retried: any other status (400, 401, 402, 403, 404, 422, 498, 501, ...), redirects (never
  followed, so the key never travels to another address) and answers that are not JSON.

Each retry is logged on ``logging.getLogger("rerankit")`` (provider, status or fault, wait); keys
never appear in logs, reprs or errors.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from rerankit import _tracing
from rerankit._errors import CircuitOpenError
from rerankit.backends import _error_policy as policy
from rerankit.backends._answers import AnswerReader, AttemptFailed
from rerankit.backends._clients import EndpointClients
from rerankit.backends._endpoints import (
    BackendHealth,
    Clock,
    Endpoint,
    EndpointRouter,
    RetryQuota,
)
from rerankit.backends._responses import Reply
from rerankit.backends._retries import CallState, RetryPolicy
from rerankit.backends._settings import TransportSettings


@dataclass(frozen=True)
class PathFallback:
    """A second path to try once per endpoint when the first answers one of ``statuses`` (the
    gateway's ``/v1/rerank`` → ``/rerank``); the path that works is kept for that endpoint."""

    path: str
    statuses: frozenset[int]


class HTTPTransport:
    """Posts JSON to one provider's endpoints with pooled connections, retries, breakers and typed errors.

    Thread-safe: each endpoint's sync client is shared by the core's worker threads; its async
    clients belong to the event loop that first used them (a call from another loop gets fresh
    ones), and hold ``max_connections`` between them in pools of at most ``POOL_SIZE``.
    ``clock`` and ``rng`` drive the breakers and the retry budget (fakes in tests).

    >>> transport = HTTPTransport(TransportSettings(provider="cohere", base_url="https://api.cohere.com"))
    >>> transport  # doctest: +ELLIPSIS
    HTTPTransport(provider='cohere', base_url='https://api.cohere.com', api_key=None)
    """

    def __init__(
        self, settings: TransportSettings, *, clock: Clock = time.monotonic, rng: random.Random | None = None
    ) -> None:
        self.settings = settings
        #: Turns answers and faults into replies or typed errors, redacting the keys.
        self.answers = AnswerReader(settings)
        #: The endpoints' pooled connections.
        self.clients = EndpointClients(settings)
        self.router = EndpointRouter(
            settings.provider,
            settings.base_url,
            settings.api_keys(),
            breaker={
                "enabled": settings.circuit_breaker,
                "threshold": settings.breaker_threshold,
                "failure_span": settings.breaker_failure_span,
                "cooldown": settings.breaker_cooldown,
                "max_cooldown": settings.breaker_max_cooldown,
            },
            budget=RetryQuota(
                tokens=settings.retry_budget_tokens,
                retry_cost=settings.retry_budget_cost,
                enabled=settings.retry_budget,
            ),
            clock=clock,
            rng=rng,
        )
        #: When and how long to wait before another attempt, and the error a call ends with.
        self.retries = RetryPolicy(settings, self.router)

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

    def close(self) -> None:
        """Close the pooled sync connections (the async clients are closed by :meth:`aclose`)."""
        self.clients.close(self.endpoints)

    async def aclose(self) -> None:
        """Close all pools (an async pool opened on another, finished event loop is just dropped)."""
        await self.clients.aclose(self.endpoints)

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
        call = self.retries.begin()
        try:
            for attempt in self.retries.retrying(call):
                with attempt:
                    call.attempts += 1
                    timeout, _ = self._attempt_budget(call.started)
                    endpoint, probe = self._choose(call)
                    try:
                        with _tracing.http_attempt(
                            self.provider, endpoint, probe, call.attempts, method, path
                        ):
                            reply = self._send_paths(
                                endpoint, method, path, fallback, body, timeout, call.started
                            )
                    except AttemptFailed as failure:
                        call.route.failed(endpoint, failure.error, probe=probe)
                        raise
                    except BaseException:
                        call.route.abandoned(endpoint, probe=probe)
                        raise
                    call.route.succeeded(endpoint, probe=probe)
                    self.retries.succeeded(call)
                    return reply
        except AttemptFailed as failure:
            error = self.retries.final_error(failure, call)
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
        call = self.retries.begin()
        try:
            async for attempt in self.retries.aretrying(call):
                with attempt:
                    call.attempts += 1
                    timeout, remaining = self._attempt_budget(call.started)
                    endpoint, probe = self._choose(call)
                    try:
                        with _tracing.http_attempt(
                            self.provider, endpoint, probe, call.attempts, method, path
                        ):
                            sending = self._asend_paths(
                                endpoint, method, path, fallback, body, timeout, call.started
                            )
                            if remaining is None:
                                reply = await sending
                            else:
                                try:
                                    reply = await asyncio.wait_for(sending, remaining)
                                except asyncio.TimeoutError:
                                    raise AttemptFailed(
                                        self.answers.deadline_error(), policy.DEADLINE
                                    ) from None
                    except AttemptFailed as failure:
                        call.route.failed(endpoint, failure.error, probe=probe)
                        raise
                    except BaseException:
                        call.route.abandoned(endpoint, probe=probe)
                        raise
                    call.route.succeeded(endpoint, probe=probe)
                    self.retries.succeeded(call)
                    return reply
        except AttemptFailed as failure:
            error = self.retries.final_error(failure, call)
        raise error

    def _choose(self, call: CallState) -> tuple[Endpoint, bool]:
        try:
            return call.route.start()
        except CircuitOpenError as error:
            raise AttemptFailed(error, policy.CIRCUIT_OPEN) from None

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
        first: AttemptFailed | None = None
        for candidate in self._paths(endpoint, path, fallback):
            try:
                reply = self._send(endpoint, method, candidate, body, timeout, started)
            except AttemptFailed as failure:
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
        first: AttemptFailed | None = None
        for candidate in self._paths(endpoint, path, fallback):
            try:
                reply = await self._asend(endpoint, method, candidate, body, timeout, started)
            except AttemptFailed as failure:
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
        first: AttemptFailed | None,
        failure: AttemptFailed,
    ) -> AttemptFailed:
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
        first: AttemptFailed,
        second: AttemptFailed,
    ) -> AttemptFailed:
        if second.error.status_code not in fallback.statuses:
            return second
        error = second.error
        message = (
            f"{endpoint.url} serves neither {path} (HTTP {first.error.status_code}) nor {fallback.path} "
            f"(HTTP {error.status_code}); check base_url: {error.message}"
        )
        return AttemptFailed(
            type(error)(
                message, provider=error.provider, status_code=error.status_code, request_id=error.request_id
            ),
            second.rule,
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
            response = self.clients.sync_client(endpoint).request(
                method, path, json=body, headers=_tracing.propagated(self._auth(endpoint)), timeout=timeout
            )
        except httpx.TransportError as exc:
            raise self.answers.transport_failure(exc, endpoint.url, started) from exc
        return self.answers.reply(response)

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
            async with self.clients.loop_pools(endpoint).client() as client:
                response = await client.request(
                    method,
                    path,
                    json=body,
                    headers=_tracing.propagated(self._auth(endpoint)),
                    timeout=timeout,
                )
        except httpx.TransportError as exc:
            raise self.answers.transport_failure(exc, endpoint.url, started) from exc
        return self.answers.reply(response)

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
            raise AttemptFailed(self.answers.deadline_error(), policy.DEADLINE)
        return min(self.settings.timeout, remaining), remaining


__all__ = ["HTTPTransport", "PathFallback"]
