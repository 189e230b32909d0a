"""How the transport reads what came back: a 2xx reply, or a typed error for a status or a fault.

:class:`AnswerReader` turns an ``httpx`` answer into a :class:`~rerankit.backends._responses.Reply`
(JSON checked) or an :class:`AttemptFailed` carrying the error of the family
(:mod:`rerankit._errors`) and whether another try may help; transport faults (timeouts, refused or
dropped connections) likewise. Every message is redacted of the backend's keys before it is kept.
"""

from __future__ import annotations

import json
import time

import httpx

from rerankit import _tracing
from rerankit._errors import (
    BackendError,
    InvalidRequestError,
    MalformedResponseError,
    RerankTimeoutError,
    ServerError,
)
from rerankit.backends._responses import (
    Reply,
    error_class,
    parse_retry_after,
    provider_message,
    request_id,
    text_snippet,
)
from rerankit.backends._settings import TransportSettings

#: Statuses worth another try: the provider may answer differently in a moment.
RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class AttemptFailed(Exception):
    """One attempt's failure: the error to raise if it is the last, and whether to try again."""

    def __init__(
        self, error: BackendError, *, retryable: bool, reason: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retryable = retryable
        self.reason = reason or type(error).__name__
        self.retry_after = retry_after


class AnswerReader:
    """Reads one backend's answers and faults (its provider name, timeouts and keys from ``settings``)."""

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        self.provider = settings.provider

    def deadline_error(self) -> RerankTimeoutError:
        return RerankTimeoutError(
            f"{self.provider} call did not finish within its deadline of {self.settings.deadline:g} s",
            provider=self.provider,
        )

    def transport_failure(self, exc: httpx.TransportError, url: str, started: float) -> AttemptFailed:
        deadline = self.settings.deadline
        if isinstance(exc, httpx.TimeoutException):
            if deadline is not None and time.monotonic() - started >= deadline - 1e-3:
                return AttemptFailed(self.deadline_error(), retryable=False)
            kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
            error: BackendError = RerankTimeoutError(
                f"{self.provider} did not answer within {self.settings.timeout:g} s ({kind} timeout)",
                provider=self.provider,
            )
            return AttemptFailed(error, retryable=True, reason=f"{kind} timeout")
        if isinstance(exc, httpx.ConnectError):
            message = f"could not connect to {self.provider} at {url}: {exc}"
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            message = (
                f"{self.provider} dropped the connection before a complete answer ({type(exc).__name__})"
            )
        else:
            return AttemptFailed(
                ServerError(
                    f"request to {self.provider} failed: {type(exc).__name__}", provider=self.provider
                ),
                retryable=False,
            )
        reason = "connect error" if isinstance(exc, httpx.ConnectError) else "connection dropped"
        return AttemptFailed(
            ServerError(self.redact(message), provider=self.provider), retryable=True, reason=reason
        )

    def reply(self, response: httpx.Response) -> Reply:
        status = response.status_code
        answer_id = request_id(response)
        if answer_id is not None:  # some servers echo the request, key included, as its id
            answer_id = self.redact(answer_id)
        _tracing.http_answered(status, answer_id)
        if 200 <= status < 300:
            try:
                payload = json.loads(response.content)
            except ValueError:
                kind = response.headers.get("content-type", "no content type")
                snippet = self.redact(text_snippet(response.text))
                error = MalformedResponseError(
                    f"{self.provider} answered HTTP {status} with a body that is not JSON ({kind}): {snippet!r}",
                    provider=self.provider,
                    status_code=status,
                    request_id=answer_id,
                )
                raise AttemptFailed(error, retryable=False) from None
            return Reply(self.provider, status, payload, answer_id, response.headers)
        raise self.status_failure(response, answer_id)

    def status_failure(self, response: httpx.Response, answer_id: str | None) -> AttemptFailed:
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
            return AttemptFailed(error, retryable=False)
        message = self.redact(provider_message(response))
        text = f"{self.provider} answered HTTP {status}: {message}"
        error = error_class(status)(text, provider=self.provider, status_code=status, request_id=answer_id)
        retryable = status in RETRY_STATUSES
        retry_after = parse_retry_after(response.headers.get("retry-after")) if retryable else None
        return AttemptFailed(error, retryable=retryable, reason=f"HTTP {status}", retry_after=retry_after)

    def redact(self, text: str) -> str:
        for key in self.settings.api_keys():
            secret = key.get_secret_value() if key is not None else ""
            if secret:
                text = text.replace(secret, "**********")
        return text


__all__ = ["RETRY_STATUSES", "AnswerReader", "AttemptFailed"]
