"""The error family: every failure rerankit raises is a :class:`RerankError`.

Input problems also subclass :class:`ValueError` so code written against the frameworks'
own rerankers (which raise ``ValueError``) keeps working. Provider failures carry the
provider's name, HTTP status, message and request id, and never a secret.
"""

from __future__ import annotations


class RerankError(Exception):
    """Base class of every error rerankit raises.

    ``str(error)`` is the message followed by the details that are known:

    >>> error = ServerError("cohere answered HTTP 503: service unavailable", provider="cohere", status_code=503)
    >>> str(error)
    'cohere answered HTTP 503: service unavailable (provider=cohere, status=503)'
    >>> isinstance(error, BackendError), isinstance(InvalidInputError("query is required"), ValueError)
    (True, True)

    Args:
        message: What went wrong, without any secret.
        provider: The backend that failed (``"cohere"``, ``"local"``, ...). Defaults to ``None``.
        status_code: The HTTP status the provider answered. Defaults to ``None``.
        request_id: The provider's request id, to quote to its support. Defaults to ``None``.

    Attributes:
        message: The message, without the details ``str()`` appends.
        provider: The backend that failed, when known.
        status_code: The HTTP status the provider answered, when there was one.
        request_id: The provider's request id, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.request_id = request_id

    def __str__(self) -> str:
        details = []
        if self.provider:
            details.append(f"provider={self.provider}")
        if self.status_code is not None:
            details.append(f"status={self.status_code}")
        if self.request_id:
            details.append(f"request_id={self.request_id}")
        return f"{self.message} ({', '.join(details)})" if details else self.message


class InvalidInputError(RerankError, ValueError):
    """The query, documents or options of a call are invalid; nothing was sent anywhere."""


class ConfigurationError(RerankError, ValueError):
    """A reranker was configured wrongly: unknown backend or option, missing key, bad model."""


class BackendError(RerankError):
    """A backend failed while scoring."""


class AuthenticationError(BackendError):
    """The provider rejected the credentials (HTTP 401/403)."""


class RateLimitError(BackendError):
    """The provider kept answering 429 after every retry."""


class InvalidRequestError(BackendError, ValueError):
    """The provider rejected the request (a 4xx other than auth and rate limits)."""


class ServerError(BackendError):
    """The provider failed (5xx, dropped connections) after every retry."""


class RerankTimeoutError(BackendError, TimeoutError):
    """The provider did not answer within the timeout or the call's deadline."""


class MalformedResponseError(BackendError):
    """The provider answered 2xx but the body cannot be trusted (bad JSON, indices, scores)."""


class CircuitOpenError(BackendError):
    """Every endpoint of the backend has its circuit breaker open: nothing was sent.

    Raised at once (no request, no wait) while the endpoints cool down after consecutive failures;
    a reason to fall back. The message names the backend, the last error and when it is tried again.

    Attributes:
        last_error: the failure that opened the breaker (or the call's own last failure).
        retry_in: seconds until the first endpoint lets a probe request through.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        last_error: BackendError | None = None,
        retry_in: float = 0.0,
    ) -> None:
        super().__init__(message, provider=provider)
        self.last_error = last_error
        self.retry_in = retry_in


__all__ = [
    "AuthenticationError",
    "BackendError",
    "CircuitOpenError",
    "ConfigurationError",
    "InvalidInputError",
    "InvalidRequestError",
    "MalformedResponseError",
    "RateLimitError",
    "RerankError",
    "RerankTimeoutError",
    "ServerError",
]
