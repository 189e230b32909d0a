"""How the transport reads what came back: a 2xx reply, or a typed error for a status or a fault.

:class:`AnswerClassifier` turns an ``httpx`` answer into a :class:`~rerankit.backends._responses.ProviderReply`
(JSON checked) or an :class:`AttemptFailed` carrying the error of the family
(:mod:`rerankit._errors`) and the rule of :mod:`rerankit.backends._error_policy` it falls under
(whether another try may help); transport faults (timeouts, refused or dropped connections)
likewise. Every message is redacted of the backend's keys before it is kept.
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
from rerankit.backends import _error_policy as policy
from rerankit.backends._error_policy import ErrorRule
from rerankit.backends._responses import (
    ProviderReply,
    parse_retry_after,
    provider_message,
    request_id,
    text_snippet,
)
from rerankit.backends._settings import TransportSettings


class AttemptFailed(Exception):
    """One attempt's failure: the error to raise if it is the last, and the policy's rule it falls
    under (whether to try again, whether the breaker counts it)."""

    def __init__(
        self, error: BackendError, rule: ErrorRule, *, reason: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.rule = rule
        self.reason = reason or type(error).__name__
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether another attempt may help (the rule's ``retried``)."""
        return self.rule.retried


class AnswerClassifier:
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
                return AttemptFailed(self.deadline_error(), policy.DEADLINE)
            kind = type(exc).__name__.replace("Timeout", "").lower() or "request"
            error: BackendError = RerankTimeoutError(
                f"{self.provider} did not answer within {self.settings.timeout:g} s ({kind} timeout)",
                provider=self.provider,
            )
            return AttemptFailed(error, policy.TIMED_OUT, reason=f"{kind} timeout")
        if isinstance(exc, httpx.ConnectError):
            message = f"could not connect to {self.provider} at {url}: {exc}"
            rule, reason = policy.CONNECT_FAILED, "connect error"
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            message = (
                f"{self.provider} dropped the connection before a complete answer ({type(exc).__name__})"
            )
            rule, reason = policy.DROPPED, "connection dropped"
        else:
            return AttemptFailed(
                ServerError(
                    f"request to {self.provider} failed: {type(exc).__name__}", provider=self.provider
                ),
                policy.TRANSPORT_FAILED,
            )
        return AttemptFailed(ServerError(self.redact(message), provider=self.provider), rule, reason=reason)

    def reply(self, response: httpx.Response) -> ProviderReply:
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
                raise AttemptFailed(error, policy.NOT_JSON) from None
            return ProviderReply(self.provider, status, payload, answer_id, response.headers)
        raise self.status_failure(response, answer_id)

    def status_failure(self, response: httpx.Response, answer_id: str | None) -> AttemptFailed:
        status = response.status_code
        rule = policy.rule_for_status(status)
        if rule is policy.REDIRECT:
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
            return AttemptFailed(error, rule)
        message = self.redact(provider_message(response))
        text = f"{self.provider} answered HTTP {status}: {message}"
        error = policy.error_class(status)(
            text, provider=self.provider, status_code=status, request_id=answer_id
        )
        retry_after = parse_retry_after(response.headers.get("retry-after")) if rule.retried else None
        return AttemptFailed(error, rule, reason=f"HTTP {status}", retry_after=retry_after)

    def redact(self, text: str) -> str:
        for key in self.settings.api_keys():
            secret = key.get_secret_value() if key is not None else ""
            if secret:
                text = text.replace(secret, "**********")
        return text


__all__ = ["AnswerClassifier", "AttemptFailed"]
