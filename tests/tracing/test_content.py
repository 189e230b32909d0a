"""Without ``trace_content=True`` no span holds the query or a document's text (not even an error
that quotes one); with it they are there, as OpenInference names them; a key is never there."""

from __future__ import annotations

import json
import math

import pytest

from rerankit import AuthenticationError, MalformedResponseError, Reranker
from rerankit.testing import FakeBackend
from tests.loopback import SPECS
from tests.reliability.test_secrets import KEY as SECRET
from tests.reliability.test_secrets import ScriptedServer, echo
from tests.tracing.conftest import (
    DOCUMENTS,
    FRESH,
    KEY,
    QUERY,
    Providers,
    Telemetry,
    documented_reranker,
    warm_cache,
)


def everything(telemetry: Telemetry) -> str:
    """All that the finished spans would export: names, attributes, events, status, links."""
    return "\n".join(span.to_json() for span in telemetry.spans())


def texts_in(dump: str) -> list[str]:
    return [text for text in [QUERY, *DOCUMENTS] if json.dumps(text)[1:-1] in dump or text in dump]


def test_no_text_without_opt_in(telemetry: Telemetry, providers: Providers) -> None:
    reranker = documented_reranker(providers)
    warm_cache(reranker, providers)
    reranker.rerank(QUERY, DOCUMENTS, top_n=2)
    reranker.rerank_batch([QUERY], [DOCUMENTS])

    dump = everything(telemetry)
    assert telemetry.spans() and texts_in(dump) == []
    assert "reranker.query" not in dump and "document.content" not in dump
    assert "reranker.output_documents.0.document.score" in dump  # scores and indices are not text


def test_an_error_that_quotes_a_document_is_recorded_without_it(telemetry: Telemetry) -> None:
    # A backend scoring a document NaN: the core's error names the document by its text.
    reranker = Reranker(FakeBackend(scores=lambda query, text: math.nan if text == FRESH else 1.0))
    with pytest.raises(MalformedResponseError) as caught:
        reranker.rerank(QUERY, DOCUMENTS)
    assert FRESH[:30] in str(caught.value)  # the message does quote it

    [root] = telemetry.roots()
    assert root.status.description == "MalformedResponseError (provider fake)"
    assert texts_in(everything(telemetry)) == []


def test_opted_in_content_is_recorded_as_openinference_names_it(
    telemetry: Telemetry, providers: Providers
) -> None:
    reranker = documented_reranker(providers, trace_content=True)
    response = reranker.rerank(QUERY, DOCUMENTS, top_n=2)

    [root] = telemetry.roots()
    assert root.attributes["reranker.query"] == QUERY == root.attributes["input.value"]
    for index, text in enumerate(DOCUMENTS):
        assert root.attributes[f"reranker.input_documents.{index}.document.id"] == index
        assert root.attributes[f"reranker.input_documents.{index}.document.content"] == text
    for rank, result in enumerate(response.results):
        assert root.attributes[f"reranker.output_documents.{rank}.document.content"] == result.document
    chunk = next(result.chunk for result in response.results if result.chunk is not None)
    metadata = [value for key, value in root.attributes.items() if key.endswith(".document.metadata")]
    assert json.loads(metadata[0])["chunk"] == {"index": chunk.index, "start": chunk.start, "end": chunk.end}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_key_is_never_in_a_span_even_when_the_provider_echoes_it(
    telemetry: Telemetry, mode: str
) -> None:
    with ScriptedServer("127.0.0.1", echo(401, request_id_header=False)) as server:
        reranker = Reranker(SPECS["cohere"], base_url=server.base_url, api_key=SECRET, trace_content=True)
        with pytest.raises(AuthenticationError):
            if mode == "sync":
                reranker.rerank(QUERY, DOCUMENTS)
            else:
                await reranker.arerank(QUERY, DOCUMENTS)
        assert server.received[0]["authorization"] == f"Bearer {SECRET}"  # sent, and echoed back
        await reranker.aclose()

    dump = everything(telemetry)
    assert QUERY in dump  # content was opted in: the query is there, the key is not
    assert SECRET not in dump and "**********" in dump


def test_spans_of_a_served_call_never_hold_the_servers_upstream_key(
    telemetry: Telemetry, providers: Providers
) -> None:
    reranker = Reranker(SPECS["jina"], base_url=providers.jina.base_url, api_key=KEY, trace_content=True)
    reranker.rerank(QUERY, DOCUMENTS)
    assert providers.jina.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in everything(telemetry)
