"""text-embeddings-inference's ``POST /rerank`` and ``GET /info``, as its router (v1.9) serves them.

Sources (huggingface/text-embeddings-inference): ``router/src/http/server.rs`` (``rerank``, the
``--api-key`` middleware, ``From<&ErrorType> for StatusCode``), ``router/src/http/types.rs``
(``RerankRequest``, ``Rank``), ``router/src/lib.rs`` (``Info``, ``ErrorType``, ``ErrorResponse``,
the ``x-compute-*`` headers), ``core/src/tokenization.rs`` (the input-length message); axum 0.7's
``Json`` extractor for bodies it cannot read (plain-text 400/415/422) and ``DefaultBodyLimit`` (413).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from rerankit.backends._tei import PROVIDER
from rerankit.testing.servers._format import (
    Call,
    ProviderFormat,
    Rejected,
    first_problem,
    validation_detail,
)

#: server.rs ``From<&ErrorType> for StatusCode``, inverted for status faults (Validation is 422 since
#: v1.9.0, ``PAYLOAD_TOO_LARGE`` 413 in v1.8.3).
ERROR_TYPES = {
    400: "Empty",
    413: "Validation",
    422: "Validation",
    424: "Backend",
    429: "Overloaded",
    503: "Unhealthy",
}


class TEIRequest(BaseModel):
    """types.rs ``RerankRequest``: serde ignores unknown fields, but every known one is typed."""

    model_config = ConfigDict(extra="ignore", strict=True)

    query: str
    texts: list[str]
    truncate: bool | None = None
    truncation_direction: Literal["Left", "Right", "left", "right"] = "Right"
    raw_scores: bool = False
    return_text: bool = False


class _PlainText(Rejected):
    """An axum extractor rejection: a plain-text body, not TEI's ``ErrorResponse``."""


class TEIFormat(ProviderFormat):
    """A TEI server with a reranker: optional exact ``Bearer`` key, 401 with an empty body."""

    provider = PROVIDER
    request_model = TEIRequest
    malformed_body = '[{"index": 0, "sco'

    #: What ``GET /info`` reports (tests may change them).
    model_id = "BAAI/bge-reranker-base"
    max_input_length = 512
    auto_truncate = True  # main.rs: --auto-truncate defaults to true
    payload_limit = 2_000_000  # main.rs: --payload-limit default 2000000

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # text-embeddings-inference router/src/http/types.rs RerankRequest
        return "/rerank", {"query": query, "texts": documents, "raw_scores": False, "return_text": False}

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        #: How many ``GET /info`` requests were answered.
        self.info_requests = 0

    def routes(self) -> list[Route]:
        return [Route("/info", endpoint=self._info, methods=["GET"])]

    async def _info(self, request: Request) -> Response:
        self.info_requests += 1
        try:
            self.check_auth(request.headers)
        except Rejected as rejected:
            return self.error_response(rejected.status, rejected, "", {})
        return JSONResponse(
            {  # lib.rs Info
                "model_id": self.model_id,
                "model_sha": None,
                "model_dtype": "float32",
                "served_model_name": self.model_id,
                "model_type": {"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}},
                "max_concurrent_requests": 512,
                "max_input_length": self.max_input_length,
                "max_batch_tokens": 16384,
                "max_batch_requests": None,
                "max_client_batch_size": self.server.max_documents_per_request,
                "auto_truncate": self.auto_truncate,
                "tokenization_workers": 4,
                "version": "1.9.3",
                "sha": None,
                "docker_label": None,
            }
        )

    def check_auth(self, headers: Mapping[str, str]) -> None:
        # server.rs: headers.get(AUTHORIZATION) must equal "Bearer {api_key}", else StatusCode::UNAUTHORIZED
        key = self.server.api_key
        if key is not None and {
            h: headers.get(h) for h in PROVIDER.auth_headers(key)
        } != PROVIDER.auth_headers(key):
            raise Rejected(401, "")

    def parse_body(self, headers: Mapping[str, str], body: bytes, payload: Any) -> BaseModel:
        if len(body) > self.payload_limit:
            raise _PlainText(413, "Failed to buffer the body: length limit exceeded")
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _PlainText(415, "Expected request with `Content-Type: application/json`")
        if payload is None:
            raise _PlainText(400, "Failed to parse the request body as JSON")
        if not isinstance(payload, dict):
            raise _PlainText(
                422, "Failed to deserialize the JSON body into the target type: expected struct RerankRequest"
            )
        try:
            return self.request_model.model_validate(payload)
        except ValidationError as exc:
            problem = first_problem(validation_detail(exc))
            raise _PlainText(
                422, f"Failed to deserialize the JSON body into the target type: {problem}"
            ) from None

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        return Call(parsed.query, list(parsed.texts), None, parsed.return_text, self.model_id, parsed)

    def check_call(self, call: Call) -> None:
        if not call.texts:  # server.rs rerank: ErrorType::Empty
            raise Rejected(400, "`texts` cannot be empty", code="Empty")
        if len(call.texts) > self.server.max_documents_per_request:  # server.rs rerank: ErrorType::Validation
            raise Rejected(
                422,
                f"batch size {len(call.texts)} > maximum allowed batch size {self.server.max_documents_per_request}",
                code="Validation",
            )
        truncate = call.request.truncate if call.request.truncate is not None else self.auto_truncate
        if not truncate:
            for text in call.texts:
                tokens = self.tokens(Call(call.query, [text]))
                if tokens > self.max_input_length:  # tokenization.rs: TextEmbeddingsError::Validation
                    raise Rejected(
                        422,
                        f"Input validation error: `inputs` must have less than {self.max_input_length} "
                        f"tokens. Given: {tokens}",
                        code="Validation",
                    )

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        # types.rs RerankResponse(Vec<Rank>): a bare array of {index, text?, score}, best first
        return self.results(call, scores, fault, document=lambda text: text)

    def answer_headers(self, call: Call) -> dict[str, str]:
        # lib.rs From<ResponseMetadata> for HeaderMap
        characters = sum(len(call.query) + len(text) for text in call.texts)
        return {
            "x-compute-type": "cpu",
            "x-compute-characters": str(characters),
            "x-compute-tokens": str(self.tokens(call)),
            "x-total-time": "1",
            "x-tokenization-time": "0",
            "x-queue-time": "0",
            "x-inference-time": "1",
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        # lib.rs ErrorResponse {error, error_type}
        return {"error": rejected.message, "error_type": rejected.code or ERROR_TYPES.get(status, "Backend")}

    def error_response(
        self, status: int, rejected: Rejected, request_id: str, headers: dict[str, str]
    ) -> Response:
        if status in (401, 404, 405):  # the auth middleware and axum's router answer with no body
            return Response(b"", status, headers)
        if isinstance(rejected, _PlainText):
            return PlainTextResponse(rejected.message, status, headers)
        return super().error_response(status, rejected, request_id, headers)


__all__ = ["TEIFormat", "TEIRequest"]
