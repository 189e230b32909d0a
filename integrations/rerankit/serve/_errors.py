"""HTTP errors of the server and the body each route family answers them with."""

from __future__ import annotations

from typing import Any, Literal

from starlette.responses import JSONResponse

#: ``"openai"``: ``/v1/rerank`` and ``/rerank`` answer ``{"error": {"message", "type", "code"}}`` as vLLM
#: and OpenAI-compatible gateways do; ``"cohere"``: ``/v2/rerank`` answers Cohere's ``{"id", "message"}``.
ErrorStyle = Literal["openai", "cohere"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    504: "timeout_error",
}


class HTTPProblem(Exception):
    """A request answered with an error status.

    Args:
        status: the HTTP status.
        message: what went wrong, for the client; never holds a key.
        headers: extra response headers (``Retry-After``).
        detail: FastAPI-style ``[{"loc", "msg", "type"}]`` for a 422.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        detail: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.detail = detail


def error_response(problem: HTTPProblem, style: ErrorStyle, request_id: str) -> JSONResponse:
    """The error body of ``style`` for ``problem``, with an ``x-request-id`` header."""
    if style == "cohere":
        body: dict[str, Any] = {"id": request_id, "message": problem.message}
    else:
        kind = _TYPES.get(
            problem.status, "server_error" if problem.status >= 500 else "invalid_request_error"
        )
        body = {"error": {"message": problem.message, "type": kind, "code": problem.status}}
    if problem.detail is not None:
        body["detail"] = problem.detail
    headers = {"x-request-id": request_id, **problem.headers}
    return JSONResponse(body, status_code=problem.status, headers=headers)
