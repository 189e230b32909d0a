"""The remote backends' options: one model per backend, defaults written once, one message per rule.

Each backend's keyword options are declared once, in an options model (type, bounds, default,
description); its ``__init__`` signature reads the defaults from there and its docstring documents
every option. A bad value is refused naming the option, the rule and the value got.
"""

from __future__ import annotations

import inspect
import re

import pytest
from pydantic import SecretStr

from rerankit import ConfigurationError, Reranker
from rerankit._options_base import Options
from rerankit.backends import (
    BACKENDS,
    CohereBackend,
    GatewayBackend,
    PineconeBackend,
    RemoteBackend,
    TEIBackend,
    ZeroEntropyBackend,
)
from rerankit.backends._registry import backend_class
from rerankit.backends._settings import RemoteOptions, TransportSettings

#: Every registered backend that speaks HTTP.
REMOTE_BACKENDS = [cls for cls in map(backend_class, BACKENDS) if issubclass(cls, RemoteBackend)]
#: Each provider with options of its own, and the model that declares them (its ``options_model``).
OWN_OPTIONS: dict[type[RemoteBackend], type[Options]] = {
    cls: cls.options_model for cls in REMOTE_BACKENDS if cls.options_model is not None
}
#: What the transport model holds that is not a user's option (set by the backend class itself).
NOT_OPTIONS = {"provider", "auth_scheme", "auth_header", "headers"}


def keyword_parameters(function) -> dict[str, inspect.Parameter]:
    return {
        name: parameter
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY
    }


def documented_arguments(docstring: str) -> set[str]:
    """The names listed in a Google-style ``Args:`` section."""
    section = re.search(r"^\s*Args:\n(.*?)(?:^\s*(?:Raises|Returns|Attributes):|\Z)", docstring, re.M | re.S)
    assert section, "no Args: section"
    return set(re.findall(r"^\s{8,12}\**(\w+):", section.group(1), re.M))


def test_remote_backend_defaults_come_from_the_options_models_and_are_all_documented() -> None:
    parameters = keyword_parameters(RemoteBackend.__init__)
    models = (RemoteOptions, TransportSettings)
    declared = {name for model in models for name in model.model_fields} - NOT_OPTIONS
    assert declared == set(parameters)
    for name in declared - {"base_url", "api_key"}:  # those two are resolved from the environment first
        model = next(model for model in models if name in model.model_fields)
        assert parameters[name].default == model.default(name), name
        assert model.model_fields[name].description, f"{name} has no description"
    documented = documented_arguments(RemoteBackend.__init__.__doc__)
    assert set(parameters) | {"model"} <= documented
    for name in parameters:
        entry = re.search(
            rf"^\s+{name}: (.*?)(?=^\s+\w+: |\n\n)", RemoteBackend.__init__.__doc__, re.M | re.S
        )
        assert entry and "Defaults to" in entry.group(1), f"{name}: no 'Defaults to ...'"


@pytest.mark.parametrize("backend", sorted(OWN_OPTIONS, key=lambda cls: cls.name), ids=lambda cls: cls.name)
def test_a_provider_declares_each_option_once_and_documents_it(backend: type[RemoteBackend]) -> None:
    model = OWN_OPTIONS[backend]
    parameters = keyword_parameters(backend.__init__)
    assert set(parameters) == set(model.model_fields)
    for name, parameter in parameters.items():
        assert parameter.default == model.default(name), name
        assert model.model_fields[name].description, f"{name} has no description"
    assert set(parameters) | {"model", "options"} <= documented_arguments(backend.__doc__)
    # written once: the signature and the Args: entries are made from the fields, never by hand
    assert getattr(backend.__init__, "_made_from_options", False), f"{backend.__name__} writes its __init__"
    doc = " ".join((backend.__doc__ or "").split())
    for name, field in model.model_fields.items():
        assert f"{name}: {' '.join((field.description or '').split())}" in doc, name


def test_a_provider_with_options_of_its_own_declares_their_model() -> None:
    """So none is left out of the checks above."""
    undeclared = [
        cls.name
        for cls in REMOTE_BACKENDS
        if cls.options_model is None and cls.__init__ is not RemoteBackend.__init__
    ]
    assert undeclared == []


