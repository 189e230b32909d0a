"""How a span tells of an error without the text it may quote.

An error's message can quote a document (``MalformedResponseError`` names the document whose score
is not a number; a provider's 400 may echo the input), so without ``trace_content`` a span records
the error's type and its typed fields (provider, HTTP status, request id) instead, which are enough
to tell which hop failed and how. Messages never hold keys: the transport redacts them before an
error is made (:mod:`rerankit.backends._answers`).
"""

from __future__ import annotations


def safe_description(error: BaseException) -> str:
    """``error`` as its type and typed fields, without its message.

    >>> from rerankit import RateLimitError
    >>> safe_description(RateLimitError("cohere answered HTTP 429: slow down", provider="cohere", status_code=429))
    'RateLimitError (provider cohere, HTTP 429)'
    """
    fields = []
    provider = getattr(error, "provider", None)
    if provider:
        fields.append(f"provider {provider}")
    status = getattr(error, "status_code", None)
    if status is not None:
        fields.append(f"HTTP {status}")
    request_id = getattr(error, "request_id", None)
    if request_id:
        fields.append(f"request id {request_id}")
    name = type(error).__name__
    return f"{name} ({', '.join(fields)})" if fields else name


def description(error: BaseException, content: bool) -> str:
    """``error`` as spans show it: its message too when ``content`` (``trace_content=True``)."""
    if not content:
        return safe_description(error)
    message = getattr(error, "message", None) or str(error)
    return f"{type(error).__name__}: {message}"


__all__ = ["description", "safe_description"]
