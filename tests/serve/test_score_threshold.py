"""``score_threshold`` on every rerank route (a rerankit extension) and the score kind in ``/info``,
over real HTTP, with the served reranker's ``normalize`` applied before the threshold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rerankit import InvalidInputError
from rerankit._validation import check_score_threshold
from rerankit.serve import BackgroundServer, ServeConfig
from rerankit.testing.models import build_bert_cross_encoder

from .conftest import API_KEY, DOCUMENTS, QUERY

AUTH = {"Authorization": f"Bearer {API_KEY}"}
ROUTES = ["/v1/rerank", "/rerank", "/v2/rerank"]


def post(server: BackgroundServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.base_url + path, json=body, headers=AUTH)


@pytest.fixture(scope="module")
def normalized_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    """An ms-marco-shaped model (raw logits) served with normalize=True."""
    path = build_bert_cross_encoder(
        tmp_path_factory.mktemp("serve-logit") / "bert", activation_fn="torch.nn.modules.linear.Identity"
    )
    config = ServeConfig(spec=f"local/{path}", options={"device": "cpu", "normalize": True}, api_key=API_KEY)
    with BackgroundServer(config) as running:
        yield running


def test_info_says_what_the_scores_are(server: BackgroundServer, normalized_server: BackgroundServer) -> None:
    info = httpx.get(server.base_url + "/info").json()
    assert info["score_kind"] == "probability" and info["score_range"] == [0.0, 1.0]
    normalized = httpx.get(normalized_server.base_url + "/info").json()
    assert normalized["score_kind"] == "probability" and normalized["score_range"] == [0.0, 1.0]


@pytest.mark.parametrize("path", ROUTES)
def test_score_threshold_drops_what_scores_below_it_before_top_n(server: BackgroundServer, path: str) -> None:
    everything = post(server, path, {"query": QUERY, "documents": DOCUMENTS}).json()["results"]
    scores = sorted({r["relevance_score"] for r in everything}, reverse=True)
    threshold = (scores[1] + scores[2]) / 2  # between the second and third distinct scores
    expected = [r["index"] for r in everything if r["relevance_score"] >= threshold]
    assert 0 < len(expected) < len(everything)
    body = {"query": QUERY, "documents": DOCUMENTS, "score_threshold": threshold, "top_n": 4}
    kept = post(server, path, body)
    assert kept.status_code == 200
    assert [r["index"] for r in kept.json()["results"]] == expected[:4]


def test_score_threshold_applies_to_the_normalized_score(normalized_server: BackgroundServer) -> None:
    everything = post(normalized_server, "/v1/rerank", {"query": QUERY, "documents": DOCUMENTS}).json()[
        "results"
    ]
    assert all(0.0 < r["relevance_score"] < 1.0 for r in everything)
    median = sorted(r["relevance_score"] for r in everything)[len(everything) // 2]
    kept = post(
        normalized_server, "/v1/rerank", {"query": QUERY, "documents": DOCUMENTS, "score_threshold": median}
    )
    assert [r["relevance_score"] for r in kept.json()["results"]] == [
        r["relevance_score"] for r in everything if r["relevance_score"] >= median
    ]


@pytest.mark.parametrize("bad", ["0.5", True, [0.5]])
def test_a_bad_score_threshold_is_400_with_the_cores_message(server: BackgroundServer, bad: Any) -> None:
    with pytest.raises(InvalidInputError) as expected:  # the core's own check gives the message
        check_score_threshold(bad)
    reply = post(server, "/v1/rerank", {"query": QUERY, "documents": DOCUMENTS, "score_threshold": bad})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == expected.value.message
