"""End to end: a VectorStoreIndex queried through as_query_engine with RerankPostprocessor in it.

MockEmbedding makes every node equally similar, so retrieval returns the whole corpus and the
reranker alone decides what reaches the (echoing) MockLLM. Local runs use the tiny offline BERT
cross-encoder; remote runs go over real HTTP to a loopback server that speaks the provider's wire
format and scores with ``expected_score``.
"""

from __future__ import annotations

import json
import pickle

import pytest
from llama_index.core import Settings
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.instrumentation.events.span import SpanDropEvent
from llama_index.core.llms import MockLLM
from llama_index.core.schema import MetadataMode, NodeWithScore

from rerankit import AuthenticationError, ConfigurationError, Reranker
from rerankit.llama_index import RETRIEVAL_SCORE_KEY, RerankPostprocessor
from tests.llama_index.llama_index_support import CORPUS, QUERY, build_index, make_nodes, reranking_pairs

TOP_K = len(CORPUS)

#: provider -> a spec its loopback server answers for.
REMOTE_SPECS = {
    "jina": "jina/jina-reranker-v2-base-multilingual",
    "gateway": "gateway/BAAI/bge-reranker-v2-m3",
}


def embed_texts() -> dict[str, str]:
    """node_id -> the text the adapter must score (the EMBED view: metadata included)."""
    return {node.node_id: node.get_content(metadata_mode=MetadataMode.EMBED) for node in make_nodes()}


def expected_local(reranker: Reranker, top_n: int) -> list[tuple[str, float]]:
    ids, texts = zip(*embed_texts().items(), strict=True)
    return [
        (ids[r.index], r.relevance_score) for r in reranker.rerank(QUERY, list(texts), top_n=top_n).results
    ]


def expected_remote(top_n: int) -> list[tuple[str, float]]:
    from rerankit.testing.servers import expected_score

    scored = sorted(embed_texts().items(), key=lambda item: expected_score(QUERY, item[1]), reverse=True)
    return [(node_id, expected_score(QUERY, text)) for node_id, text in scored[:top_n]]


def check_sources(source_nodes: list[NodeWithScore], want: list[tuple[str, float]]) -> None:
    assert [(n.node.node_id, n.score) for n in source_nodes] == [
        (node_id, pytest.approx(score, rel=1e-5)) for node_id, score in want
    ]
    assert all(type(n.score) is float for n in source_nodes)


def check_prompt(answer: str, kept: list[str]) -> None:
    """MockLLM answers with its prompt: the kept nodes (with their metadata) and nothing else."""
    texts = dict(zip((n.node_id for n in make_nodes()), (text for text, _ in CORPUS), strict=True))
    for node_id, text in texts.items():
        assert (text in answer) is (node_id in kept), node_id
    assert "source: " in answer  # LLM metadata does reach the prompt...
    assert RETRIEVAL_SCORE_KEY not in answer  # ...the retrieval score never does


def check_one_traced_rerank(event_log, debug_handler, source_nodes: list[NodeWithScore], model: str) -> None:
    start, end = event_log.of(ReRankStartEvent, ReRankEndEvent)
    assert isinstance(start, ReRankStartEvent) and isinstance(end, ReRankEndEvent)
    assert start.model_name == model and len(start.nodes) == TOP_K
    assert [n.node.node_id for n in end.nodes] == [n.node.node_id for n in source_nodes]
    ((begin, finish),) = reranking_pairs(debug_handler)
    assert begin.payload["model_name"] == model and begin.payload["query_str"] == QUERY
    assert [n.node.node_id for n in finish.payload["nodes"]] == [n.node.node_id for n in source_nodes]


def make_engine(postprocessor: RerankPostprocessor):
    return build_index().as_query_engine(
        llm=MockLLM(), similarity_top_k=TOP_K, node_postprocessors=[postprocessor]
    )


@pytest.fixture
def callback_manager(callback_manager, monkeypatch):
    """The legacy callback manager, installed where as_query_engine looks for it (Settings)."""
    monkeypatch.setattr(Settings, "_callback_manager", callback_manager)
    return callback_manager


# -- local model --------------------------------------------------------------------------------


def test_query_with_a_local_model(
    local_spec, local_reranker, event_log, debug_handler, callback_manager
) -> None:
    postprocessor = RerankPostprocessor(local_spec, top_n=3, device="cpu", keep_retrieval_score=True)
    retrieved = {
        n.node.node_id: n.score for n in build_index().as_retriever(similarity_top_k=TOP_K).retrieve(QUERY)
    }

    response = make_engine(postprocessor).query(QUERY)

    want = expected_local(local_reranker, 3)
    check_sources(response.source_nodes, want)
    check_prompt(str(response), [node_id for node_id, _ in want])
    assert {n.node.node_id: n.node.metadata[RETRIEVAL_SCORE_KEY] for n in response.source_nodes} == {
        node_id: retrieved[node_id] for node_id, _ in want
    }
    check_one_traced_rerank(event_log, debug_handler, response.source_nodes, local_spec)


async def test_aquery_with_a_local_model(
    local_spec, local_reranker, event_log, debug_handler, callback_manager, monkeypatch
) -> None:
    postprocessor = RerankPostprocessor(local_spec, top_n=2, device="cpu")
    arerank_calls = []
    arerank = postprocessor.reranker.arerank

    async def spy(*args, **kwargs):
        arerank_calls.append(args[0])
        return await arerank(*args, **kwargs)

    def no_sync(*args, **kwargs):
        raise AssertionError("aquery must rerank through the async path")

    monkeypatch.setattr(postprocessor.reranker, "arerank", spy)
    monkeypatch.setattr(postprocessor.reranker, "rerank", no_sync)

    response = await make_engine(postprocessor).aquery(QUERY)

    assert arerank_calls == [QUERY]
    want = expected_local(local_reranker, 2)
    check_sources(response.source_nodes, want)
    check_prompt(str(response), [node_id for node_id, _ in want])
    check_one_traced_rerank(event_log, debug_handler, response.source_nodes, local_spec)


