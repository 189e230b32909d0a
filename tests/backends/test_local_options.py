"""The local backends' options models: each ``__init__`` takes exactly its model's options, with the
model's defaults (written once), and every option a model checks is described."""

from __future__ import annotations

import inspect

import pytest

from rerankit import ConfigurationError
from rerankit.backends import (
    EmbeddingBackend,
    LocalColBERT,
    LocalCrossEncoder,
    LocalSeq2Seq,
    OnnxCrossEncoder,
)
from rerankit.backends._local._option_models import (
    ColBERTOptions,
    CrossEncoderOptions,
    EmbeddingOptions,
    Seq2SeqOptions,
)
from rerankit.backends._onnx._option_models import OnnxOptions
from rerankit.backends._registry import option_names

BACKENDS = [
    (LocalCrossEncoder, CrossEncoderOptions),
    (LocalColBERT, ColBERTOptions),
    (LocalSeq2Seq, Seq2SeqOptions),
    (EmbeddingBackend, EmbeddingOptions),
    (OnnxCrossEncoder, OnnxOptions),
]


@pytest.mark.parametrize(("backend", "options"), BACKENDS, ids=lambda item: item.__name__)
def test_the_signature_is_the_options_model(backend: type, options: type) -> None:
    assert sorted(option_names(backend)) == sorted(options.model_fields)
    parameters = inspect.signature(backend.__init__).parameters
    for name, field in options.model_fields.items():
        assert parameters[name].default == field.default, name
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert field.description, f"{options.__name__}.{name} has no description"
        assert name in (backend.__doc__ or ""), f"{backend.__name__} does not document {name}"


@pytest.mark.parametrize(
    ("backend", "options", "message"),
    [
        (
            LocalCrossEncoder,
            {"max_batch_tokens": 0},
            "max_batch_tokens must be an integer of at least 1, 'auto' or None, got 0",
        ),
        (
            LocalCrossEncoder,
            {"max_length": 4},
            "max_length must be an integer of at least 8 \\(or None\\), got 4",
        ),
        (LocalCrossEncoder, {"instruction": " "}, "^instruction must be a non-blank string"),
        (LocalCrossEncoder, {"instruction": 3}, "^instruction must be a non-blank string"),
        (
            LocalCrossEncoder,
            {"llm_format": "qwen4"},
            "llm_format must be one of 'qwen3-reranker', .*got 'qwen4'",
        ),
        (
            LocalCrossEncoder,
            {"trust_remote_code": "yes"},
            "trust_remote_code must be True or False, got 'yes'",
        ),
        (LocalCrossEncoder, {"revision": 3}, "revision must be a string \\(or None\\), got int"),
        (
            LocalCrossEncoder,
            {"device": "gpu"},
            "device must be 'auto' or a torch device string, got 'gpu' \\(Expected one of cpu, cuda",
        ),
        (
            LocalCrossEncoder,
            {"dtype": "int3"},
            "dtype must be one of 'auto', 'float32', .*'bf16', got 'int3'",
        ),
        (LocalColBERT, {"convert": 1}, "convert must be True or False, got 1"),
        (
            LocalColBERT,
            {"similarity": "cosine"},
            "similarity must be one of 'maxsim', 'meanmaxsim' \\(or None\\), got 'cosine'",
        ),
        (
            LocalSeq2Seq,
            {"family": "flan"},
            "family must be one of 'monot5', 'inranker', 'mt5' \\(or None\\), got 'flan'",
        ),
        (LocalSeq2Seq, {"true_token": ""}, "true_token must be a non-empty vocabulary piece, got ''"),
        (LocalSeq2Seq, {"template": "{document} {query}"}, "template must put '{query}' before '{document}'"),
        (EmbeddingBackend, {"batch_size": 1.5}, "batch_size must be an integer of at least 1, got 1.5"),
    ],
)
def test_bad_options_are_refused_before_any_model_loads(backend: type, options: dict, message: str) -> None:
    """No such model exists: the options are refused first, each named with its rule and value."""
    with pytest.raises(ConfigurationError, match=message):
        backend("no/such-model", **options)


def test_every_bad_option_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        LocalCrossEncoder("no/such-model", batch_size=0, max_length=1)
    assert caught.value.message == (
        "batch_size must be an integer of at least 1, got 0; "
        "max_length must be an integer of at least 8 (or None), got 1"
    )
    assert caught.value.provider == "local"
