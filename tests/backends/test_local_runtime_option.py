"""The local backend's runtime option: ``runtime=``, with ``backend=`` (sentence-transformers' name) as an alias."""

from __future__ import annotations

from pathlib import Path

import pytest

from rerankit import ConfigurationError, Reranker
from rerankit.backends import LocalCrossEncoder


def test_runtime_and_its_alias_backend_pick_the_same_runtime(bert_model: Path) -> None:
    assert LocalCrossEncoder(str(bert_model), device="cpu").runtime == "torch"
    assert LocalCrossEncoder(str(bert_model), device="cpu", runtime="torch").runtime == "torch"
    assert LocalCrossEncoder(str(bert_model), device="cpu", backend="torch").runtime == "torch"
    by_runtime = Reranker(f"local/{bert_model}", device="cpu", runtime="torch")
    by_alias = Reranker(f"local/{bert_model}", device="cpu", backend="torch")
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
def test_a_bad_runtime_is_refused_by_name(bert_model: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Reranker(f"local/{bert_model}", device="cpu", **options)


@pytest.mark.parametrize(
    ("options", "spec"),
    [({"runtime": "onnx"}, "Reranker('onnx/<model>')"), ({"backend": "openvino"}, 'runtime="openvino"')],
)
def test_the_runtimes_that_moved_to_the_onnx_backend_say_where_they_went(
    bert_model: Path, options: dict, spec: str
) -> None:
    with pytest.raises(ConfigurationError, match="is the onnx/ backend's now") as error:
        Reranker(f"local/{bert_model}", device="cpu", **options)
    assert spec in str(error.value) and "rerankit export-onnx" in str(error.value)
