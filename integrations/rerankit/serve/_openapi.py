"""The server's API as an OpenAPI 3.1 document (``GET /openapi.json``).

The schemas are pydantic models (their JSON Schema is the 2020-12 dialect OpenAPI 3.1 uses): the
rerank request as clients may send it, the answers of the OpenAI-compatible routes and of Cohere's
``/v2/rerank``, both error bodies, and the Bearer key when the server has one. The request schema
is what a valid request looks like; the server itself reads requests more loosely
(:class:`~rerankit.serve._schemas.RerankRequest`) so that a bad one gets the core's own message.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from rerankit.serve._config import ServeConfig


class DocumentObject(BaseModel):
    """A document as an object: its ``text`` (other fields are ignored)."""

    model_config = ConfigDict(extra="allow")

    text: str = Field(min_length=1, description="The document's text; not blank.")


class RerankRequestBody(BaseModel):
    """A rerank request: a query and the documents to order by relevance to it."""

    model_config = ConfigDict(extra="allow", title="RerankRequest")

    model: str | None = Field(default=None, description="The served model name; another is a 404.")
    query: str = Field(min_length=1, description="The query; not blank.")
    documents: list[str | DocumentObject] = Field(
        min_length=1, description="The documents, as strings or {text} objects; none blank."
    )
    top_n: int | None = Field(default=None, ge=1, description="Keep the best top_n; all when absent.")
    return_documents: bool | None = Field(
        default=None, description="Echo each document's text (default: true, false on /v2/rerank)."
    )
    instruction: str | None = Field(
        default=None, description="An LLM reranker's task instruction; a 400 for a model that takes none."
    )


class EchoedDocument(BaseModel):
    text: str


class RerankResultItem(BaseModel):
    """One document's place: its index in the request, its score and, if asked, its text."""

    index: int = Field(ge=0)
    relevance_score: float
    document: EchoedDocument | None = None


class TokenUsage(BaseModel):
    prompt_tokens: int | None
    total_tokens: int | None


class RerankResponseBody(BaseModel):
    """The answer of ``/v1/rerank`` and ``/rerank``: the results, best first."""

    model_config = ConfigDict(title="RerankResponse")

    id: str
    model: str
    results: list[RerankResultItem]
    usage: TokenUsage


class CohereMeta(BaseModel):
    api_version: dict[str, str]
    billed_units: dict[str, int]
    tokens: dict[str, int | None]


class CohereRerankResponseBody(RerankResponseBody):
    """The answer of ``/v2/rerank``: the same, plus Cohere's ``meta``."""

    model_config = ConfigDict(title="CohereRerankResponse")

    meta: CohereMeta


class ErrorDetailItem(BaseModel):
    type: str
    loc: list[str | int]
    msg: str


class ErrorInfo(BaseModel):
    message: str
    type: str
    code: int


class ErrorBody(BaseModel):
    """An error of every route but ``/v2/rerank``: ``{"error": {"message", "type", "code"}}``."""

    error: ErrorInfo
    detail: list[ErrorDetailItem] | None = None


class CohereErrorBody(BaseModel):
    """An error of ``/v2/rerank``, Cohere's shape: ``{"id", "message"}``."""

    id: str
    message: str
    detail: list[ErrorDetailItem] | None = None


class HealthBody(BaseModel):
    status: str
    model: str | None = None
    error: str | None = None


SCHEMAS: tuple[type[BaseModel], ...] = (
    RerankRequestBody,
    RerankResponseBody,
    CohereRerankResponseBody,
    ErrorBody,
    CohereErrorBody,
    HealthBody,
)

#: The errors a rerank route may answer, and when.
RERANK_ERRORS = {
    "400": "Bad input: a blank query or document, bad top_n, a body that is not a JSON object.",
    "401": "No key, or a wrong one (when the server has a key).",
    "404": "model names another model than the one served.",
    "408": "The body was not received within the server's read timeout.",
    "413": "Too many documents, or a body over the size limit.",
    "415": "A Content-Type other than application/json.",
    "422": "A field of the wrong JSON type.",
    "429": "The server cannot answer in time (or its queue is full); retry after Retry-After seconds.",
    "500": "A bug in the server.",
    "502": "A remote backend behind the server failed.",
    "503": "The model is still loading; retry after Retry-After seconds.",
    "504": "The request was not scored within the server's deadline.",
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}
}


def _components() -> dict[str, Any]:
    _, schema = models_json_schema(
        [(model, "validation") for model in SCHEMAS], ref_template="#/components/schemas/{model}"
    )
    return schema["$defs"]


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _rerank_operation(path: str, config: ServeConfig) -> dict[str, Any]:
    cohere = path == "/v2/rerank"
    error = "CohereErrorBody" if cohere else "ErrorBody"
    responses: dict[str, Any] = {
        "200": {
            "description": "The documents' scores, best first.",
            "content": _json("CohereRerankResponseBody" if cohere else "RerankResponseBody"),
        }
    }
    for status, description in RERANK_ERRORS.items():
        if status == "401" and config.api_key is None:
            continue
        answer: dict[str, Any] = {"description": description, "content": _json(error)}
        if status in ("429", "503"):
            answer["headers"] = RETRY_AFTER
        responses[status] = answer
    operation: dict[str, Any] = {
        "operationId": "rerank_" + ("cohere_v2" if cohere else path.strip("/").replace("/", "_")),
        "summary": "Rerank documents by relevance to a query"
        + (" (Cohere v2 style)" if cohere else " (Jina, vLLM and Infinity style)"),
        "requestBody": {"required": True, "content": _json("RerankRequestBody")},
        "responses": responses,
    }
    if config.api_key is not None:
        operation["security"] = [{"bearerAuth": []}]
    return {"post": operation}


def _get(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": responses}}


def openapi_document(config: ServeConfig) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a server serving ``config``."""
    from rerankit import __version__
    from rerankit.serve._app import RERANK_ROUTES

    paths: dict[str, Any] = {path: _rerank_operation(path, config) for path, _, _ in RERANK_ROUTES}
    paths["/health"] = _get(
        "Readiness: 200 once the model is loaded",
        {
            "200": {"description": "Loaded.", "content": _json("HealthBody")},
            "503": {
                "description": "Loading, or loading failed.",
                "content": _json("HealthBody"),
                "headers": RETRY_AFTER,
            },
        },
    )
    paths["/info"] = _get(
        "What is served and the limits",
        {
            "200": {
                "description": "The model, backend and limits.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    paths["/metrics"] = _get(
        "Prometheus metrics",
        {
            "200": {
                "description": "The text exposition format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    paths["/openapi.json"] = _get(
        "This document",
        {
            "200": {
                "description": "OpenAPI 3.1.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "rerankit serve",
            "version": __version__,
            "description": f"Reranking with {config.model_name}. See docs/serve.md.",
        },
        "paths": paths,
        "components": {"schemas": _components()},
    }
    if config.api_key is not None:
        document["components"]["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"}
        }
    return document


__all__ = ["RERANK_ERRORS", "openapi_document"]
