"""HTTP errors of the server and the body each route family answers them with.

Every answer that is not a success has the JSON error body of its route family, including the ones
Starlette makes itself (404 for an unknown path, 405 for a wrong method, a 500 from a bug):
:func:`exception_handlers` turns those into the same shape.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, Literal

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

logger = logging.getLogger("rerankit.serve")

#: ``"openai"``: ``/v1/rerank`` and ``/rerank`` answer ``{"error": {"message", "type", "code"}}`` as vLLM
#: and OpenAI-compatible gateways do; ``"cohere"``: ``/v2/rerank`` answers Cohere's ``{"id", "message"}``.
ErrorStyle = Literal["openai", "cohere"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "method_not_allowed",
    408: "timeout_error",
    413: "request_too_large",
    415: "unsupported_media_type",
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


def style_of(path: str) -> ErrorStyle:
    """The error style of ``path``: Cohere's on ``/v2/rerank``, the OpenAI-compatible one elsewhere."""
    return "cohere" if path.rstrip("/") == "/v2/rerank" else "openai"


def new_request_id() -> str:
    """An id for one request, echoed in its answer and its ``x-request-id`` header."""
    return f"rerank-{uuid.uuid4().hex}"


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no route {request.url.path}; the routes are listed at GET /openapi.json"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} is not allowed on {request.url.path}; use {allowed}"
    else:
        message = str(exc.detail)
    problem = HTTPProblem(exc.status_code, message, headers=dict(exc.headers or {}))
    return error_response(problem, style_of(request.url.path), new_request_id())


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = new_request_id()
    logger.error("request %s to %s failed", request_id, request.url.path, exc_info=exc)
    problem = HTTPProblem(500, "internal server error")
    return error_response(problem, style_of(request.url.path), request_id)


def exception_handlers() -> dict[Any, Callable[..., Any]]:
    """Starlette's ``exception_handlers``: its own 404, 405 (and other HTTP errors) and any
    unhandled exception (500) answered with the route family's JSON error body."""
    return {HTTPException: _http_exception, Exception: _server_error}
