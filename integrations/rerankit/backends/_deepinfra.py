"""DeepInfra's inference API: ``POST {base_url}/v1/inference/{model}`` (``deepinfra/Qwen/Qwen3-Reranker-4B``, ...)."""

from __future__ import annotations

from typing import Any

from rerankit._errors import ConfigurationError
from rerankit._types import Usage
from rerankit.backends._remote import (
    RemoteBackend,
)
from rerankit.backends._responses import whole_number_at


class DeepInfraBackend(RemoteBackend):
    """Scores with DeepInfra's native inference route; the key comes from ``api_key``,
    ``DEEPINFRA_API_KEY`` or ``DEEPINFRA_TOKEN``.

    Sends the query once (DeepInfra broadcasts a one-element ``queries`` to every document) and an
    optional ``instruction`` (Qwen3-Reranker style); scores come back in input order. Up to 1,024
    documents per request; usage reports ``input_tokens``.

    >>> from rerankit import Reranker
    >>> reranker = Reranker("deepinfra/Qwen/Qwen3-Reranker-4B", api_key="...")  # doctest: +SKIP
    """

    name = "deepinfra"
    default_base_url = "https://api.deepinfra.com"
    api_key_env = ("DEEPINFRA_API_KEY", "DEEPINFRA_TOKEN")
    documents_limit = 1024

    def __init__(
        self,
        model: str,
        *,
        instruction: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, **options)
        if instruction is not None and (not isinstance(instruction, str) or not instruction.strip()):
            raise ConfigurationError("instruction must be a non-empty string", provider=self.name)
        self.instruction = instruction

    def request_path(self) -> str:
        return f"/v1/inference/{self.model.strip('/')}"

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"queries": [query], "documents": texts}
        if self.instruction is not None:
            body["instruction"] = self.instruction
        return body

    def read_usage(self, payload: Any) -> Usage:
        tokens = whole_number_at(payload, "input_tokens")
        if tokens is None:
            tokens = whole_number_at(payload, "inference_status", "tokens_input")
        return Usage(tokens=tokens)


__all__ = ["DeepInfraBackend"]
