"""The one HTTP transport every remote backend goes through.

:class:`HTTPTransport` sends each request to one of the backend's endpoints (``base_url`` or a
list of them, chosen by :mod:`rerankit.backends._endpoints`: fewest in flight, circuit breakers,
retry budget) over pooled connections (:mod:`rerankit.backends._clients`: per endpoint an
``httpx.Client`` and, per event loop, ``httpx.AsyncClient`` pools, created on first use, closed by
:meth:`~HTTPTransport.close` / :meth:`~HTTPTransport.aclose`), sends JSON with the key in its
header, lets a backend's :class:`PathChoice` hook choose the path(s) of each attempt (the
gateway's, :mod:`rerankit.backends._gateway_paths`), and turns every answer and fault into a reply
or one of :mod:`rerankit._errors` (:mod:`rerankit.backends._answers`, by the error policy of
:mod:`rerankit.backends._error_policy`). When to try again and how long to wait is
:mod:`rerankit.backends._retries`.

A call is written once, as a flow (:mod:`rerankit._flow`): a generator that yields :class:`Send`
and :class:`Sleep` actions. :meth:`HTTPTransport.request` drives it with sync I/O,
:meth:`HTTPTransport.arequest` with async I/O; the one difference is that only the async driver
abandons a request in flight when the ``deadline`` passes (``asyncio.wait_for``), while the sync
one relies on each attempt's httpx timeout, cut to the time left. By the error policy:

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx

from rerankit import _tracing
from rerankit._errors import CircuitOpenError
from rerankit._flow import Flow, arun, run
from rerankit.backends import _error_policy as policy
from rerankit.backends._answers import AnswerClassifier, AttemptFailed
from rerankit.backends._clients import EndpointClients
from rerankit.backends._endpoints import (
    BackendHealth,
    Clock,
    Endpoint,
    EndpointRouter,
    RetryQuota,
)
from rerankit.backends._responses import ProviderReply
from rerankit.backends._retries import CallState, RetryPolicy
from rerankit.backends._settings import TransportSettings

#: A request's JSON body (``None``: none, a GET).
Body = Mapping[str, Any] | None


@dataclass(frozen=True)
class Send:
    """An action of a call's flow: send one request; the driver answers with the 2xx
    :class:`~rerankit.backends._responses.ProviderReply` or throws the attempt's :class:`AttemptFailed` in."""

    endpoint: Endpoint
    method: str
    path: str
    body: Body
    #: The httpx timeout of this request (cut to the deadline).
    timeout: float
    #: When the call began (monotonic seconds).
    started: float
    #: When the call's deadline passes (monotonic seconds; ``None``: no deadline). Only the async
    #: driver can abandon a request in flight at that moment.
    deadline_at: float | None


@dataclass(frozen=True)
class Sleep:
    """An action of a call's flow: wait this long before the next attempt (less, when every
    endpoint's breaker opens meanwhile)."""

    seconds: float


