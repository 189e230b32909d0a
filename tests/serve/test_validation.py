"""Every way a request can be wrong, over HTTP: the status, and the message the core itself gives."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from rerankit import InvalidInputError, Reranker
from rerankit.serve import BackgroundServer

from .conftest import API_KEY, MODEL_NAME

AUTH = {"Authorization": f"Bearer {API_KEY}"}
ROUTES = ["/v1/rerank", "/rerank", "/v2/rerank"]


def post(server: BackgroundServer, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(server.base_url + path, json=body, headers=AUTH, **kwargs)


def message_of(reply: httpx.Response, path: str) -> str:
    payload = reply.json()
    # /v2/rerank answers Cohere's {"id", "message"}; the others {"error": {"message", "type", "code"}}.
    if path == "/v2/rerank":
        assert set(payload) >= {"id", "message"} and "error" not in payload
        return payload["message"]
    assert payload["error"]["code"] == reply.status_code
    return payload["error"]["message"]


#: (request fields, the arguments the core is called with for the reference message)
BAD_INPUTS = {
    "no query": ({"documents": ["a"]}, (None, ["a"], None)),
    "blank query": ({"query": " \u200b", "documents": ["a"]}, (" \u200b", ["a"], None)),
    "query not a string": ({"query": 3, "documents": ["a"]}, (3, ["a"], None)),
    "lone surrogate in query": ({"query": "q\ud800", "documents": ["a"]}, ("q\ud800", ["a"], None)),
    "no documents": ({"query": "q"}, ("q", None, None)),
    "empty documents": ({"query": "q", "documents": []}, ("q", [], None)),
    "documents a string": ({"query": "q", "documents": "a"}, ("q", "a", None)),
    "blank document": ({"query": "q", "documents": ["a", "  "]}, ("q", ["a", "  "], None)),
    "document a number": ({"query": "q", "documents": ["a", "b", 7]}, ("q", ["a", "b", 7], None)),
    "top_n zero": ({"query": "q", "documents": ["a"], "top_n": 0}, ("q", ["a"], 0)),
    "top_n a string": ({"query": "q", "documents": ["a"], "top_n": "2"}, ("q", ["a"], "2")),
    "top_n a bool": ({"query": "q", "documents": ["a"], "top_n": True}, ("q", ["a"], True)),
}


@pytest.fixture(scope="module")
def core(bert_spec: str) -> Reranker:
    return Reranker(bert_spec, device="cpu")


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_400_with_the_core_message(
    server: BackgroundServer, core: Reranker, path: str, case: str
) -> None:
    fields, (query, documents, top_n) = BAD_INPUTS[case]
    with pytest.raises(InvalidInputError) as expected:
        core.rerank(query, documents, top_n=top_n)
    # json.dumps keeps a lone surrogate as \ud800, as a client's JSON encoder sends it.
    reply = httpx.post(
        server.base_url + path,
        content=json.dumps(fields),
        headers={**AUTH, "content-type": "application/json"},
    )
    assert reply.status_code == 400, reply.text
    assert message_of(reply, path) == expected.value.message


@pytest.mark.parametrize("path", ROUTES)
def test_document_object_without_text(server: BackgroundServer, path: str) -> None:
    reply = post(server, path, {"query": "q", "documents": [{"text": "a"}, {"title": "b"}]})
    assert reply.status_code == 400
    assert message_of(reply, path).startswith("document text is required for rerank at index 1")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"return_documents": "yes"}, "return_documents"),
        ({"model": 5}, "model"),
        ({"instruction": ["a"]}, "instruction"),
    ],
)
@pytest.mark.parametrize("path", ROUTES)
def test_wrongly_typed_fields_are_422_naming_the_field(
    server: BackgroundServer, path: str, fields: dict[str, Any], field: str
) -> None:
    reply = post(server, path, {"query": "q", "documents": ["a"], **fields})
    assert reply.status_code == 422
    assert message_of(reply, path).startswith(f"invalid request: {field}: ")
    assert reply.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "request body is not valid JSON"),
        (b"", "request body is not valid JSON"),
        (b'["q", "a"]', "request body must be a JSON object"),
    ],
)
def test_body_that_is_no_json_object_is_400(
    server: BackgroundServer, path: str, content: bytes, message: str
) -> None:
    reply = httpx.post(server.base_url + path, content=content, headers=AUTH)
    assert reply.status_code == 400
    assert message_of(reply, path) == (message if content else "request body must be a JSON object")


@pytest.mark.parametrize("path", ROUTES)
def test_other_model_is_404_naming_the_served_one(server: BackgroundServer, path: str) -> None:
    reply = post(server, path, {"model": "rerank-v3.5", "query": "q", "documents": ["a"]})
    assert reply.status_code == 404
    message = message_of(reply, path)
    assert "'rerank-v3.5'" in message and f"this server serves '{MODEL_NAME}'" in message
    assert post(server, path, {"model": MODEL_NAME, "query": "q", "documents": ["a"]}).status_code == 200


@pytest.mark.parametrize("path", ROUTES)
def test_too_many_documents_is_413(server: BackgroundServer, path: str) -> None:
    limit = server.config.max_documents_per_request
    reply = post(server, path, {"query": "q", "documents": [f"d{i}" for i in range(limit + 1)]})
    assert reply.status_code == 413
    assert message_of(reply, path) == f"too many documents: got {limit + 1}, the limit is {limit} per request"
    assert post(server, path, {"query": "q", "documents": [f"d{i}" for i in range(limit)]}).status_code == 200


@pytest.mark.parametrize("path", ROUTES)
def test_too_large_body_is_413(server: BackgroundServer, path: str) -> None:
    limit = server.config.max_request_bytes
    reply = post(server, path, {"query": "q", "documents": ["x" * limit]})
    assert reply.status_code == 413
    assert message_of(reply, path) == f"request body too large: the limit is {limit} bytes"


def test_too_large_chunked_body_is_413(server: BackgroundServer) -> None:
    """Without a Content-Length the body is read up to the limit only."""
    limit = server.config.max_request_bytes

    def chunks():
        yield b'{"query": "q", "documents": ["'
        for _ in range(limit // 1000 + 1):
            yield b"x" * 1000
        yield b'"]}'

    reply = httpx.post(server.base_url + "/v1/rerank", content=chunks(), headers=AUTH)
    assert "content-length" not in reply.request.headers
    assert reply.status_code == 413


def test_instruction_for_a_model_that_takes_none_is_400(server: BackgroundServer) -> None:
    reply = post(server, "/v1/rerank", {"query": "q", "documents": ["a"], "instruction": "Find passages"})
    assert reply.status_code == 400
    assert message_of(reply, "/v1/rerank").startswith("instruction applies only to LLM rerankers")


def test_info_states_the_limits(server: BackgroundServer) -> None:
    info = httpx.get(server.base_url + "/info").json()
    assert info["model"] == MODEL_NAME and info["ready"] is True and info["auth"] is True
    assert info["limits"] == {
        "max_documents_per_request": 50,
        "max_request_bytes": 20_000,
        "max_queue": server.config.max_queue,
        "request_timeout_s": server.config.request_timeout,
    }
    assert info["routes"] == ROUTES
    assert API_KEY not in json.dumps(info)


def test_unknown_fields_are_ignored(server: BackgroundServer) -> None:
    """What Cohere's SDK or vLLM clients add (max_tokens_per_doc, priority) does not fail a request."""
    reply = post(
        server, "/v2/rerank", {"query": "q", "documents": ["a"], "max_tokens_per_doc": 9, "priority": 1}
    )
    assert reply.status_code == 200
