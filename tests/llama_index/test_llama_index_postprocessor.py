"""RerankPostprocessor on its own: scores, order, cuts, no mutation, events, serialization."""

from __future__ import annotations

import json
import pickle

import pytest
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.instrumentation.events.span import SpanDropEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from rerankit import ConfigurationError, InvalidInputError, Reranker, ServerError
from rerankit._adapters import serializable_options
from rerankit.llama_index import RETRIEVAL_SCORE_KEY, SCORE_KIND_KEY, RerankPostprocessor
from rerankit.testing import FakeBackend
from tests.llama_index.llama_index_support import QUERY, failing_backend, make_scored_nodes, reranking_pairs


def expected(reranker: Reranker, nodes: list[NodeWithScore], mode: MetadataMode = MetadataMode.EMBED):
    """(node_id, score) best first, straight from the core on the texts the adapter must send."""
    texts = [n.node.get_content(metadata_mode=mode) for n in nodes]
    return [(nodes[r.index].node.node_id, r.relevance_score) for r in reranker.rerank(QUERY, texts).results]


def snapshot(nodes: list[NodeWithScore]) -> list:
    return [(id(n), id(n.node), n.score, n.node.model_dump()) for n in nodes]


@pytest.fixture
def postprocessor(local_reranker: Reranker) -> RerankPostprocessor:
    return RerankPostprocessor(reranker=local_reranker, top_n=3)


def test_is_a_node_postprocessor_named_for_serialization(postprocessor: RerankPostprocessor) -> None:
    assert isinstance(postprocessor, BaseNodePostprocessor)
    assert RerankPostprocessor.class_name() == "RerankPostprocessor"
    assert postprocessor.to_dict()["class_name"] == "RerankPostprocessor"


def test_scores_are_the_rerankers_best_first_as_python_floats(
    postprocessor: RerankPostprocessor, local_reranker: Reranker
) -> None:
    nodes = make_scored_nodes()
    reranked = postprocessor.postprocess_nodes(nodes, query_str=QUERY)

    want = expected(local_reranker, nodes)[:3]
    assert [(n.node.node_id, n.score) for n in reranked] == [
        (node_id, pytest.approx(score, rel=1e-5)) for node_id, score in want
    ]
    assert all(type(n.score) is float for n in reranked)
    assert [n.score for n in reranked] == sorted((n.score for n in reranked), reverse=True)
    assert json.loads(json.dumps([n.score for n in reranked])) == [n.score for n in reranked]


def test_top_n_none_keeps_every_node_including_duplicates(local_reranker: Reranker) -> None:
    nodes = make_scored_nodes()
    nodes.append(NodeWithScore(node=nodes[1].node, score=0.05))  # the same node retrieved twice
    reranked = RerankPostprocessor(reranker=local_reranker, top_n=None).postprocess_nodes(
        nodes, query_str=QUERY
    )

    assert len(reranked) == len(nodes)
    assert sorted(n.node.node_id for n in reranked) == sorted(n.node.node_id for n in nodes)
    twice = [n.score for n in reranked if n.node.node_id == nodes[1].node.node_id]
    assert len(twice) == 2 and twice[0] == twice[1]


def test_score_threshold_applies_before_top_n(local_reranker: Reranker) -> None:
    nodes = make_scored_nodes()
    scores = [score for _, score in expected(local_reranker, nodes)]
    threshold = (scores[1] + scores[2]) / 2  # exactly two nodes score at or above it

    def ids(top_n: int | None, score_threshold: float) -> list[str]:
        postprocessor = RerankPostprocessor(
            reranker=local_reranker, top_n=top_n, score_threshold=score_threshold
        )
        return [n.node.node_id for n in postprocessor.postprocess_nodes(nodes, query_str=QUERY)]

    best_two = [node_id for node_id, _ in expected(local_reranker, nodes)[:2]]
    assert ids(None, threshold) == best_two
    assert ids(5, threshold) == best_two  # top_n larger than what passes: the threshold decides
    assert ids(1, threshold) == best_two[:1]  # top_n smaller: it cuts what passed
    assert ids(3, scores[0] + 1.0) == []
    assert ids(3, scores[-1]) == [node_id for node_id, _ in expected(local_reranker, nodes)[:3]]


