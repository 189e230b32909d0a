"""Secrets: an API key never shows in logs (DEBUG included), reprs, errors, serialized objects,
and never travels on a redirect to another address."""

from __future__ import annotations

import json
import logging
import pickle
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.load import dumps

from rerankit import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    MalformedResponseError,
    Reranker,
    ServerError,
)
from rerankit.langchain import RerankCompressor
from rerankit.llama_index import RerankPostprocessor
from tests.loopback import PROVIDER_SPECS, PROVIDERS, SPECS, loopback_reranker

KEY = "sk-live-7f3a9c1e5b8d2f4a6c0e"


class ScriptedServer(ThreadingHTTPServer):
    """A bare HTTP server answering every POST with ``answer`` and recording the headers it got.

    ``answer(handler)`` returns (status, headers, body). It can echo the Authorization header back,
    as a careless proxy or error page might.
    """

    daemon_threads = True

    def __init__(self, host: str, answer) -> None:
        self.answer = answer
        self.received: list[dict[str, str]] = []
        super().__init__((host, 0), _ScriptedHandler)
        self.thread = threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()


class _ScriptedHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.received.append({k.lower(): v for k, v in self.headers.items()})
        status, headers, body = self.server.answer(self)
        self.send_response(status)
        for name, value in {"content-length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def echo(status: int, content_type: str = "application/json", *, request_id_header: bool = True):
    """An answer that echoes the request's Authorization header in its body (and, without a
    request id header, in the body's ``id``, which the client takes as the request id)."""

    def answer(handler: BaseHTTPRequestHandler):
        leaked = handler.headers.get("authorization", "")
        if content_type == "application/json":
            body = json.dumps({"message": f"rejected credentials {leaked}", "id": f"req {leaked}"})
        else:
            body = f"<html><body>Hello {leaked}</body></html>"
        headers = {"content-type": content_type, **({"x-request-id": "rid-1"} if request_id_header else {})}
        return status, headers, body.encode()

    return answer


def error_text(error: BaseException) -> str:
    """Everything an error shows: str, repr, args, attributes and the full chained traceback."""
    return "\n".join(
        [str(error), repr(error), repr(error.args), repr(vars(error)), *traceback.format_exception(error)]
    )


@pytest.mark.parametrize(
    ("status", "content_type", "error", "request_id_header"),
    [
        (401, "application/json", AuthenticationError, True),
        (400, "application/json", InvalidRequestError, True),
        (500, "application/json", ServerError, True),
        (502, "text/html", ServerError, True),
        (200, "text/html", MalformedResponseError, True),
        pytest.param(401, "application/json", AuthenticationError, False, id="id-echo"),
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_errors_never_carry_the_key_even_when_the_provider_echoes_it(
    status, content_type, error, request_id_header, mode
) -> None:
    with ScriptedServer(
        "127.0.0.1", echo(status, content_type, request_id_header=request_id_header)
    ) as server:
        reranker = Reranker(
            "cohere/rerank-v3.5", base_url=server.base_url, api_key=KEY, max_retries=1, backoff_base=0.001
        )
        with pytest.raises(error) as caught:
            if mode == "sync":
                reranker.rerank("q", ["a"])
            else:
                await reranker.arerank("q", ["a"])
        assert server.received[0]["authorization"] == f"Bearer {KEY}"  # the key was sent, and echoed
        assert KEY not in error_text(caught.value)
        assert "**********" in str(caught.value)  # redacted where the provider echoed it
        await reranker.aclose()


async def test_debug_logs_never_carry_the_key(caplog, serve) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: rerankit, httpx, httpcore, uvicorn
    server = serve("cohere", api_key=KEY)
    with ScriptedServer("127.0.0.1", echo(500)) as echoing:
        reranker = loopback_reranker("cohere", server, max_retries=5)
        server.fail_next("429", "500", "drop", "html")
        reranker.rerank("q", ["a", "b"])
        server.fail_next("503", "429-retry-after")
        await reranker.arerank("q", ["a", "b"])
        server.fail_next("401")
        with pytest.raises(AuthenticationError):
            await reranker.arerank("q", ["a"])
        fallback_from_echo = Reranker(
            Reranker(
                "cohere/rerank-v3.5",
                base_url=echoing.base_url,
                api_key=KEY,
                max_retries=1,
                backoff_base=0.001,
            ).backend,
            fallbacks=[reranker],
        )
        assert (await fallback_from_echo.arerank("q", ["a"])).backend == "cohere"
        await reranker.aclose()
        await fallback_from_echo.aclose()
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert sum("retrying in" in r.getMessage() for r in caplog.records) == 7
    assert any("falling back" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert KEY not in record.getMessage(), record.name
        assert KEY not in repr(record.__dict__), record.name
    assert KEY not in caplog.text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reprs_and_dumps_never_carry_the_key(provider, monkeypatch) -> None:
    reranker = Reranker(SPECS[provider], base_url="http://127.0.0.1:9", api_key=KEY)
    backend = reranker.backend
    settings = backend.transport.settings
    shown = [
        repr(reranker),
        str(reranker),
        repr(backend),
        repr(backend.transport),
        repr(settings),
        str(settings),
    ]
    shown += [repr(settings.model_dump()), settings.model_dump_json(), repr(vars(backend))]
    assert all(KEY not in text for text in shown)
    assert settings.api_key.get_secret_value() == KEY  # it is there, just never shown

    monkeypatch.setenv(PROVIDER_SPECS[provider].api_key_env[0], KEY)
    from_env = Reranker(SPECS[provider], base_url="http://127.0.0.1:9")
    assert from_env.backend.transport.settings.api_key.get_secret_value() == KEY
    assert KEY not in repr(from_env) and KEY not in repr(vars(from_env.backend))


def test_a_key_in_base_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError, match="must not hold credentials") as caught:
        Reranker("cohere/rerank-v3.5", base_url=f"https://user:{KEY}@api.example.com", api_key="k")
    assert KEY not in error_text(caught.value)


def test_langchain_compressor_never_shows_the_key() -> None:
    compressor = RerankCompressor(model="cohere/rerank-v3.5", base_url="http://127.0.0.1:9", api_key=KEY)
    shown = [
        repr(compressor),
        str(compressor),
        repr(compressor.model_dump()),
        compressor.model_dump_json(),
        dumps(compressor),
    ]
    assert all(KEY not in text for text in shown)


def test_llama_index_postprocessor_never_shows_the_key() -> None:
    postprocessor = RerankPostprocessor(
        model="cohere/rerank-v3.5", base_url="http://127.0.0.1:9", api_key=KEY, timeout=5
    )
    data = postprocessor.to_dict()
    shown = [repr(postprocessor), json.dumps(data), postprocessor.to_json(), repr(postprocessor.model_dump())]
    assert all(KEY not in text for text in shown)
    assert data["backend_options"] == {"base_url": "http://127.0.0.1:9", "timeout": 5}
    assert KEY.encode() not in pickle.dumps(postprocessor.to_dict())


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target_host", ["127.0.0.2", "127.0.0.1"])
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_redirect_is_not_followed_so_the_key_never_reaches_another_address(
    status, target_host, mode
) -> None:
    with ScriptedServer(target_host, echo(200)) as elsewhere:
        redirect = lambda handler: (status, {"location": f"{elsewhere.base_url}/v2/rerank"}, b"")  # noqa: E731
        with ScriptedServer("127.0.0.1", redirect) as first:
            reranker = Reranker("cohere/rerank-v3.5", base_url=first.base_url, api_key=KEY, max_retries=3)
            with pytest.raises(
                InvalidRequestError, match=f"redirect \\(HTTP {status}\\) to {elsewhere.base_url}"
            ) as caught:
                if mode == "sync":
                    reranker.rerank("q", ["a"])
                else:
                    await reranker.arerank("q", ["a"])
            await reranker.aclose()
        assert len(first.received) == 1 and first.received[0]["authorization"] == f"Bearer {KEY}"
        assert elsewhere.received == []  # nothing at all, so certainly not the key
        assert caught.value.status_code == status and KEY not in error_text(caught.value)


@pytest.mark.parametrize("status", [401, 500])
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_key_sent_in_api_key_is_redacted_when_echoed(status, mode) -> None:
    """Pinecone's key travels in ``Api-Key``, not ``Authorization``: an echo of it is redacted too."""

    def answer(handler: BaseHTTPRequestHandler):
        leaked = handler.headers.get("api-key", "")
        body = json.dumps({"error": {"code": "X", "message": f"bad key {leaked}"}, "status": status})
        return (
            status,
            {"content-type": "application/json", "x-pinecone-request-id": f"rid {leaked}"},
            body.encode(),
        )

    with ScriptedServer("127.0.0.1", answer) as server:
        reranker = Reranker(
            "pinecone/bge-reranker-v2-m3",
            base_url=server.base_url,
            api_key=KEY,
            max_retries=1,
            backoff_base=0.001,
        )
        with pytest.raises((AuthenticationError, ServerError)) as caught:
            if mode == "sync":
                reranker.rerank("q", ["a"])
            else:
                await reranker.arerank("q", ["a"])
        await reranker.aclose()
    assert server.received[0]["api-key"] == KEY and "authorization" not in server.received[0]
    assert KEY not in error_text(caught.value)
    assert "bad key **********" in str(caught.value)
    assert caught.value.request_id == "rid **********"
