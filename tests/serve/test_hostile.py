"""Hostile and broken clients: every answer is the route family's JSON error, nothing recurses
without bound, half-sent requests do not hold connections, and the API is published as OpenAPI."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from rerankit.serve import BackgroundServer, ServeConfig
from rerankit.serve._json import MAX_JSON_DEPTH

from .conftest import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def openai_error(reply: httpx.Response, status: int) -> str:
    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("application/json")
    error = reply.json()["error"]
    assert error["code"] == status and isinstance(error["type"], str)
    return error["message"]


def cohere_error(reply: httpx.Response, status: int) -> str:
    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("application/json")
    payload = reply.json()
    assert set(payload) >= {"id", "message"} and "error" not in payload
    return payload["message"]


def test_wrong_methods_and_unknown_paths_answer_json(server: BackgroundServer) -> None:
    reply = httpx.get(server.base_url + "/v1/rerank")
    assert "method GET is not allowed on /v1/rerank; use POST" in openai_error(reply, 405)
    assert reply.headers["allow"] == "POST"
    assert "not allowed" in cohere_error(httpx.get(server.base_url + "/v2/rerank"), 405)
    assert "no route /v3/rerank" in openai_error(httpx.post(server.base_url + "/v3/rerank", json={}), 404)
    assert openai_error(httpx.delete(server.base_url + "/health"), 405)


def test_413_and_415_answer_json(server: BackgroundServer) -> None:
    big = {"query": "q", "documents": ["x" * 30_000]}
    assert "too large" in openai_error(httpx.post(server.base_url + "/rerank", json=big, headers=AUTH), 413)
    form = httpx.post(server.base_url + "/v1/rerank", data={"query": "q"}, headers=AUTH)
    assert "unsupported Content-Type 'application/x-www-form-urlencoded'" in openai_error(form, 415)
    text = httpx.post(
        server.base_url + "/v2/rerank", content=b"{}", headers={**AUTH, "content-type": "text/plain"}
    )
    assert "application/json" in cohere_error(text, 415)
    # no Content-Type at all is read as JSON (curl --data-binary, some SDKs)
    bare = httpx.post(
        server.base_url + "/rerank", content=json.dumps({"query": "q", "documents": ["d"]}), headers=AUTH
    )
    assert bare.status_code == 200


def test_a_bug_answers_a_json_500(server: BackgroundServer, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        @property
        def reranker(self):
            raise RuntimeError("a bug")

    monkeypatch.setattr(server.service, "model", Broken())
    assert openai_error(httpx.get(server.base_url + "/info"), 500) == "internal server error"


def test_the_api_is_published_as_openapi_3_1(server: BackgroundServer) -> None:
    document = httpx.get(server.base_url + "/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    for path in ("/v1/rerank", "/rerank", "/v2/rerank"):
        operation = document["paths"][path]["post"]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"200", "400", "401", "413", "415", "422", "429", "504"} <= set(operation["responses"])
    schemas = document["components"]["schemas"]
    assert {
        "RerankRequestBody",
        "RerankResponseBody",
        "CohereRerankResponseBody",
        "ErrorBody",
        "CohereErrorBody",
    } <= set(schemas)
    assert schemas["RerankRequestBody"]["required"] == ["query", "documents"]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <key>",
    }
    assert API_KEY not in json.dumps(document)


@pytest.fixture(scope="module")
def impatient_server(bert_spec: str):
    config = ServeConfig(spec=bert_spec, options={"device": "cpu"}, read_timeout=0.5)
    with BackgroundServer(config) as server:
        yield server


@pytest.mark.parametrize("path", ["/v1/rerank", "/v2/rerank"])
def test_a_deeply_nested_body_is_a_400_not_a_500(impatient_server: BackgroundServer, path: str) -> None:
    server = impatient_server  # the default body limit (2 MB): 100 kB of brackets get through to the parser
    deep = b'{"query": "q", "documents": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    unclosed = b'{"query": "q", "documents": ' + b"[" * 50_000
    read = openai_error if path == "/v1/rerank" else cohere_error
    for body in (deep, unclosed):
        reply = httpx.post(server.base_url + path, content=body, headers={"content-type": "application/json"})
        assert f"more than {MAX_JSON_DEPTH} levels deep" in read(reply, 400)
    # nesting inside strings is text, and a depth a request may have is fine
    fine = {"query": "[[[[" * 100, "documents": [{"text": "{{{{" * 100}], "meta": [[[[1]]]]}
    assert httpx.post(server.base_url + path, json=fine).status_code == 200


def raw_connection(server: BackgroundServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(10)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_half_sent_headers_get_a_408_and_the_connection_closed(impatient_server: BackgroundServer) -> None:
    sock = raw_connection(impatient_server)
    started = time.monotonic()
    sock.sendall(b"POST /v1/rerank HTTP/1.1\r\nhost: x\r\ncontent-")  # and nothing more
    answer = read_until_closed(sock)
    assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == 408
    silent = raw_connection(impatient_server)  # a connection that never says anything is closed too
    assert read_until_closed(silent).startswith(b"HTTP/1.1 408 ")


def test_a_half_sent_body_gets_a_408(impatient_server: BackgroundServer) -> None:
    sock = raw_connection(impatient_server)
    sock.sendall(
        b"POST /v1/rerank HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
        b'{"query": '
    )
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert "not received in time" in body["error"]["message"]


def test_a_slow_but_steady_client_and_keep_alive_are_served(impatient_server: BackgroundServer) -> None:
    with httpx.Client(base_url=impatient_server.base_url) as client:  # one keep-alive connection
        for _ in range(3):
            reply = client.post("/rerank", json={"query": "q", "documents": ["a", "b"]})
            assert reply.status_code == 200
            time.sleep(0.2)
