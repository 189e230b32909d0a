"""The core's score step: the declared kind on every response, ``normalize=True``, thresholds after
the mapping, the ranking by the raw score, and the one warning for a threshold on raw logits."""

from __future__ import annotations

import logging
import random

import pytest
from scipy.stats import kendalltau

from rerankit import ConfigurationError, Reranker, ScoreScale, ServerError
from rerankit._score_kinds import sigmoid
from rerankit.testing import FakeBackend

LOGITS = {"a": -3.0, "b": 2.0, "c": 40.0, "d": 41.0, "e": 0.5}
DOCS = list(LOGITS)


def logit_backend(name: str = "logits") -> FakeBackend:
    return FakeBackend(name, "logit-model", scores=LOGITS, score_scale="logit")


def test_a_response_carries_the_kind_and_range_its_backend_declares() -> None:
    assert Reranker(logit_backend()).rerank("q", DOCS).score_kind == "logit"
    assert Reranker(logit_backend()).rerank("q", DOCS).score_range is None
    relevance = Reranker(FakeBackend()).rerank("q", ["x", "y"])
    assert (relevance.score_kind, relevance.score_range) == ("relevance", (0.0, 1.0))
    undeclared = Reranker(FakeBackend(score_scale=None)).rerank("q", ["x"])
    assert (undeclared.score_kind, undeclared.score_range) == (None, None)


def test_normalize_maps_a_logit_by_its_sigmoid_and_the_threshold_applies_after() -> None:
    reranker = Reranker(logit_backend(), normalize=True)
    response = reranker.rerank("q", DOCS, score_threshold=0.5)
    assert response.score_kind == "probability" and response.score_range == (0.0, 1.0)
    kept = {DOCS[r.index]: r.relevance_score for r in response.results}
    assert kept == {doc: pytest.approx(sigmoid(LOGITS[doc])) for doc in ("b", "c", "d", "e")}  # logit >= 0


def test_scores_the_mapping_merges_keep_the_raw_order() -> None:
    # sigmoid(40) and sigmoid(41) are both 1.0 in double precision: "d" (41) still ranks first.
    response = Reranker(logit_backend(), normalize=True).rerank("q", DOCS)
    assert [DOCS[r.index] for r in response.results] == ["d", "c", "b", "e", "a"]
    assert response.results[0].relevance_score == response.results[1].relevance_score == 1.0


def test_normalize_keeps_the_order_exactly() -> None:
    rng = random.Random(7)
    logits = {f"doc {i}": rng.uniform(-11.0, 9.0) for i in range(200)}  # an ms-marco logit's span
    backend = FakeBackend(scores=logits, score_scale="logit")
    raw = Reranker(backend).rerank("q", list(logits))
    normalized = Reranker(backend, normalize=True).rerank("q", list(logits))
    assert [r.index for r in normalized.results] == [r.index for r in raw.results]
    tau = kendalltau(
        [r.relevance_score for r in raw.results], [r.relevance_score for r in normalized.results]
    )
    assert tau.statistic == pytest.approx(1.0)


def test_normalize_keeps_a_probability_or_a_relevance_as_it_is() -> None:
    backend = FakeBackend(score_scale="probability")
    assert (
        Reranker(backend, normalize=True).rerank("q", DOCS).results
        == Reranker(backend).rerank("q", DOCS).results
    )


@pytest.mark.parametrize("kind", ["similarity", "reciprocal_rank"])
def test_normalize_is_refused_naming_a_kind_with_no_documented_normalization(kind: str) -> None:
    with pytest.raises(ConfigurationError, match=f"normalize=True: a {kind} score"):
        Reranker(FakeBackend(score_scale=kind), normalize=True)


def test_normalize_is_checked_against_every_fallback_and_an_undeclared_backend() -> None:
    with pytest.raises(ConfigurationError, match="a similarity score"):
        Reranker(logit_backend(), fallbacks=[FakeBackend("other", score_scale="similarity")], normalize=True)
    with pytest.raises(ConfigurationError, match="declares no score kind"):
        Reranker(FakeBackend(score_scale=None), normalize=True)
    with pytest.raises(ConfigurationError, match="normalize must be True or False"):
        Reranker(logit_backend(), normalize="yes")  # type: ignore[arg-type]


def test_a_fallback_answers_with_its_own_normalized_kind() -> None:
    down = FakeBackend("down", score_scale="logit", fail_with=ServerError("down", status_code=503))
    response = Reranker(down, fallbacks=[logit_backend("up")], normalize=True).rerank("q", DOCS)
    assert response.backend == "up" and response.score_kind == "probability"


def test_a_threshold_on_raw_logits_warns_once_naming_the_kind(caplog: pytest.LogCaptureFixture) -> None:
    reranker = Reranker(logit_backend())
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        for _ in range(3):
            reranker.rerank("q", DOCS, score_threshold=0.5)
        reranker.rerank("q", DOCS)  # no threshold: nothing to say
    warnings = [r for r in caplog.records if "score_threshold" in r.getMessage()]
    assert len(warnings) == 1
    assert "kind is 'logit'" in warnings[0].getMessage() and "normalize=True" in warnings[0].getMessage()


@pytest.mark.parametrize(
    "reranker",
    [
        pytest.param(lambda: Reranker(logit_backend(), normalize=True), id="normalized"),
        pytest.param(lambda: Reranker(FakeBackend(score_scale="probability")), id="probability"),
        pytest.param(lambda: Reranker(FakeBackend(score_scale="similarity")), id="similarity"),
    ],
)
def test_no_warning_for_a_threshold_on_a_mapped_or_bounded_score(reranker, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        reranker().rerank("q", DOCS, score_threshold=0.5)
    assert not [r for r in caplog.records if "score_threshold" in r.getMessage()]


async def test_arerank_and_the_batch_api_map_the_scores_too() -> None:
    reranker = Reranker(logit_backend(), normalize=True)
    expected = reranker.rerank("q", DOCS, score_threshold=0.6)
    assert (await reranker.arerank("q", DOCS, score_threshold=0.6)).results == expected.results
    (batched,) = reranker.rerank_batch(["q"], [DOCS], score_threshold=0.6)
    (abatched,) = await reranker.arerank_batch(["q"], [DOCS], score_threshold=0.6)
    assert batched.results == abatched.results == expected.results
    assert batched.score_kind == "probability"


def test_a_score_scale_is_validated_data() -> None:
    with pytest.raises(ValueError, match="maps a logit"):
        ScoreScale(kind="similarity", description="x", normalization="sigmoid", source="s")
    with pytest.raises(ValueError, match=r"already in \(0.0, 1.0\)"):
        ScoreScale(kind="relevance", description="x", normalization="identity", source="s")
    with pytest.raises(ValueError, match="low < high"):
        ScoreScale(kind="similarity", range=(1.0, -1.0), description="x", source="s")
    with pytest.raises(ConfigurationError, match=r"must be a rerankit\.ScoreScale"):
        Reranker(_with_scale("logit"), normalize=True)


def _with_scale(value: object) -> FakeBackend:
    backend = FakeBackend()
    backend.score_scale = value  # type: ignore[assignment]
    return backend