def test_metadata_mode_chooses_the_text_that_is_scored(local_reranker: Reranker) -> None:
    nodes = make_scored_nodes()
    for mode in (MetadataMode.NONE, MetadataMode.ALL):
        postprocessor = RerankPostprocessor(reranker=local_reranker, top_n=None, metadata_mode=mode)
        reranked = postprocessor.postprocess_nodes(nodes, query_str=QUERY)
        assert [(n.node.node_id, n.score) for n in reranked] == [
            (node_id, pytest.approx(score, rel=1e-5))
            for node_id, score in expected(local_reranker, nodes, mode)
        ]
    with_metadata = expected(local_reranker, nodes, MetadataMode.EMBED)
    without = expected(local_reranker, nodes, MetadataMode.NONE)
    assert dict(with_metadata) != pytest.approx(dict(without))  # the mode really changes the input


def test_input_nodes_are_never_mutated(local_reranker: Reranker) -> None:
    nodes = make_scored_nodes()
    before = snapshot(nodes)
    for keep in (False, True):
        postprocessor = RerankPostprocessor(reranker=local_reranker, top_n=None, keep_retrieval_score=keep)
        reranked = postprocessor.postprocess_nodes(nodes, query_str=QUERY)
        assert snapshot(nodes) == before
        assert not {id(n) for n in reranked} & {id(n) for n in nodes}  # new NodeWithScore objects
        assert all(RETRIEVAL_SCORE_KEY not in n.node.metadata for n in nodes)


def test_keep_retrieval_score_copies_the_node_and_keeps_it_out_of_prompts(local_reranker: Reranker) -> None:
    nodes = make_scored_nodes()
    retrieval = {n.node.node_id: n.score for n in nodes}
    originals = {n.node.node_id: n.node for n in nodes}
    postprocessor = RerankPostprocessor(reranker=local_reranker, top_n=None, keep_retrieval_score=True)

    for scored in postprocessor.postprocess_nodes(nodes, query_str=QUERY):
        original = originals[scored.node.node_id]
        assert scored.node is not original
        assert scored.node.metadata == {
            **original.metadata,
            RETRIEVAL_SCORE_KEY: retrieval[scored.node.node_id],
            SCORE_KIND_KEY: "probability",  # the tiny BERT's Sigmoid activation
        }
        assert scored.score != retrieval[scored.node.node_id]  # the node's score is the reranker's
        for mode in (MetadataMode.LLM, MetadataMode.EMBED):
            assert RETRIEVAL_SCORE_KEY not in scored.node.get_content(metadata_mode=mode)
            assert scored.node.get_content(metadata_mode=mode) == original.get_content(metadata_mode=mode)
        assert RETRIEVAL_SCORE_KEY in scored.node.get_content(metadata_mode=MetadataMode.ALL)


def test_each_node_is_a_copy_saying_what_its_score_is_kept_out_of_prompts(
    postprocessor: RerankPostprocessor,
) -> None:
    nodes = make_scored_nodes()
    originals = {n.node.node_id: n.node for n in nodes}
    reranked = postprocessor.postprocess_nodes(nodes, query_str=QUERY)
    assert reranked
    for scored in reranked:
        original = originals[scored.node.node_id]
        assert scored.node is not original
        assert scored.node.metadata == {**original.metadata, SCORE_KIND_KEY: "probability"}
        for mode in (MetadataMode.LLM, MetadataMode.EMBED):
            assert scored.node.get_content(metadata_mode=mode) == original.get_content(metadata_mode=mode)
        assert SCORE_KIND_KEY in scored.node.get_content(metadata_mode=MetadataMode.ALL)
    assert all(SCORE_KIND_KEY not in n.node.metadata for n in nodes)


def test_a_missing_query_is_a_value_error_before_any_event(
    postprocessor: RerankPostprocessor, event_log, debug_handler, callback_manager
) -> None:
    postprocessor.callback_manager = callback_manager
    with pytest.raises(ValueError, match="needs a query"):
        postprocessor.postprocess_nodes(make_scored_nodes())
    with pytest.raises(ValueError, match="query is required"):
        postprocessor.postprocess_nodes(make_scored_nodes(), query_bundle=QueryBundle(query_str="  "))
    assert event_log.of(ReRankStartEvent, ReRankEndEvent) == []
    assert reranking_pairs(debug_handler) == []


