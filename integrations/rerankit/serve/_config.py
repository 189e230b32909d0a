"""The settings of one ``rerankit serve`` process: what it serves and the limits it enforces."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from rerankit._options_base import Options
from rerankit.backends import parse_spec


class ServeConfig(Options):
    """What a rerank server serves and the limits it enforces.

    Each field's description says what it is and its default; an invalid or unknown value raises a
    :class:`~rerankit.ConfigurationError` naming each bad option, built directly or with
    ``ServeConfig.validated(...)``, as every options model does.

    >>> config = ServeConfig(spec="local/BAAI/bge-reranker-base")
    >>> config.model_name
    'BAAI/bge-reranker-base'
    >>> ServeConfig.default("max_documents_per_request")
    1000
    """

    owner: ClassVar[str | None] = "serve"

    spec: str = Field(
        description='The reranker spec, e.g. ``"local/BAAI/bge-reranker-v2-m3"`` (any spec ``Reranker`` takes).'
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description='The backend\'s options (``{"device": "cuda", "batch_size": 64}``). An ``api_key`` among '
        "them (a remote spec's upstream key) is kept as a ``SecretStr``, hidden in reprs and dumps.",
    )
    served_model_name: str | None = Field(
        default=None,
        description="The model name clients send (as in vLLM); a request naming another model is a 404. "
        "Defaults to the spec's model id.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="The key requests must carry as ``Authorization: Bearer <key>``; ``None``: no auth.",
    )
    # Cohere and Jina accept 1,000 documents per call.
    max_documents_per_request: int = Field(
        default=1000, ge=1, description="Most documents per request (413 above it)."
    )
    # TEI's --payload-limit default (2 MB), a size every gateway passes.
    max_request_bytes: int = Field(
        default=2_000_000, ge=1, description="Most bytes per request body (413 above it)."
    )
    max_queue: int = Field(
        default=256,
        ge=1,
        description="Most requests admitted at once, scoring or waiting for their turn; one more is "
        "answered 429 with ``Retry-After``. Work is admitted by its pairs and the measured throughput "
        "too: a request that could not be answered within half of ``request_timeout`` gets a 429 at once.",
    )
    request_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a request may take from admission to answer; then 504."
    )
    retry_after: int = Field(
        default=1,
        ge=0,
        description="The ``Retry-After`` seconds a 429 for a full queue (by count) or a 503 (model "
        "loading) carries; a 429 for too much work carries the estimated wait instead.",
    )
    read_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a client has to send a request's headers, and then each part of its body; "
        "a half-sent request is answered 408 and its connection closed.",
    )
    max_instructions: int = Field(
        default=16,
        ge=1,
        description="Most distinct per-request ``instruction`` values kept ready at once (an LLM reranker "
        "gets one Reranker per instruction, all sharing the loaded model; least recently used first out).",
    )

    @field_validator("spec")
    @classmethod
    def _known_spec(cls, spec: str) -> str:
        parse_spec(spec)  # a ConfigurationError naming the valid backends
        return spec

    @field_validator("options")
    @classmethod
    def _hide_upstream_key(cls, options: dict[str, Any]) -> dict[str, Any]:
        if isinstance(options.get("api_key"), str):  # remote backends take a SecretStr as well
            return {**options, "api_key": SecretStr(options["api_key"])}
        return options

    @field_validator("served_model_name")
    @classmethod
    def _non_blank_name(cls, name: str | None) -> str | None:
        if name is not None and not name.strip():
            raise ValueError("served_model_name must not be blank")
        return name

    @field_validator("api_key")
    @classmethod
    def _non_blank_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not key.get_secret_value().strip():
            raise ValueError("api_key must not be blank (leave it unset to serve without a key)")
        return key

    @property
    def model_name(self) -> str:
        """The name clients send as ``model``: ``served_model_name``, else the spec's model id."""
        return self.served_model_name or parse_spec(self.spec)[1]