def test_context_chat_engine_with_a_local_model(local_spec, local_reranker) -> None:
    postprocessor = RerankPostprocessor(local_spec, top_n=2, device="cpu")
    engine = build_index().as_chat_engine(
        chat_mode="context", llm=MockLLM(), similarity_top_k=TOP_K, node_postprocessors=[postprocessor]
    )
    response = engine.chat(QUERY)
    check_sources(response.source_nodes, expected_local(local_reranker, 2))


# -- loopback HTTP backends ---------------------------------------------------------------------


@pytest.fixture(params=sorted(REMOTE_SPECS))
def server(request):
    from rerankit.testing.servers import RerankServer

    with RerankServer(request.param) as running:
        yield running


def remote_postprocessor(server, **fields) -> RerankPostprocessor:
    return RerankPostprocessor(
        REMOTE_SPECS[server.provider],
        base_url=server.base_url,
        api_key="test-key",
        backoff_base=0.01,
        **fields,
    )


def test_query_over_http(server, event_log, debug_handler, callback_manager) -> None:
    postprocessor = remote_postprocessor(server, top_n=3, keep_retrieval_score=True)

    response = make_engine(postprocessor).query(QUERY)

    want = expected_remote(3)
    check_sources(response.source_nodes, want)
    check_prompt(str(response), [node_id for node_id, _ in want])
    (request,) = server.requests
    assert sorted(request.json["documents"]) == sorted(embed_texts().values())
    assert request.headers["authorization"] == "Bearer test-key"
    check_one_traced_rerank(event_log, debug_handler, response.source_nodes, REMOTE_SPECS[server.provider])


async def test_aquery_over_http_is_natively_async(server, event_log, monkeypatch) -> None:
    postprocessor = remote_postprocessor(server, top_n=2)

    def no_sync(*args, **kwargs):
        raise AssertionError("aquery must not use the sync path")

    monkeypatch.setattr(postprocessor.reranker, "rerank", no_sync)
    monkeypatch.setattr(postprocessor.reranker.backend, "score", no_sync)

    response = await make_engine(postprocessor).aquery(QUERY)

    check_sources(response.source_nodes, expected_remote(2))
    assert len(server.requests) == 1
    assert [type(e) for e in event_log.of(ReRankStartEvent, ReRankEndEvent)] == [
        ReRankStartEvent,
        ReRankEndEvent,
    ]


def test_score_threshold_over_http_applies_before_top_n(server) -> None:
    scores = [score for _, score in expected_remote(TOP_K)]
    threshold = (scores[1] + scores[2]) / 2
    postprocessor = remote_postprocessor(server, top_n=4, score_threshold=threshold)
    response = make_engine(postprocessor).query(QUERY)
    check_sources(response.source_nodes, expected_remote(2))


def test_a_provider_error_surfaces_typed_with_balanced_events(
    server, event_log, debug_handler, callback_manager
) -> None:
    server.fail_next("401")
    postprocessor = remote_postprocessor(server)

    with pytest.raises(AuthenticationError) as raised:
        make_engine(postprocessor).query(QUERY)

    assert raised.value.status_code == 401
    start, end, drop = event_log.of(ReRankStartEvent, ReRankEndEvent, SpanDropEvent)[:3]
    assert (type(start), type(end), type(drop)) == (ReRankStartEvent, ReRankEndEvent, SpanDropEvent)
    assert end.nodes == [] and start.span_id == end.span_id == drop.span_id
    ((_, finish),) = reranking_pairs(debug_handler)
    assert isinstance(finish.payload["exception"], AuthenticationError)


def test_the_api_key_is_never_serialized_and_comes_back_through_from_dict(monkeypatch) -> None:
    from rerankit.testing.servers import RerankServer

    monkeypatch.delenv("JINA_API_KEY", raising=False)
    secret = "sk-llama-secret-7f3a9c"
    with RerankServer("jina", api_key=secret) as server:
        postprocessor = RerankPostprocessor(
            REMOTE_SPECS["jina"], top_n=2, base_url=server.base_url, api_key=secret, timeout=5
        )
        data = postprocessor.to_dict()
        for serialized in (
            json.dumps(data),
            postprocessor.to_json(),
            repr(postprocessor),
            str(postprocessor),
        ):
            assert secret not in serialized
        assert secret.encode() not in pickle.dumps(postprocessor)
        assert data["backend_options"] == {"base_url": server.base_url, "timeout": 5}

        rebuilt = RerankPostprocessor.from_dict(data, api_key=secret)
        assert rebuilt.to_dict() == data
        response = make_engine(rebuilt).query(QUERY)
        check_sources(response.source_nodes, expected_remote(2))
        assert server.requests[-1].headers["authorization"] == f"Bearer {secret}"

        with pytest.raises(ConfigurationError, match="JINA_API_KEY"):
            RerankPostprocessor.from_dict(data)  # no key anywhere: a clear error, not a KeyError
        monkeypatch.setenv("JINA_API_KEY", secret)
        for restored in (RerankPostprocessor.from_dict(data), pickle.loads(pickle.dumps(postprocessor))):
            response = make_engine(restored).query(QUERY)
            check_sources(response.source_nodes, expected_remote(2))
            assert server.requests[-1].headers["authorization"] == f"Bearer {secret}"
