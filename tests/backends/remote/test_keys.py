"""Keys: where they come from, the error when there is none, and that they never leak."""

from __future__ import annotations

import logging
import traceback

import pytest

from rerankit import AuthenticationError, ConfigurationError, Reranker, ServerError
from rerankit.testing.servers import RerankServer
from tests.loopback import EMPTY_401, PROVIDER_SPECS, SPECS, make_reranker, sent_key

SECRET = "sk-live-0123456789abcdef"
QUERY = "what is bm25"
DOCUMENTS = ["bm25 is a ranking function", "a banana is a fruit"]

#: The providers that require a key, and the variables each declares for it.
KEY_VARIABLES = {name: spec.api_key_env for name, spec in PROVIDER_SPECS.items() if spec.api_key_required}


@pytest.mark.parametrize(
    ("provider", "variable"),
    [(provider, variable) for provider, variables in KEY_VARIABLES.items() for variable in variables],
)
def test_key_from_each_environment_variable(provider, variable, shared_servers, monkeypatch) -> None:
    server = shared_servers[provider]
    server.reset()
    monkeypatch.setenv(variable, "test-key")
    with Reranker(SPECS[provider], base_url=server.base_url) as reranker:
        reranker.rerank(QUERY, DOCUMENTS)
    assert sent_key(provider, server.requests[0].headers) == "test-key"


def test_explicit_key_wins_over_the_environment(shared_servers, monkeypatch) -> None:
    server = shared_servers["cohere"]
    server.reset()
    monkeypatch.setenv("COHERE_API_KEY", "from-env")
    with Reranker(SPECS["cohere"], base_url=server.base_url, api_key="test-key") as reranker:
        reranker.rerank(QUERY, DOCUMENTS)
    assert server.requests[0].headers["authorization"] == "Bearer test-key"


@pytest.mark.parametrize("provider", sorted(KEY_VARIABLES))
def test_missing_key_fails_before_any_request(provider, shared_servers) -> None:
    server = shared_servers[provider]
    server.reset()
    with pytest.raises(ConfigurationError) as caught:
        Reranker(SPECS[provider], base_url=server.base_url)
    message = str(caught.value)
    assert "api_key" in message
    for variable in KEY_VARIABLES[provider]:
        assert variable in message
    assert server.requests == []


def test_empty_key_is_refused(shared_servers) -> None:
    with pytest.raises(ConfigurationError, match="api_key is empty"):
        Reranker(SPECS["jina"], api_key="  ")


def test_wrong_key_is_an_authentication_error_without_the_key(server: RerankServer, caplog) -> None:
    """The loopback server echoes a wrong key in its 401 message, as some providers do."""
    with (
        caplog.at_level(logging.DEBUG),
        make_reranker(server, api_key=SECRET) as reranker,
        pytest.raises(AuthenticationError) as caught,
    ):
        reranker.rerank(QUERY, DOCUMENTS)
    error = caught.value
    assert error.status_code == 401
    if server.provider in EMPTY_401:
        assert error.message == "tei answered HTTP 401: Unauthorized"
    else:
        assert "incorrect API key provided: **********" in str(error)
    assert_no_secret(error, caplog)


def test_key_never_in_reprs_logs_or_retry_errors(server: RerankServer, caplog) -> None:
    server.api_key = SECRET
    server.fail_next("503", "503", "503")
    try:
        with caplog.at_level(logging.DEBUG), make_reranker(server, api_key=SECRET, max_retries=2) as reranker:
            for text in (
                repr(reranker),
                str(reranker),
                repr(reranker.backend),
                repr(reranker.backend.transport),
            ):
                assert SECRET not in text
            assert "**********" in repr(reranker.backend)
            settings = reranker.backend.transport.settings
            assert SECRET not in settings.model_dump_json()
            assert SECRET not in repr(settings)
            assert SECRET not in str(settings.model_dump(mode="json"))
            with pytest.raises(ServerError) as caught:
                reranker.rerank(QUERY, DOCUMENTS)
            assert sent_key(server.provider, server.requests[0].headers) == SECRET  # it was sent
    finally:
        server.api_key = "test-key"
    assert_no_secret(caught.value, caplog)
    assert any("retrying in" in record.getMessage() for record in caplog.records)


def test_dropped_connection_error_holds_no_request(server: RerankServer, caplog) -> None:
    server.api_key = SECRET
    server.fail_next("drop")
    try:
        with (
            make_reranker(server, api_key=SECRET, max_retries=0) as reranker,
            pytest.raises(ServerError) as caught,
        ):
            reranker.rerank(QUERY, DOCUMENTS)
    finally:
        server.api_key = "test-key"
    assert "dropped the connection" in str(caught.value)
    assert_no_secret(caught.value, caplog)


def test_key_given_as_secretstr(shared_servers) -> None:
    from pydantic import SecretStr

    server = shared_servers["cohere"]
    server.reset()
    with Reranker(SPECS["cohere"], base_url=server.base_url, api_key=SecretStr("test-key")) as reranker:
        reranker.rerank(QUERY, DOCUMENTS)
    assert server.requests[0].headers["authorization"] == "Bearer test-key"


def test_base_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker(SPECS["cohere"], base_url=f"https://user:{SECRET}@api.example.com", api_key="k")
    assert "credentials" in str(caught.value)
    assert SECRET not in str(caught.value)


def assert_no_secret(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    # No chained httpx exception: its .request would still hold the Authorization header.
    assert error.__cause__ is None
    assert error.__context__ is None
    rendered = "".join(traceback.format_exception(error))
    assert SECRET not in rendered
    assert SECRET not in repr(error)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.__dict__)


def test_tei_key_is_optional_and_checked_on_info_too() -> None:
    """A TEI server without --api-key needs no key; with one, GET /info is guarded as well."""
    with RerankServer("tei", api_key=None) as server:
        with Reranker(SPECS["tei"], base_url=server.base_url) as reranker:
            reranker.rerank(QUERY, DOCUMENTS)
        [request] = server.requests
        assert "authorization" not in request.headers
    with RerankServer("tei") as server, Reranker(SPECS["tei"], base_url=server.base_url) as reranker:
        with pytest.raises(AuthenticationError) as caught:
            reranker.rerank(QUERY, DOCUMENTS)
        assert caught.value.status_code == 401
        assert server.format.info_requests == 1 and server.requests == []  # refused at /info


def test_tei_key_from_its_environment_variable(monkeypatch) -> None:
    with RerankServer("tei") as server:
        monkeypatch.setenv("RERANKIT_TEI_URL", server.base_url)
        monkeypatch.setenv("RERANKIT_TEI_API_KEY", "test-key")
        with Reranker(SPECS["tei"]) as reranker:
            reranker.rerank(QUERY, DOCUMENTS)
        assert server.requests[0].headers["authorization"] == "Bearer test-key"


def test_pinecone_key_is_never_sent_as_a_bearer_token(shared_servers) -> None:
    server = shared_servers["pinecone"]
    server.reset()
    with (
        Reranker(SPECS["pinecone"], base_url=server.base_url, api_key=SECRET) as reranker,
        pytest.raises(AuthenticationError) as caught,
    ):
        reranker.rerank(QUERY, DOCUMENTS)
    [request] = server.requests
    assert request.headers["api-key"] == SECRET and "authorization" not in request.headers
    assert request.headers["x-pinecone-api-version"] == "2025-10"
    assert SECRET not in str(caught.value) and "**********" in str(caught.value)
