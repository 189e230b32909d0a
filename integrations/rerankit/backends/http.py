"""The one HTTP transport every remote backend goes through.

:class:`HTTPTransport` owns a pooled ``httpx.Client`` and, per event loop, ``httpx.AsyncClient``
pools of at most :data:`POOL_SIZE` connections (created on first use, closed by
:meth:`~HTTPTransport.close` / :meth:`~HTTPTransport.aclose`), posts JSON with the
key in an ``Authorization`` header, retries what is worth retrying with tenacity, and turns every
failure into one of :mod:`rerankit.errors`:

* retried: 408, 409, 425, 429, 500, 502, 503, 504, connect errors, timeouts, dropped connections;
  waiting ``Retry-After`` (seconds or HTTP date, capped by ``max_retry_wait``) when the provider sends
  it, else exponential backoff with jitter from ``backoff_base``; at most ``max_retries`` retries and,
  with a ``deadline``, never past it;
* never retried: any other status (400, 401, 402, 403, 404, 422, 498, 501, ...), redirects (never
  followed, so the key never travels to another address) and answers that are not JSON.

Each retry is logged on ``logging.getLogger("rerankit")`` (provider, status or fault, wait); keys
never appear in logs, reprs or errors.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)

from rerankit.errors import (
    AuthenticationError,
    BackendError,
    ConfigurationError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitError,
    RerankTimeoutError,
    ServerError,
)

logger = logging.getLogger("rerankit")

#: Statuses worth another try: the provider may answer differently in a moment.
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Response headers that carry a request id, most specific first.
REQUEST_ID_HEADERS = (
    "x-request-id",
    "request-id",
    "x-trace-id",
    "x-debug-trace-id",
    "x-amzn-requestid",
    "x-pinecone-request-id",  # pinecone-python-client _internal/http_client.py _extract_request_id
)
USER_AGENT = "rerankit/0.1.0 (+https://rerankit.readthedocs.io)"
#: The most connections in one async pool. httpcore's pool re-scans its queued requests against its
#: connections on every change, so its CPU cost grows with requests x connections; a larger
#: ``max_connections`` is split into several pools of this size (see docs/performance.md).
POOL_SIZE = 8


class TransportSettings(BaseModel):
    """The options every remote backend shares, validated once.

    >>> TransportSettings(provider="cohere", base_url="https://api.cohere.com/").base_url
    'https://api.cohere.com'
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True)

    provider: str
    base_url: str
    api_key: SecretStr | None = None
    auth_scheme: str = "Bearer"
    #: The header the key travels in; with a scheme of ``""`` the key is sent bare (Pinecone's ``Api-Key``).
    auth_header: str = "authorization"
    #: Headers every request carries besides the key (an API version, for instance).
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    deadline: float | None = Field(default=None, gt=0)
    max_retry_wait: float = Field(default=60.0, ge=0)
    backoff_base: float = Field(default=0.5, ge=0)
    max_connections: int = Field(default=64, ge=1)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(
                _describe_invalid_options(exc), provider=values.get("provider")
            ) from None

    @field_validator("base_url")
    @classmethod
    def _normalize_base_url(cls, base_url: str) -> str:
        return _checked_base_url(base_url)