def test_a_node_without_text_is_named_by_index_and_id(postprocessor: RerankPostprocessor, event_log) -> None:
    nodes = make_scored_nodes()
    nodes.insert(2, NodeWithScore(node=TextNode(id_="blank-node", text="   "), score=0.5))
    with pytest.raises(InvalidInputError, match=r"index 2 \(node_id='blank-node'\)"):
        postprocessor.postprocess_nodes(nodes, query_str=QUERY)
    assert event_log.of(ReRankStartEvent, ReRankEndEvent) == []


def test_empty_input_returns_empty_without_a_backend_call_and_balanced_events(
    local_reranker: Reranker, event_log, debug_handler, callback_manager, monkeypatch
) -> None:
    def no_call(*args, **kwargs):
        raise AssertionError("the backend must not be called for empty input")

    postprocessor = RerankPostprocessor(reranker=local_reranker, callback_manager=callback_manager)
    monkeypatch.setattr(local_reranker, "rerank", no_call)
    monkeypatch.setattr(local_reranker.backend, "score", no_call)

    assert postprocessor.postprocess_nodes([], query_str=QUERY) == []
    start, end = event_log.of(ReRankStartEvent, ReRankEndEvent)
    assert isinstance(start, ReRankStartEvent) and isinstance(end, ReRankEndEvent)
    assert start.nodes == [] and end.nodes == []
    assert len(reranking_pairs(debug_handler)) == 1


async def test_async_empty_input_returns_empty_with_balanced_events(
    local_reranker: Reranker, event_log, monkeypatch
) -> None:
    async def no_call(*args, **kwargs):
        raise AssertionError("the backend must not be called for empty input")

    monkeypatch.setattr(local_reranker, "arerank", no_call)
    postprocessor = RerankPostprocessor(reranker=local_reranker)
    assert await postprocessor.apostprocess_nodes([], query_str=QUERY) == []
    assert [type(e) for e in event_log.of(ReRankStartEvent, ReRankEndEvent)] == [
        ReRankStartEvent,
        ReRankEndEvent,
    ]


def test_events_carry_query_nodes_top_n_and_model_name(
    postprocessor: RerankPostprocessor, local_spec: str, event_log, debug_handler, callback_manager
) -> None:
    postprocessor.callback_manager = callback_manager
    nodes = make_scored_nodes()
    reranked = postprocessor.postprocess_nodes(nodes, query_str=QUERY)

    start, end = event_log.of(ReRankStartEvent, ReRankEndEvent)
    assert isinstance(start, ReRankStartEvent) and isinstance(end, ReRankEndEvent)
    assert start.query.query_str == QUERY
    assert start.nodes == nodes and start.top_n == 3
    assert start.model_name == postprocessor.model == local_spec
    assert end.nodes == reranked
    assert start.span_id is not None and start.span_id == end.span_id  # inside the postprocessor's span

    ((begin, finish),) = reranking_pairs(debug_handler)
    assert begin.payload["model_name"] == local_spec
    assert begin.payload["query_str"] == QUERY
    assert begin.payload["top_k"] == 3
    assert begin.payload["nodes"] == nodes
    assert finish.payload["nodes"] == reranked


def test_top_n_none_reports_the_number_of_nodes(local_reranker: Reranker, event_log) -> None:
    nodes = make_scored_nodes()
    RerankPostprocessor(reranker=local_reranker, top_n=None).postprocess_nodes(nodes, query_str=QUERY)
    (start,) = event_log.of(ReRankStartEvent)
    assert start.top_n == len(nodes)


def test_a_backend_failure_still_ends_the_events_and_drops_the_span(
    event_log, debug_handler, callback_manager
) -> None:
    backend = failing_backend()
    postprocessor = RerankPostprocessor(reranker=Reranker(backend), callback_manager=callback_manager)
    with pytest.raises(ServerError, match="provider is down"):
        postprocessor.postprocess_nodes(make_scored_nodes(), query_str=QUERY)

    assert len(backend.calls) == 1
    start, end, drop = event_log.of(ReRankStartEvent, ReRankEndEvent, SpanDropEvent)
    assert (type(start), type(end), type(drop)) == (ReRankStartEvent, ReRankEndEvent, SpanDropEvent)
    assert end.nodes == []
    assert "provider is down" in drop.err_str
    assert start.span_id == end.span_id == drop.span_id
    ((_, finish),) = reranking_pairs(debug_handler)
    assert isinstance(finish.payload["exception"], ServerError)


