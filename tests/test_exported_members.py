"""The public surface: what each public module exports, pinned (as httpx's test_exported_members.py does).

A module is public when no part of its dotted name starts with ``_``; everything else is internal.
The set of public modules is pinned here, and so is each one's ``__all__``: a module or a name added
or dropped fails here until this file says so, so the surface only changes on purpose. Nothing
leaks either: every rerankit object a public package holds, and every one a public module defines,
under a public name is in its ``__all__``.
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
        "SCORE_KINDS",
        "AuthenticationError",
        "Backend",
        "BackendError",
        "BackendHealth",
        "Calibration",
        "ChunkSpan",
        "CircuitOpenError",
        "ConfigurationError",
        "EndpointHealth",
        "Image",
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
        "ScoreScale",
        "Scores",
        "ServerError",
        "Usage",
        "__version__",
    ],
    "rerankit.backends": [
        "BACKENDS",
        "LLM_FORMATS",
        "RERANK_APIS",
        "SEQ2SEQ_FORMATS",
        "AnswerFields",
        "Backend",
        "CohereBackend",
        "DeepInfraBackend",
        "EmbeddingBackend",
        "GatewayBackend",
        "JinaBackend",
        "LLMFormat",
        "ListwiseBackend",
        "LocalColBERT",
        "LocalCrossEncoder",
        "LocalSeq2Seq",
        "MixedbreadBackend",
        "OnnxCrossEncoder",
        "PineconeBackend",
        "ProviderSpec",
        "RemoteBackend",
        "Reply",
        "Seq2SeqFormat",
        "TEIBackend",
        "VoyageBackend",
        "ZeroEntropyBackend",
        "create_backend",
        "number_at",
        "parse_scores",
        "parse_spec",
        "scores_in_input_order",
        "spec_of",
        "whole_number_at",
    ],
    "rerankit.testing": ["FakeBackend", "FakeCall", "hashed_score"],
    "rerankit.testing.models": [
        "HUB_COMMIT",
        "HUB_REPO",
        "QWEN2_CHAT_TEMPLATE",
        "QWEN3_CHAT_TEMPLATE",
        "QWEN3_VL_CHAT_TEMPLATE",
        "QWEN3_RERANKER_CHAT_TEMPLATE",
        "build_bert_cross_encoder",
        "build_bge_reranker_v2_gemma",
        "build_minilm_colbert",
        "build_minilm_cross_encoder",
        "build_modernbert_cross_encoder",
        "build_mxbai_rerank_v2",
        "build_onnx_checkpoints",
        "build_onnx_cross_encoder",
        "build_qwen3_reranker",
        "build_qwen3_reranker_hub",
        "build_qwen3_reranker_sentence_transformers",
        "build_qwen3_vl_reranker",
        "build_t5_reranker",
        "build_xlmr_cross_encoder",
        "build_zerank_reranker",
        "minilm_model_dir",
    ],
    "rerankit.testing.servers": [
        "ANSWER_FAULTS",
        "ChatCompletionsServer",
        "ChatRecord",
        "DEFAULT_MAX_DOCUMENTS_PER_REQUEST",
        "DEFAULT_PATHS",
        "DEFAULT_RANDOM_FAULTS",
        "FORMATS",
        "PROVIDERS",
        "TRANSPORT_FAULTS",
        "Call",
        "Provider",
        "ProviderFormat",
        "RecordedRequest",
        "Rejected",
        "RerankServer",
        "expected_score",
        "expected_search_units",
        "expected_tokens",
        "stand_in_text",
    ],
    "rerankit.ray": [
        "DEFAULT_BATCH_SIZE",
        "INDICES_COLUMN",
        "SCORES_COLUMN",
        "BatchReranker",
        "rerank_dataset",
    ],
    "rerankit.serve": ["BackgroundServer", "ServeConfig", "create_app", "run_server"],
    "rerankit.langchain": ["RerankCompressor"],
    "rerankit.llama_index": ["RETRIEVAL_SCORE_KEY", "SCORE_KIND_KEY", "RerankPostprocessor"],
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
PACKAGE = Path(__file__).resolve().parents[1] / "integrations" / "rerankit"


def public_modules() -> set[str]:
    """Every module under rerankit/ whose dotted name has no part starting with ``_``."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            names.add(".".join(parts))
    return names


def test_the_public_modules_are_the_pinned_ones() -> None:
    assert public_modules() == set(EXPORTED)


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_all_is_the_pinned_surface_and_every_name_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(EXPORTED[name])
    assert len(set(module.__all__)) == len(module.__all__), "a name is listed twice"
    for member in module.__all__:
        assert getattr(module, member) is not None, f"{name}.{member}"


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_a_public_module_holds_no_public_rerankit_name_outside_all(name: str) -> None:
    module = importlib.import_module(name)
    for member in module.__all__:
        getattr(module, member)  # the lazily exported names land in the namespace too
    # A package's namespace is what it re-exports; a plain module's is what it defines (the names it
    # imports for its own use are not its surface).
    is_package = hasattr(module, "__path__")
    leaked = {
        member
        for member, value in vars(module).items()
        if not member.startswith("_")
        and not isinstance(value, types.ModuleType)
        and member not in module.__all__
        and (getattr(value, "__module__", None) or "").startswith("rerankit")
        and (is_package or value.__module__ == name)
    }
    assert not leaked, f"{name} holds public names outside __all__: {sorted(leaked)}"


def test_the_backend_kit_is_the_one_the_backends_use() -> None:
    from rerankit import backends
    from rerankit.backends import _cohere, _remote, _responses

    assert backends.RemoteBackend is _remote.RemoteBackend and issubclass(
        _cohere.CohereBackend, backends.RemoteBackend
    )
    assert backends.CohereBackend is _cohere.CohereBackend
    assert backends.Reply is _responses.Reply
    assert backends.parse_scores is _responses.parse_scores
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
    # OpenTelemetry is installed here (the otel extra) and still not imported: tracing loads it
    # at its first use.
    heavy = {"httpx", "tenacity", "torch", "langchain_core", "llama_index", "opentelemetry"}
    assert not loaded & heavy, loaded


def test_no_message_names_a_private_import_path():
    """What users read (error messages, warnings) names public import paths only: a string in the
    package that names ``rerankit.<...>._private`` would send them to a module they must not import.
    Lazy-export tables (``"module:Name"``) and docstrings are for the package itself."""
    import ast
    import re

    package = Path(importlib.import_module("rerankit").__file__).parent
    private = re.compile(r"\brerankit(?:\.[A-Za-z]\w*)*\._\w+")
    export_entry = re.compile(r"^[\w.]+:\w+$")
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
                continue
            if export_entry.match(node.value):
                continue
            match = private.search(node.value)
            if match:
                found.append(f"{path.relative_to(package)}:{node.lineno}: {match.group()}")
    assert not found, "messages naming private paths:\n" + "\n".join(found)