class PathChoice(Protocol):
    """A backend's hook for the path(s) one attempt sends to (the gateway's ``/v1/rerank`` →
    ``/rerank``, :class:`rerankit.backends._gateway_paths.PathFallback`).

    ``attempt`` is a flow: it sends by delegating to ``send(path)`` (``yield from``), as often as it
    likes within the attempt, and returns the reply or raises the attempt's failure.
    """

    def attempt(
        self, endpoint: Endpoint, path: str, send: Callable[[str], Flow[Send, ProviderReply]]
    ) -> Flow[Send, ProviderReply]: ...


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
        self.answers = AnswerClassifier(settings)
        #: The endpoints' pooled connections.
        self.clients = EndpointClients(settings)
        self.router = EndpointRouter(
            settings.provider,
            settings.base_url,
            settings.api_keys(),
            breakers=settings,
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

    def post(
        self, path: str, body: Mapping[str, Any], *, fallback: PathChoice | None = None
    ) -> ProviderReply:
        """POST ``body`` as JSON to ``path`` on an endpoint, retrying per the policy; the 2xx reply."""
        return self.request("POST", path, body, fallback=fallback)

    async def apost(
        self, path: str, body: Mapping[str, Any], *, fallback: PathChoice | None = None
    ) -> ProviderReply:
        """Async :meth:`post`; with a ``deadline`` the whole call, retries included, ends by it."""
        return await self.arequest("POST", path, body, fallback=fallback)

    def get(self, path: str) -> ProviderReply:
        """GET ``path`` (a server's limits, say), with the same routing, retries and errors as :meth:`post`."""
        return self.request("GET", path, None)

    async def aget(self, path: str) -> ProviderReply:
        """Async :meth:`get`."""
        return await self.arequest("GET", path, None)

    def request(
        self, method: str, path: str, body: Body, *, fallback: PathChoice | None = None
    ) -> ProviderReply:
        """Send ``method`` to ``path`` on an endpoint (``body`` as JSON unless ``None``), retrying per
        the policy; the 2xx reply. ``fallback`` chooses the path(s) of each attempt (the gateway's)."""
        return run(self._call(method, path, body, fallback), self._do)

    async def arequest(
        self, method: str, path: str, body: Body, *, fallback: PathChoice | None = None
    ) -> ProviderReply:
        """Async :meth:`request`; with a ``deadline`` the whole call, retries included, ends by it
        (the request in flight is abandoned when it passes)."""
        return await arun(self._call(method, path, body, fallback), self._ado)

    # -- the flow of one call, written once (sans I/O), and its two drivers -----------------------

    def _call(
        self, method: str, path: str, body: Body, fallback: PathChoice | None
    ) -> Flow[Send | Sleep, ProviderReply]:
        """One call: its attempts, the waits between them, the breakers told of each, its final error."""
        call = self.retries.begin()
        waits: list[float] = []
        try:
            for attempt in self.retries.attempts(call, waits):
                if waits:
                    yield Sleep(float(waits.pop()))
                with attempt:
                    call.attempts += 1
                    timeout, deadline_at = self._attempt_budget(call.started)
                    endpoint, probe = self._choose(call)
                    try:
                        with _tracing.http_attempt(
                            self.provider, endpoint, probe, call.attempts, method, path
                        ):
                            request = Send(endpoint, method, path, body, timeout, call.started, deadline_at)
                            reply = yield from self._attempt(request, fallback)
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

    def _attempt(self, request: Send, fallback: PathChoice | None) -> Flow[Send, ProviderReply]:
        """One attempt: ``request``, or the requests ``fallback`` makes of it (each one after the
        first is counted on the endpoint)."""
        sent = 0

        def send(path: str) -> Flow[Send, ProviderReply]:
            nonlocal sent
            if sent:
                self.router.count_request(request.endpoint)
            sent += 1
            return (yield replace(request, path=path))

        if fallback is None:
            return (yield from send(request.path))
        return (yield from fallback.attempt(request.endpoint, request.path, send))

    def _do(self, action: Send | Sleep) -> ProviderReply | None:
        """The sync driver's I/O: one request on the endpoint's pooled ``httpx.Client``, or a wait.
        An attempt in flight is bounded by its httpx timeout (cut to the deadline), not abandoned."""
        if isinstance(action, Sleep):
            self.retries.sleep(action.seconds)
            return None
        try:
            response = self.clients.sync_client(action.endpoint).request(**self._request(action))
        except httpx.TransportError as exc:
            raise self.answers.transport_failure(exc, action.endpoint.url, action.started) from exc
        return self.answers.reply(response)

    async def _ado(self, action: Send | Sleep) -> ProviderReply | None:
        """The async driver's I/O, as :meth:`_do`, with the one difference: with a ``deadline``, a
        request still in flight when it passes is cancelled (``asyncio.wait_for``) and the attempt
        fails with the deadline error."""
        if isinstance(action, Sleep):
            await self.retries.asleep(action.seconds)
            return None
        if action.deadline_at is None:
            return await self._asend(action)
        try:
            return await asyncio.wait_for(self._asend(action), action.deadline_at - time.monotonic())
        except asyncio.TimeoutError:
            raise AttemptFailed(self.answers.deadline_error(), policy.DEADLINE) from None

    async def _asend(self, action: Send) -> ProviderReply:
        try:
            async with self.clients.loop_pools(action.endpoint).client() as client:
                response = await client.request(**self._request(action))
        except httpx.TransportError as exc:
            raise self.answers.transport_failure(exc, action.endpoint.url, action.started) from exc
        return self.answers.reply(response)

    def _request(self, action: Send) -> dict[str, Any]:
        """The arguments of ``httpx.Client.request`` / ``httpx.AsyncClient.request`` for ``action``."""
        return {
            "method": action.method,
            "url": action.path,
            "json": action.body,
            "headers": _tracing.propagated(self._auth(action.endpoint)),
            "timeout": action.timeout,
        }

    def _choose(self, call: CallState) -> tuple[Endpoint, bool]:
        try:
            return call.route.start()
        except CircuitOpenError as error:
            raise AttemptFailed(error, policy.CIRCUIT_OPEN) from None

    def _auth(self, endpoint: Endpoint) -> dict[str, str]:
        key = endpoint.api_key
        if key is None:
            return {}
        scheme = self.settings.auth_scheme
        value = f"{scheme} {key.get_secret_value()}" if scheme else key.get_secret_value()
        return {self.settings.auth_header: value}

    def _attempt_budget(self, started: float) -> tuple[float, float | None]:
        """This attempt's httpx timeout and when the deadline passes (monotonic; ``None``: no deadline)."""
        if self.settings.deadline is None:
            return self.settings.timeout, None
        deadline_at = started + self.settings.deadline
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise AttemptFailed(self.answers.deadline_error(), policy.DEADLINE)
        return min(self.settings.timeout, remaining), deadline_at


__all__ = ["HTTPTransport", "PathChoice", "Send", "Sleep"]