async def test_an_async_backend_failure_still_ends_the_events(
    event_log, debug_handler, callback_manager
) -> None:
    backend = failing_backend()
    postprocessor = RerankPostprocessor(reranker=Reranker(backend), callback_manager=callback_manager)
    with pytest.raises(ServerError):
        await postprocessor.apostprocess_nodes(make_scored_nodes(), query_str=QUERY)

    start, end, drop = event_log.of(ReRankStartEvent, ReRankEndEvent, SpanDropEvent)
    assert (type(start), type(end), type(drop)) == (ReRankStartEvent, ReRankEndEvent, SpanDropEvent)
    assert start.span_id == end.span_id == drop.span_id
    assert len(reranking_pairs(debug_handler)) == 1


async def test_async_is_native_and_matches_sync(
    postprocessor: RerankPostprocessor, local_reranker: Reranker, event_log, monkeypatch
) -> None:
    nodes = make_scored_nodes()
    want = [(n.node.node_id, n.score) for n in postprocessor.postprocess_nodes(nodes, query_str=QUERY)]
    event_log.events.clear()

    calls = []
    arerank = local_reranker.arerank

    async def spy(*args, **kwargs):
        calls.append(args)
        return await arerank(*args, **kwargs)

    def no_sync(*args, **kwargs):
        raise AssertionError("the async path must not call the sync one")

    monkeypatch.setattr(local_reranker, "arerank", spy)
    monkeypatch.setattr(local_reranker, "rerank", no_sync)
    monkeypatch.setattr(RerankPostprocessor, "_postprocess_nodes", no_sync)

    reranked = await postprocessor.apostprocess_nodes(nodes, query_str=QUERY)
    assert [(n.node.node_id, n.score) for n in reranked] == want
    assert len(calls) == 1
    start, end = event_log.of(ReRankStartEvent, ReRankEndEvent)
    assert end.nodes == reranked and start.span_id == end.span_id is not None


def test_configuration_errors_name_the_problem(local_spec: str, local_reranker: Reranker) -> None:
    with pytest.raises(ConfigurationError, match="needs a model spec"):
        RerankPostprocessor()
    with pytest.raises(ConfigurationError, match="not both"):
        RerankPostprocessor(local_spec, reranker=local_reranker)
    with pytest.raises(ConfigurationError, match="not both"):
        RerankPostprocessor(reranker=local_reranker, device="cpu")
    with pytest.raises(ConfigurationError, match=r"must be a rerankit\.Reranker"):
        RerankPostprocessor(reranker="local/x")
    with pytest.raises(ConfigurationError, match=r"unknown option.*'colour'"):
        RerankPostprocessor(local_spec, colour="blue")
    with pytest.raises(ValueError, match="top_n must be at least 1"):
        RerankPostprocessor(reranker=local_reranker, top_n=0)
    with pytest.raises(ValueError, match="top_n must be an integer"):
        RerankPostprocessor(reranker=local_reranker, top_n=True)
    with pytest.raises(ValueError, match="score_threshold must be a finite number"):
        RerankPostprocessor(reranker=local_reranker, score_threshold=float("nan"))


def test_built_from_a_spec_with_options_passes_them_through(local_spec: str) -> None:
    postprocessor = RerankPostprocessor(local_spec, top_n=2, device="cpu", batch_size=2)
    assert postprocessor.reranker.backend.batch_size == 2
    assert postprocessor.model == local_spec
    assert postprocessor.backend_options == {"device": "cpu", "batch_size": 2}


def test_to_dict_from_dict_round_trip(local_spec: str) -> None:
    postprocessor = RerankPostprocessor(
        local_spec,
        top_n=2,
        score_threshold=-5.0,
        metadata_mode=MetadataMode.NONE,
        keep_retrieval_score=True,
        device="cpu",
        batch_size=3,
    )
    data = json.loads(postprocessor.to_json())
    assert data["class_name"] == "RerankPostprocessor"
    rebuilt = RerankPostprocessor.from_dict(data)

    assert rebuilt.to_dict() == postprocessor.to_dict()
    assert rebuilt.metadata_mode is MetadataMode.NONE
    assert rebuilt.reranker.backend.batch_size == 3
    nodes = make_scored_nodes()
    assert [(n.node.node_id, n.score) for n in rebuilt.postprocess_nodes(nodes, query_str=QUERY)] == [
        (n.node.node_id, n.score) for n in postprocessor.postprocess_nodes(nodes, query_str=QUERY)
    ]