@pytest.mark.parametrize(
    "backend", [cls for cls in REMOTE_BACKENDS if cls.options_model is None], ids=lambda cls: cls.name
)
def test_a_provider_without_options_of_its_own_takes_the_shared_ones(backend) -> None:
    assert backend.__init__ is RemoteBackend.__init__
    assert "model" in documented_arguments(backend.__doc__)


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        (
            "cohere/rerank-v3.5",
            {"max_concurrency": 0},
            "max_concurrency must be an integer of at least 1, got 0",
        ),
        (
            "cohere/rerank-v3.5",
            {"max_connections": True},
            "max_connections must be an integer of at least 1, got True",
        ),
        (
            "cohere/rerank-v3.5",
            {"max_document_tokens": 0},
            "max_document_tokens must be an integer of at least 1 (or None), got 0",
        ),
        (
            "cohere/rerank-v3.5",
            {"timeout": 0, "max_retries": -1},
            "timeout must be a number greater than 0, got 0; max_retries must be an integer of at least 0, got -1",
        ),
        (
            "cohere/rerank-v3.5",
            {"max_tokens_per_doc": 0},
            "max_tokens_per_doc must be an integer of at least 1 (or None), got 0",
        ),
        (
            "cohere/rerank-v3.5",
            {"priority": 1000},
            "priority must be an integer from 0 to 999 (or None), got 1000",
        ),
        ("gateway/m", {"priority": -1}, "priority must be an integer of at least 0 (or None), got -1"),
        (
            "gateway/m",
            {"max_documents_per_request": 2.5},
            "max_documents_per_request must be an integer of at least 1, got 2.5",
        ),
        (
            "gateway/m",
            {"truncate_prompt_tokens": "all"},
            "truncate_prompt_tokens must be an integer from -1 to 2147483647 (or None), got 'all'",
        ),
        (
            "gateway/m",
            {"gateway_fallbacks": "vllm/x"},
            "gateway_fallbacks must be a list of model ids like ['vllm/BAAI/bge-reranker-v2-m3'], got str",
        ),
        (
            "gateway/m",
            {"gateway_fallbacks": ["vllm/x", " "]},
            "gateway_fallbacks entry 1 is ' ', expected a model id",
        ),
        (
            "tei/m",
            {"truncation_direction": "up"},
            "truncation_direction must be one of 'Left', 'Right', 'left', 'right' (or None), got 'up'",
        ),
        ("tei/m", {"raw_scores": 1}, "raw_scores must be True or False, got 1"),
        ("tei/m", {"payload_limit": 0}, "payload_limit must be an integer of at least 1, got 0"),
        ("voyage/rerank-2.5", {"truncation": "yes"}, "truncation must be True or False (or None), got 'yes'"),
        (
            "voyage/rerank-2.5",
            {"max_total_tokens": 0},
            "max_total_tokens must be an integer of at least 1 (or None), got 0",
        ),
        (
            "zeroentropy/zerank-2",
            {"latency": "medium"},
            "latency must be one of 'fast', 'slow' (or None), got 'medium'",
        ),
        (
            "pinecone/bge-reranker-v2-m3",
            {"parameters": ["truncate"]},
            "parameters must be a mapping like {'truncate': 'END'}, got list",
        ),
        (
            "pinecone/bge-reranker-v2-m3",
            {"api_version": 2025},
            "api_version must be a non-blank string like '2025-10', got 2025",
        ),
        ("listwise/m", {"temperature": 3}, "temperature must be a number from 0 to 2, got 3"),
        (
            "listwise/m",
            {"max_completion_tokens": 0},
            "max_completion_tokens must be an integer of at least 1 (or None), got 0",
        ),
        ("listwise/m", {"extra_body": {"messages": []}}, "extra_body may not set messages"),
    ],
)
def test_a_bad_value_names_the_option_the_rule_and_the_value(spec: str, options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker(spec, base_url="http://127.0.0.1:9", api_key="k", **options)
    assert caught.value.message == message
    assert caught.value.provider == spec.partition("/")[0]


@pytest.mark.parametrize("spec", ["gateway/m", "deepinfra/m"])
@pytest.mark.parametrize("instruction", [" ", "", 3])
def test_instruction_has_one_message_everywhere(spec: str, instruction) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker(spec, base_url="http://127.0.0.1:9", api_key="k", instruction=instruction)
    assert caught.value.message == "instruction must be a non-blank string"


def test_the_class_limit_is_the_documented_one_and_the_instance_limit_the_one_in_effect() -> None:
    assert (GatewayBackend.max_documents_per_request, CohereBackend.max_documents_per_request) == (1000, 1000)
    assert TEIBackend.max_documents_per_request == 32  # TEI's --max-client-batch-size default
    assert ZeroEntropyBackend.max_documents_per_request is None  # a byte limit, no count
    gateway = GatewayBackend("m", base_url="http://127.0.0.1:9", max_documents_per_request=5)
    tei = TEIBackend("m", base_url="http://127.0.0.1:9", max_client_batch_size=7)
    pinecone = PineconeBackend("cohere-rerank-3.5", api_key="k")
    assert (gateway.max_documents_per_request, tei.max_documents_per_request) == (5, 7)
    assert pinecone.max_documents_per_request == 200
    assert (GatewayBackend.max_documents_per_request, TEIBackend.max_documents_per_request) == (1000, 32)


def test_a_key_of_the_wrong_type_is_refused_without_its_value() -> None:
    with pytest.raises(ConfigurationError) as caught:
        TransportSettings(provider="cohere", base_url="http://127.0.0.1:9", api_key=["sk-very-secret"])
    assert caught.value.message.startswith("api_key: ") and "sk-very-secret" not in str(caught.value)
    assert caught.value.provider == "cohere"
    settings = TransportSettings(provider="cohere", base_url="http://127.0.0.1:9", api_key=SecretStr("sk-1"))
    assert "sk-1" not in repr(settings) and settings.timeout == TransportSettings.default("timeout")


def test_a_backend_without_a_documents_limit_is_refused_when_built() -> None:
    class NoLimit(RemoteBackend):
        name = "no-limit"
        default_base_url = "http://127.0.0.1:9"
        api_key_required = False

    with pytest.raises(TypeError, match="NoLimit must set the class attribute max_documents_per_request"):
        NoLimit("m")


# -- one behaviour for every options model, and for an unknown option ----------------------------------


def all_options_models() -> list[type[Options]]:
    """Every options model rerankit declares (the modules that hold them imported first; the remote
    backends' are imported with :data:`REMOTE_BACKENDS`)."""
    import rerankit.backends._local._option_models
    import rerankit.backends._onnx._option_models
    import rerankit.evaluation._option_models
    import rerankit.serve._config  # noqa: F401

    found, todo = [], list(Options.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return sorted(
        {model for model in found if model.__module__.startswith("rerankit.")}, key=lambda m: m.__qualname__
    )


def test_every_options_model_refuses_a_bad_or_unknown_value_with_a_configuration_error() -> None:
    """Built directly or with ``.validated``, no options model lets pydantic's ValidationError out."""
    from pydantic import ValidationError

    from rerankit.backends._settings import RemoteOptions, TransportSettings
    from rerankit.serve import ServeConfig

    models = all_options_models()
    assert {TransportSettings, RemoteOptions, ServeConfig, CohereBackend.options_model} <= set(models)
    for model in models:
        for build in (
            lambda model=model: model(no_such_option=1),
            lambda model=model: model.validated({"no_such_option": 1}),
        ):
            with pytest.raises(ConfigurationError) as caught:
                build()
            assert not isinstance(caught.value, ValidationError), model
            assert "unknown option 'no_such_option'; valid options: " in caught.value.message, model
    with pytest.raises(ConfigurationError, match="max_queue must be an integer of at least 1, got 0"):
        ServeConfig(spec="local/m", max_queue=0)


@pytest.mark.parametrize("backend", REMOTE_BACKENDS, ids=lambda cls: cls.name)
def test_an_unknown_option_is_the_same_error_through_the_class_and_the_spec(backend) -> None:
    options = {"base_url": "http://127.0.0.1:9", "api_key": "k", "temprature": 0}
    with pytest.raises(ConfigurationError) as by_spec:
        Reranker(f"{backend.name}/rerank-2.5", **options)
    with pytest.raises(ConfigurationError) as by_class:
        backend("rerank-2.5", **options)
    assert by_class.value.message == by_spec.value.message
    assert by_class.value.message.startswith(f"unknown option(s) 'temprature' for backend {backend.name!r}")
    assert by_class.value.provider == backend.name
