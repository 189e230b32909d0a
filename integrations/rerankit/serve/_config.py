"""The settings of one ``rerankit serve`` process: what it serves and the limits it enforces."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from rerankit.backends import parse_spec

#: Default request-body limit: TEI's ``--payload-limit`` default (2 MB), a size every gateway passes.
DEFAULT_MAX_REQUEST_BYTES = 2_000_000
#: Default documents per request: what Cohere and Jina accept per call.
DEFAULT_MAX_DOCUMENTS = 1000
#: Default requests admitted at once (scoring or waiting for a forward pass); beyond it, 429.
DEFAULT_MAX_QUEUE = 256


class ServeConfig(BaseModel):
    """What a rerank server serves and the limits it enforces.

    Attributes:
        spec: the reranker spec, e.g. ``"local/BAAI/bge-reranker-v2-m3"`` (any spec ``Reranker`` takes).
        options: the backend's options (``{"device": "cuda", "batch_size": 64}``). An ``api_key`` among
            them (a remote spec's upstream key) is kept as a ``SecretStr``, hidden in reprs and dumps.
        served_model_name: the model name clients send (as in vLLM); a request naming another model is
            a 404. Defaults to the spec's model id.
        api_key: the key requests must carry as ``Authorization: Bearer <key>``; ``None``: no auth.
        max_documents: most documents per request (413 above it). Defaults to 1,000.
        max_request_bytes: most bytes per request body (413 above it). Defaults to 2,000,000.
        max_queue: most requests admitted at once, scoring or waiting for a forward pass; one more
            is answered 429 with ``Retry-After``. Defaults to 256.
        request_timeout: seconds a request may take from admission to answer; then 504. Defaults to 30.
        retry_after: the ``Retry-After`` seconds a 429 (queue full) or a 503 (model loading) carries.
            Defaults to 1.
        max_instructions: most distinct per-request ``instruction`` values kept ready at once (an LLM
            reranker gets one Reranker per instruction, all sharing the loaded model; least recently
            used first out). Defaults to 16.

    >>> config = ServeConfig(spec="local/BAAI/bge-reranker-base")
    >>> config.model_name
    'BAAI/bge-reranker-base'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: str
    options: dict[str, Any] = Field(default_factory=dict)
    served_model_name: str | None = None
    api_key: SecretStr | None = None
    max_documents: int = Field(default=DEFAULT_MAX_DOCUMENTS, ge=1)
    max_request_bytes: int = Field(default=DEFAULT_MAX_REQUEST_BYTES, ge=1)
    max_queue: int = Field(default=DEFAULT_MAX_QUEUE, ge=1)
    request_timeout: float = Field(default=30.0, gt=0)
    retry_after: int = Field(default=1, ge=0)
    max_instructions: int = Field(default=16, ge=1)

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