def test_a_postprocessor_around_a_reranker_serializes_its_spec(
    local_reranker: Reranker, local_spec: str
) -> None:
    data = RerankPostprocessor(reranker=local_reranker).to_dict()
    assert data["model"] == local_spec and data["backend_options"] == {}
    assert RerankPostprocessor.from_dict(data).reranker.model == local_reranker.model


def test_pickle_rebuilds_the_reranker(local_spec: str) -> None:
    postprocessor = RerankPostprocessor(local_spec, top_n=2, device="cpu")
    restored = pickle.loads(pickle.dumps(postprocessor))
    nodes = make_scored_nodes()
    assert restored.to_dict() == postprocessor.to_dict()
    assert [n.score for n in restored.postprocess_nodes(nodes, query_str=QUERY)] == [
        n.score for n in postprocessor.postprocess_nodes(nodes, query_str=QUERY)
    ]


def test_public_options_drop_credentials_at_any_depth() -> None:
    options = {
        "api_key": "sk-1",
        "client_secret": "s",
        "headers": {"Authorization": "Bearer t"},
        "max_tokens_per_doc": 512,
        "base_url": "http://127.0.0.1:1",
        "fallbacks": [{"model": "m", "apiKey": "sk-2"}],
    }
    public = serializable_options(options)
    assert public == {
        "max_tokens_per_doc": 512,
        "base_url": "http://127.0.0.1:1",
        "fallbacks": [{"model": "m"}],
    }
    assert "sk-" not in json.dumps(public)
    assert options["fallbacks"][0]["apiKey"] == "sk-2"  # the caller's options are left alone


def test_fallbacks_serialize_as_spec_strings(local_spec: str, local_reranker: Reranker) -> None:
    postprocessor = RerankPostprocessor(
        local_spec, device="cpu", fallbacks=[Reranker(local_spec, device="cpu")]
    )
    data = json.loads(postprocessor.to_json())
    assert data["backend_options"] == {"device": "cpu", "fallbacks": [local_spec]}
    assert RerankPostprocessor.from_dict(data).reranker.backends[1].model == local_reranker.model

    around = RerankPostprocessor(reranker=Reranker(failing_backend(), fallbacks=[local_reranker]))
    assert around.to_dict()["model"] == "failing/outage-v1"
    assert around.to_dict()["backend_options"] == {"fallbacks": [local_spec]}
    # the fallback answers when the backend fails, and the adapter reports its scores
    reranked = around.postprocess_nodes(make_scored_nodes(), query_str=QUERY)
    assert [n.node.node_id for n in reranked] == [
        i for i, _ in expected(local_reranker, make_scored_nodes())[:3]
    ]


def test_copies_share_the_reranker(postprocessor: RerankPostprocessor) -> None:
    import copy

    variant = postprocessor.model_copy(update={"top_n": 1}, deep=True)
    assert variant.reranker is postprocessor.reranker and variant.top_n == 1
    assert copy.deepcopy(postprocessor).reranker is postprocessor.reranker
    assert len(variant.postprocess_nodes(make_scored_nodes(), query_str=QUERY)) == 1


def test_normalize_and_the_threshold_act_on_the_mapped_score_and_serialize() -> None:
    nodes = make_scored_nodes()
    logits = {
        n.node.get_content(metadata_mode=MetadataMode.EMBED): float(i) - 2.5 for i, n in enumerate(nodes)
    }
    backend = FakeBackend("logits", "logit-model", scores=logits, score_scale="logit")
    postprocessor = RerankPostprocessor(
        reranker=Reranker(backend, normalize=True), top_n=None, score_threshold=0.5
    )
    kept = postprocessor.postprocess_nodes(nodes, query_str=QUERY)
    assert len(kept) == sum(logit >= 0 for logit in logits.values())
    assert all(k.node.metadata[SCORE_KIND_KEY] == "probability" and 0.5 <= k.score < 1 for k in kept)
    spec = RerankPostprocessor(model="cohere/rerank-v3.5", api_key="k", normalize=True)
    assert spec.to_dict()["backend_options"] == {"normalize": True}
    assert RerankPostprocessor.from_dict(spec.to_dict(), api_key="k").reranker.score_mapping.normalize
