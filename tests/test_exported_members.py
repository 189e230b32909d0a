"""The public surface: what each public module exports, pinned (as httpx's test_exported_members.py does).

A name added to or dropped from an ``__all__`` fails here until this list says so: the surface only
changes on purpose. For the packages whose namespace is curated (``rerankit``, ``rerankit.testing``,
``rerankit.evaluation``), every public name they hold is also in ``__all__``: nothing leaks.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

EXPORTED = {
    "rerankit": [
        "AuthenticationError",
        "Backend",
        "BackendError",
        "BackendHealth",
        "ChunkSpan",
        "CircuitOpenError",
        "ConfigurationError",
        "EndpointHealth",
        "InvalidInputError",
        "InvalidRequestError",
        "MalformedResponseError",
        "MemoryScoreCache",
        "RateLimitError",
        "RedisScoreCache",
        "RerankError",
        "RerankResponse",
        "RerankResult",
        "RerankTimeoutError",
        "Reranker",
        "ScoreCache",
        "Scores",
        "ServerError",
        "Usage",
        "__version__",
    ],
    "rerankit.backends": [
        "BACKENDS",
        "Backend",
        "RemoteBackend",
        "Reply",
        "create_backend",
        "number_at",
        "parse_scores",
        "parse_spec",
        "scores_in_input_order",
        "spec_of",
        "whole_number_at",
    ],
    "rerankit.testing": ["FakeBackend", "FakeCall", "hashed_score"],
    "rerankit.langchain": ["RerankCompressor"],
    "rerankit.llama_index": ["RETRIEVAL_SCORE_KEY", "RerankPostprocessor"],
    "rerankit.evaluation": [
        "DEMO_DATA",
        "FIRST_STAGE",
        "BM25Retriever",
        "BeirDataset",
        "Document",
        "EvalResult",
        "LatencyStats",
        "ModelArg",
        "RankedDocument",
        "SystemResult",
        "default_metrics",
        "evaluate",
        "load_beir",
        "plot_quality_latency",
        "score_rankings",
    ],
}
CURATED = ("rerankit", "rerankit.testing", "rerankit.evaluation")


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_all_is_the_pinned_surface_and_every_name_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(EXPORTED[name])
    assert len(set(module.__all__)) == len(module.__all__), "a name is listed twice"
    for member in module.__all__:
        assert getattr(module, member) is not None, f"{name}.{member}"


@pytest.mark.parametrize("name", CURATED)
def test_a_curated_package_holds_no_public_name_outside_all(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(module.__all__) and set(module.__all__) - {"__version__"} <= public


def test_the_backend_kit_is_the_one_the_backends_use() -> None:
    from rerankit import backends
    from rerankit.backends import cohere, http, remote, responses

    assert backends.RemoteBackend is remote.RemoteBackend and issubclass(
        cohere.CohereBackend, remote.RemoteBackend
    )
    assert backends.Reply is http.Reply
    assert backends.parse_scores is responses.parse_scores
    reply = backends.Reply(
        "demo", 200, {"results": [{"index": 1, "score": 0.9}, {"index": 0, "score": 0.1}]}, None
    )
    assert backends.scores_in_input_order(reply, ["a", "b"]) == [0.1, 0.9]
    assert backends.whole_number_at({"usage": {"total_tokens": 12}}, "usage", "total_tokens") == 12
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        backends.nothing_here  # noqa: B018


def test_import_rerankit_loads_no_http_stack_or_framework() -> None:
    code = "import json, sys, rerankit, rerankit.backends; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "integrations"), "PATH": ""},
    )
    loaded = set(json.loads(result.stdout))
    assert not loaded & {"httpx", "tenacity", "torch", "langchain_core", "llama_index"}, loaded