@dataclass(frozen=True)
class Reply:
    """A successful (2xx) answer: its parsed JSON body plus what errors about it should quote."""

    provider: str
    status_code: int
    payload: Any
    request_id: str | None
    headers: Mapping[str, str] = field(repr=False, default_factory=dict)

    def malformed(self, problem: str) -> MalformedResponseError:
        """The error for a body that cannot be trusted, quoting the status and request id."""
        return MalformedResponseError(
            f"{self.provider} answered HTTP {self.status_code} with a malformed body: {problem}",
            provider=self.provider,
            status_code=self.status_code,
            request_id=self.request_id,
        )


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
    """Posts JSON to one provider with pooled connections, retries, deadlines and typed errors.

    Thread-safe: the sync client is shared by the core's worker threads; the async clients belong
    to the event loop that first used them (a call from another loop gets fresh ones), and hold
    ``max_connections`` between them in pools of at most :data:`POOL_SIZE`.

    >>> transport = HTTPTransport(TransportSettings(provider="cohere", base_url="https://api.cohere.com"))
    >>> transport  # doctest: +ELLIPSIS
    HTTPTransport(provider='cohere', base_url='https://api.cohere.com', api_key=None)
    """

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        self._client: httpx.Client | None = None
        self._async_pools: _LoopPools | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        key = "SecretStr('**********')" if self.settings.api_key is not None else "None"
        return (
            f"HTTPTransport(provider={self.provider!r}, base_url={self.settings.base_url!r}, api_key={key})"
        )

    @property
    def provider(self) -> str:
        """The provider name errors and logs carry."""
        return self.settings.provider

    # -- clients --------------------------------------------------------------------------------

    def _client_options(self, connections: int) -> dict[str, Any]:
        return {
            "base_url": self.settings.base_url,
            "timeout": self.settings.timeout,
            "follow_redirects": False,
            "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            "headers": {"user-agent": USER_AGENT, "accept": "application/json", **self.settings.headers},
        }

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._client.is_closed:
                self._client = httpx.Client(**self._client_options(self.settings.max_connections))
            return self._client

    def _loop_pools(self) -> _LoopPools:
        loop = asyncio.get_running_loop()
        if self._async_pools is None or self._async_pools.is_closed or self._async_pools.loop is not loop:
            # A client's connections belong to the loop that opened them.
            self._async_pools = _LoopPools(
                lambda size: httpx.AsyncClient(**self._client_options(size)), self.settings.max_connections
            )
        return self._async_pools

    def async_pools(self) -> list[Any]:
        """The httpcore connection pools of the current async clients (none before the first call)."""
        pools = self._async_pools
        return [] if pools is None else [client._transport._pool for client in pools.clients]

    def close(self) -> None:
        """Close the pooled sync connections (the async client is closed by :meth:`aclose`)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close both pools (an async pool opened on another, finished event loop is just dropped)."""
        self.close()
        pools, self._async_pools = self._async_pools, None
        if pools is not None and pools.loop is asyncio.get_running_loop():
            await pools.aclose()

    # -- calls ----------------------------------------------------------------------------------

    def post(self, path: str, body: Mapping[str, Any]) -> Reply:
        """POST ``body`` as JSON to ``base_url + path``, retrying per the policy; the 2xx reply."""
        return self.request("POST", path, body)

    async def apost(self, path: str, body: Mapping[str, Any]) -> Reply:
        """Async :meth:`post`; with a ``deadline`` the whole call, retries included, ends by it."""
        return await self.arequest("POST", path, body)

    def get(self, path: str) -> Reply:
        """GET ``base_url + path`` (a server's limits, say), with the same retries and errors as :meth:`post`."""
        return self.request("GET", path, None)

    async def aget(self, path: str) -> Reply:
        """Async :meth:`get`."""
        return await self.arequest("GET", path, None)

    def request(self, method: str, path: str, body: Mapping[str, Any] | None) -> Reply:
        """Send ``method`` to ``base_url + path`` (``body`` as JSON unless ``None``), retrying per the policy."""
        started = time.monotonic()
        attempts = 0
        try:
            for attempt in Retrying(**self._retry_policy()):
                with attempt:
                    attempts += 1
                    timeout, _ = self._attempt_budget(started)
                    return self._send(method, path, body, timeout, started)
        except _AttemptFailed as failure:
            error = self._final_error(failure, attempts)
        # Raised outside the handler: the error keeps no link to httpx's request (and its headers).
        raise error

    async def arequest(self, method: str, path: str, body: Mapping[str, Any] | None) -> Reply:
        """Async :meth:`request`; with a ``deadline`` the whole call, retries included, ends by it."""
        started = time.monotonic()
        attempts = 0
        try:
            async for attempt in AsyncRetrying(**self._retry_policy()):
                with attempt:
                    attempts += 1
                    timeout, remaining = self._attempt_budget(started)
                    if remaining is None:
                        return await self._asend(method, path, body, timeout, started)
                    try:
                        return await asyncio.wait_for(
                            self._asend(method, path, body, timeout, started), remaining
                        )
                    except asyncio.TimeoutError:
                        raise _AttemptFailed(self._deadline_error(), retryable=False) from None
        except _AttemptFailed as failure:
            error = self._final_error(failure, attempts)
        raise error

    def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None, timeout: float, started: float
    ) -> Reply:
        try:
            response = self._sync_client().request(
                method, path, json=body, headers=self._auth(), timeout=timeout
            )
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, started) from exc
        return self._reply(response)

    async def _asend(
        self, method: str, path: str, body: Mapping[str, Any] | None, timeout: float, started: float
    ) -> Reply:
        try:
            async with self._loop_pools().client() as client:
                response = await client.request(
                    method, path, json=body, headers=self._auth(), timeout=timeout
                )
        except httpx.TransportError as exc:
            raise self._transport_failure(exc, started) from exc
        return self._reply(response)

    def _auth(self) -> dict[str, str]:
        key = self.settings.api_key
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

    def _retry_policy(self) -> dict[str, Any]:
        settings = self.settings
        stop = stop_after_attempt(settings.max_retries + 1)
        if settings.deadline is not None:
            stop = stop | stop_before_delay(settings.deadline)
        return {
            "stop": stop,
            "wait": self._wait,
            "retry": retry_if_exception(lambda exc: isinstance(exc, _AttemptFailed) and exc.retryable),
            "before_sleep": self._log_retry,
            "reraise": True,
        }

    def _wait(self, retry_state: RetryCallState) -> float:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        cap = self.settings.max_retry_wait
        if isinstance(failure, _AttemptFailed) and failure.retry_after is not None:
            return min(failure.retry_after, cap)
        base = self.settings.backoff_base
        backoff = wait_exponential(multiplier=base, max=cap) + wait_random(0, base)
        return min(backoff(retry_state), cap)

    def _log_retry(self, retry_state: RetryCallState) -> None:
        failure = retry_state.outcome.exception() if retry_state.outcome else None
        if not isinstance(failure, _AttemptFailed):  # pragma: no cover - only _AttemptFailed is retried
            return
        error, wait = failure.error, retry_state.upcoming_sleep
        logger.warning(
            "%s: %s on attempt %d of %d, retrying in %.2f s%s",
            self.provider,
            failure.reason,
            retry_state.attempt_number,
            self.settings.max_retries + 1,
            wait,
            f" (request id {error.request_id})" if error.request_id else "",
            extra={"provider": self.provider, "status_code": error.status_code, "retry_wait": wait},
        )

    def _final_error(self, failure: _AttemptFailed, attempts: int) -> BackendError:
        error = failure.error
        if not failure.retryable:
            return error
        # Retries ran out (or the deadline left no room for another): say how many attempts were made.
        return type(error)(
            f"{error.message} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})",
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

    def _transport_failure(self, exc: httpx.TransportError, started: float) -> _AttemptFailed:
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
            message = f"could not connect to {self.provider} at {self.settings.base_url}: {exc}"
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
        request_id = _request_id(response)
        if request_id is not None:  # some servers echo the request, key included, as its id
            request_id = self._redact(request_id)
        if 200 <= status < 300:
            try:
                payload = json.loads(response.content)
            except ValueError:
                kind = response.headers.get("content-type", "no content type")
                snippet = self._redact(_text_snippet(response.text))
                error = MalformedResponseError(
                    f"{self.provider} answered HTTP {status} with a body that is not JSON ({kind}): {snippet!r}",
                    provider=self.provider,
                    status_code=status,
                    request_id=request_id,
                )
                raise _AttemptFailed(error, retryable=False) from None
            return Reply(self.provider, status, payload, request_id, response.headers)
        raise self._status_failure(response, request_id)

    def _status_failure(self, response: httpx.Response, request_id: str | None) -> _AttemptFailed:
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
                request_id=request_id,
            )
            return _AttemptFailed(error, retryable=False)
        message = self._redact(provider_message(response))
        text = f"{self.provider} answered HTTP {status}: {message}"
        error_class = _error_class(status)
        error = error_class(text, provider=self.provider, status_code=status, request_id=request_id)
        retryable = status in RETRY_STATUSES
        retry_after = parse_retry_after(response.headers.get("retry-after")) if retryable else None
        return _AttemptFailed(error, retryable=retryable, reason=f"HTTP {status}", retry_after=retry_after)

    def _redact(self, text: str) -> str:
        key = self.settings.api_key
        secret = key.get_secret_value() if key is not None else ""
        return text.replace(secret, "**********") if secret else text


