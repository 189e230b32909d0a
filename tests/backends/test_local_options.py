"""The local backends' options models: each ``__init__`` takes exactly its model's options, with the
model's defaults and descriptions (written once, in the model), and an unknown or bad option is the
same error through the class as through a spec string."""

from __future__ import annotations

import inspect

import pytest

from rerankit import ConfigurationError, Reranker
from rerankit.backends import (
    EmbeddingBackend,
    LocalColBERT,
    LocalCrossEncoder,
    LocalSeq2Seq,
)
from rerankit.backends._registry import OTHER_BACKENDS, backend_class, option_names
from rerankit.backends._remote import RemoteBackend

#: Every in-process backend the registry holds (a new one is checked here without being listed).
BACKENDS = [
    backend_class(prefix) for prefix in OTHER_BACKENDS if not issubclass(backend_class(prefix), RemoteBackend)
]


def test_the_registry_holds_the_known_local_backends() -> None:
    assert {cls.name for cls in BACKENDS} >= {"local", "onnx", "embedding", "colbert", "t5"}


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda cls: cls.name)
def test_the_signature_and_args_are_the_options_model(backend: type) -> None:
    """One place per option: the signature's names, kinds and defaults, and the class's ``Args:``
    entries (its description and default), are made from the options model's fields."""
    options = backend.options_model
    assert option_names(backend) == list(options.model_fields)
    parameters = inspect.signature(backend.__init__).parameters
    doc = " ".join((backend.__doc__ or "").split())
    for name, field in options.model_fields.items():
        assert parameters[name].default == field.default, name
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert field.description, f"{options.__name__}.{name} has no description"
        entry = f"{name}: {' '.join(field.description.split())}"
        assert entry in doc, f"{backend.__name__} does not document {name} from its field"
    assert "**options" not in doc, "the **options entry is replaced by one entry per option"


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda cls: cls.name)
def test_an_unknown_option_is_the_same_error_through_the_class_and_the_spec(backend: type) -> None:
    """No model loads: the name is refused first, with the same message either way (not a TypeError)."""
    with pytest.raises(ConfigurationError) as by_spec:
        Reranker(f"{backend.name}/no/such-model", temprature=0)
    with pytest.raises(ConfigurationError) as by_class:
        backend("no/such-model", temprature=0)
    assert by_class.value.message == by_spec.value.message
    assert by_class.value.message.startswith(
        f"unknown option(s) 'temprature' for backend {backend.name!r}; valid options: "
        + ", ".join(backend.options_model.model_fields)
    )
    assert by_class.value.provider == backend.name


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
