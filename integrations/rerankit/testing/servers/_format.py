"""What a provider's loopback format supplies, and the shared pieces formats are built from.

A :class:`ProviderFormat` subclass is one provider's wire format: its strict request model, answer
and error bodies. The provider's facts (name, path, document limit, auth header and scheme, the
answer's field names) are read from the :class:`~rerankit.backends.ProviderSpec` its backend
module declares (``provider = PROVIDER``), not written again. :class:`RerankServer` does everything
else (HTTP, faults, recording) once for all of them. A new provider's format is found through its
spec's ``loopback``: nothing to list here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rerankit._images import looks_like_image
from rerankit.backends._provider import ProviderSpec
from rerankit.testing.servers._expected_scores import expected_tokens
from rerankit.testing.servers._faults import DEFAULT_MESSAGES, shape_results

if TYPE_CHECKING:
    from rerankit.testing.servers._server import RerankServer


class Strict(BaseModel):
    """A request model as a provider validates it: unknown fields and wrong types are rejected."""

    model_config = ConfigDict(extra="forbid", strict=True)


class TextDocument(Strict):
    """A document sent as ``{"text": ...}``."""

    text: str


def decoded_image(value: str, what: str) -> bytes:
    """The bytes of an image sent as a base64 data URL or bare base64, or :class:`Rejected` (400) the
    way a provider refuses an image it cannot read; an http(s) URL is refused too (a loopback
    server fetches nothing)."""
    import base64
    import binascii

    if value.startswith(("http://", "https://")):
        raise Rejected(400, f"{what}: this loopback server fetches no image URLs")
    payload = value.partition("base64,")[2] if value.startswith("data:") else value
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(400, f"{what}: the image is not valid base64") from None
    if not looks_like_image(data):
        raise Rejected(400, f"{what}: cannot identify the image file")
    return data


class Rejected(Exception):
    """A request the provider would refuse: its status and message (or FastAPI-style detail list).

    ``code`` is the provider's error kind where its error body has one (TEI's ``error_type``,
    Pinecone's ``code``, vLLM's ``type``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        detail: list[dict[str, Any]] | None = None,
        *,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.code = code


@dataclass(frozen=True)
class Call:
    """What a valid request asks for, whatever the provider's field names."""

    query: str
    texts: list[str]
    top_n: int | None = None
    return_documents: bool = False
    model: str = ""
    request: Any = None  # the parsed request model, for format-specific fields


def validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """A pydantic error as a FastAPI-style ``detail`` list (``loc`` starts with ``"body"``)."""
    return [
        {"type": error["type"], "loc": ["body", *error["loc"]], "msg": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def first_problem(detail: list[dict[str, Any]]) -> str:
    """``"<field path>: <message>"`` of the first validation error."""
    first = detail[0]
    return f"{'.'.join(map(str, first['loc'][1:]))}: {first['msg']}"


def ranked_results(
    call: Call,
    scores: list[float],
    fault: str | None,
    *,
    score_key: str = "relevance_score",
    document: Callable[[str], Any] | None = None,
    document_key: str = "document",
) -> list[dict[str, Any]]:
    """Results best first, cut to ``call.top_n``, with the document echoed by ``document(text)`` when
    the call asked for it, and ``fault`` applied."""
    order = sorted(range(len(call.texts)), key=lambda i: scores[i], reverse=True)[: call.top_n]
    results: list[dict[str, Any]] = []
    for index in order:
        result: dict[str, Any] = {"index": index, score_key: scores[index]}
        if call.return_documents and document is not None:
            result[document_key] = document(call.texts[index])
        results.append(result)
    shape_results(results, fault, len(call.texts), score_key)
    return results


class ProviderFormat:
    """One provider's wire format, as a loopback server speaks it (subclass per provider).

    Subclasses set ``provider`` (the backend module's spec: ``name``, ``paths``,
    ``max_documents_per_request`` and the auth check come from it unless set on the class) and
    ``request_model``, and implement :meth:`call` and :meth:`answer`; the other methods have the
    common behaviour (the spec's auth header, FastAPI-style validation errors, a document limit,
    non-empty query and texts) and are overridden where the provider differs.
    """

    #: The provider's declared facts, from its backend module (``None``: set by hand).
    provider: ClassVar[ProviderSpec | None] = None
    #: The provider name (``RerankServer(name)``).
    name: ClassVar[str]
    #: The paths it serves when ``paths`` is not given (starlette path syntax).
    paths: ClassVar[tuple[str, ...]]
    #: The documented most documents per request, when ``max_documents_per_request`` is not given.
    max_documents_per_request: ClassVar[int]
    #: The strict pydantic model of a request body.
    request_model: ClassVar[type[BaseModel]]
    #: The status of a body that fails :attr:`request_model`.
    validation_status: ClassVar[int] = 422
    #: A format for a server reached through the ``gateway`` backend (vLLM), not a backend of its own.
    behind_gateway: ClassVar[bool] = False
    #: The truncated body of the ``malformed-json`` fault.
    malformed_body: ClassVar[str] = '{"results": [{"index": 0, "relevance'

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("provider")
        if spec is None:
            return
        cls.name = spec.name
        if "paths" not in cls.__dict__:
            # a path's {placeholder} matches the rest of the path (DeepInfra's model id)
            cls.paths = (spec.path.replace("}", ":path}"),)
        if "max_documents_per_request" not in cls.__dict__ and spec.max_documents is not None:
            cls.max_documents_per_request = spec.max_documents

    def __init__(self, server: RerankServer) -> None:
        self.server = server

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        """The request the provider's API reference shows for the spec's ``example_model``,
        ``query`` and ``documents`` with no option set: its path and its JSON body.

        The wire-format tests hold the provider's backend to it, so write it from the reference
        (and cite it), never from the backend's code.

        Raises:
            NotImplementedError: The format shows none (a test says which format lacks it).
        """
        raise NotImplementedError(
            f"{cls.__name__} shows no documented request: add documented_request(query, documents), "
            "written from the provider's API reference"
        )

    # -- requests -------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """Routes served besides the rerank paths (none by default)."""
        return []

    def check_auth(self, headers: Mapping[str, str]) -> None:
        """Refuse a request without the key in the spec's header and scheme (``Authorization:
        Bearer <server.api_key>`` by default), when a key is set."""
        if self.server.api_key is None:
            return
        spec = self.provider
        header = headers.get(spec.auth_header.lower() if spec is not None else "authorization")
        if not header:
            raise Rejected(401, "no api key supplied")
        if spec is not None and not spec.auth_scheme:
            scheme, token = "", header
        else:
            scheme, _, token = header.partition(" ")
        if not self.scheme_ok(scheme) or token != self.server.api_key:
            # Echo the key, as some providers do: clients must redact it from their errors.
            raise Rejected(401, f"{DEFAULT_MESSAGES[401]}: incorrect API key provided: {token}")

    def scheme_ok(self, scheme: str) -> bool:
        """Whether the key's scheme is accepted (exactly the spec's, ``Bearer`` by default)."""
        return scheme == (self.provider.auth_scheme if self.provider is not None else "Bearer")

    # -- the spec's answer fields ------------------------------------------------------------------

    def results(
        self, call: Call, scores: list[float], fault: str | None, document: Callable[[str], Any] | None = None
    ) -> list[dict[str, Any]]:
        """:func:`ranked_results` under the spec's answer field names (score, echoed document)."""
        fields = self.provider.answer if self.provider is not None else None
        if fields is None:
            return ranked_results(call, scores, fault, document=document)
        return ranked_results(
            call, scores, fault, score_key=fields.score, document=document, document_key=fields.document or ""
        )

    def usage(self, *, tokens: int | None = None, search_units: float | None = None) -> dict[str, Any]:
        """The usage part of an answer: ``tokens`` and ``search_units`` at the spec's first paths
        (``{"usage": {"total_tokens": 12}}``), merged into one object."""
        body: dict[str, Any] = {}
        spec = self.provider
        for paths, value in ((spec.tokens_at, tokens), (spec.search_units_at, search_units)):
            if value is None or not paths:
                continue
            *parents, last = paths[0]
            node = body
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value
        return body

    def parse_body(self, headers: Mapping[str, str], body: bytes, payload: Any) -> BaseModel:
        """Check the content type and that the body is a JSON object, then :meth:`parse` it."""
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise Rejected(400, "content-type must be application/json")
        if not isinstance(payload, dict):
            raise Rejected(400, "request body must be a JSON object")
        return self.parse(payload)

    def parse(self, payload: dict[str, Any]) -> BaseModel:
        """The request model of ``payload``, or :class:`Rejected` the way the provider refuses it."""
        try:
            return self.request_model.model_validate(payload)
        except ValidationError as exc:
            detail = validation_detail(exc)
            raise Rejected(
                self.validation_status, f"invalid request: {first_problem(detail)}", detail
            ) from None

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        """What the parsed request asks for."""
        raise NotImplementedError

    def check_call(self, call: Call) -> None:
        """Refuse an empty query, no documents, an empty document or too many documents."""
        if not call.query.strip():
            raise Rejected(400, "query is required for rerank")
        if not call.texts:
            raise Rejected(400, "documents are required for rerank")
        for index, text in enumerate(call.texts):
            if not text.strip():
                raise Rejected(400, f"document text is required for rerank at index {index}")
        if len(call.texts) > self.server.max_documents_per_request:
            raise Rejected(
                400,
                f"too many documents: got {len(call.texts)}, the limit is {self.server.max_documents_per_request} per request",
            )

    # -- answers --------------------------------------------------------------------------------

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        """The JSON content of a successful answer (``fault`` is an answer-shaping one or ``None``)."""
        raise NotImplementedError

    def answer_headers(self, call: Call) -> dict[str, str]:
        """Headers a successful answer carries besides ``x-request-id`` (none by default)."""
        return {}

    def tokens(self, call: Call) -> int:
        """The token count the answer reports."""
        return expected_tokens(call.query, call.texts)

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        """The JSON error body the provider documents."""
        raise NotImplementedError

    def error_response(
        self, status: int, rejected: Rejected, request_id: str, headers: dict[str, str]
    ) -> Response:
        """The error answer: :meth:`error_body` as JSON by default."""
        return JSONResponse(self.error_body(status, rejected, request_id), status, headers)


__all__ = [
    "Call",
    "ProviderFormat",
    "Rejected",
    "Strict",
    "TextDocument",
    "decoded_image",
    "first_problem",
    "ranked_results",
    "validation_detail",
]