def _error_class(status: int) -> type[BackendError]:
    if status in (401, 403):
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status == 408:
        return RerankTimeoutError
    if 400 <= status < 500:
        return InvalidRequestError
    if status >= 500:
        return ServerError
    return MalformedResponseError


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if absent or bad.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc))
    5.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or infinity
        return None
    return max(0.0, seconds)


def provider_message(response: httpx.Response) -> str:
    """The provider's own error message, from any of the error body shapes providers document.

    Handles ``{"message"}`` (Cohere), ``{"detail": str | {"error"} | [{"loc", "msg"}]}`` (Jina,
    DeepInfra, FastAPI servers), ``{"error": {"message"}}`` / ``{"error": str}`` (OpenAI-style
    gateways, vLLM, Infinity) and HTML or text pages (proxies), falling back to the status reason.
    """
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = None
    message = _message_from(payload) if payload is not None else None
    if not message:
        message = _text_snippet(response.text) if response.content else ""
    return message or response.reason_phrase or "no error message"


def _message_from(payload: Any, depth: int = 0) -> str | None:
    if depth > 4:
        return None
    if isinstance(payload, str):
        return payload.strip() or None
    if isinstance(payload, list):
        messages = [m for m in (_message_from(item, depth + 1) for item in payload[:5]) if m]
        return "; ".join(messages) or None
    if isinstance(payload, dict):
        if "msg" in payload:  # a FastAPI/pydantic validation error item
            location = ".".join(str(part) for part in payload.get("loc", []) if part != "body")
            return f"{location}: {payload['msg']}" if location else str(payload["msg"])
        for key in ("message", "error", "detail", "errors", "error_message", "title"):
            if key in payload:
                message = _message_from(payload[key], depth + 1)
                if message:
                    return message
    return None


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _text_snippet(text: str, limit: int = 200) -> str:
    """A short, single-line view of a text or HTML body (an HTML page's title when it has one)."""
    title = _TITLE.search(text)
    plain = title.group(1) if title else _TAG.sub(" ", text)
    plain = _SPACE.sub(" ", html.unescape(plain)).strip()
    return plain if len(plain) <= limit else plain[: limit - 3] + "..."


def _request_id(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if response.headers.get(name):
            return response.headers[name]
    try:
        payload = json.loads(response.content) if response.content else None
    except ValueError:
        return None
    if isinstance(payload, dict):
        for key in ("request_id", "id"):
            if isinstance(payload.get(key), str):
                return payload[key]
    return None


def _checked_base_url(base_url: str) -> str:
    """``base_url`` without its trailing slash, if it is an http(s) address without credentials."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid address: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http(s) address like 'https://host[:port][/prefix]'")
    if url.userinfo:
        raise ValueError("must not hold credentials; pass the key as api_key (or its environment variable)")
    if url.query or url.fragment:
        raise ValueError("must not have a query or fragment")
    return str(url).rstrip("/")


def _describe_invalid_options(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return "invalid option(s): " + "; ".join(problems)


__all__ = [
    "REQUEST_ID_HEADERS",
    "RETRY_STATUSES",
    "HTTPTransport",
    "Reply",
    "TransportSettings",
    "parse_retry_after",
    "provider_message",
]
