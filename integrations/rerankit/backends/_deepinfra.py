"""DeepInfra's inference API: ``POST {base_url}/v1/inference/{model}`` (``deepinfra/Qwen/Qwen3-Reranker-4B``, ...)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rerankit._options_base import NonBlankStr, Options
from rerankit._score_kinds import ScoreScale
from rerankit.backends._provider import AnswerFields, ProviderSpec
from rerankit.backends._remote import RemoteBackend

#: DeepInfra's documented facts (docs.deepinfra.com/apis/reranker): scores in input order, the
#: tokens as ``input_tokens`` (older answers: ``inference_status.tokens_input``).
PROVIDER = ProviderSpec(
    name="deepinfra",
    path="/v1/inference/{model}",
    default_base_url="https://api.deepinfra.com",
    api_key_env=("DEEPINFRA_API_KEY", "DEEPINFRA_TOKEN"),
    max_documents=1024,
    answer=AnswerFields(scores="scores"),
    tokens_at=(("input_tokens",), ("inference_status", "tokens_input")),
    loopback="rerankit.testing.servers._deepinfra:DeepInfraFormat",
    example_model="Qwen/Qwen3-Reranker-4B",
    content_fields=("queries", "documents"),
)


class DeepInfraOptions(Options):
    """The options of :class:`DeepInfraBackend` beside those of every remote backend."""

    instruction: NonBlankStr | None = Field(
        default=None,
        description=(
            "The task instruction (Qwen3-Reranker style), a non-blank string; ``None``: not sent (the"
            " model's default)."
        ),
    )


class DeepInfraBackend(RemoteBackend):
    """Scores with DeepInfra's native inference route; the key comes from ``api_key``,
    ``DEEPINFRA_API_KEY`` or ``DEEPINFRA_TOKEN``.

    Sends the query once (DeepInfra broadcasts a one-element ``queries`` to every document) and an
    optional ``instruction`` (Qwen3-Reranker style); scores come back in input order. Up to 1,024
    documents per request; usage reports ``input_tokens``.

    Args:
        model: A DeepInfra reranker (``Qwen/Qwen3-Reranker-4B``, ...), sent in the path.
        **options: The options of every remote backend (``timeout``, ``max_retries``, ...; see
            :class:`~rerankit.backends.RemoteBackend`).

    Raises:
        ConfigurationError: ``instruction`` is blank or not a string, or no key is given or set.

    Here against the loopback server that speaks DeepInfra's format:

    >>> from rerankit import Reranker
    >>> from rerankit.testing.servers import RerankServer
    >>> with RerankServer("deepinfra") as server:
    ...     reranker = Reranker("deepinfra/Qwen/Qwen3-Reranker-4B", base_url=server.base_url, api_key="test-key")
    ...     response = reranker.rerank("what is BM25?", ["a fruit", "BM25 is a ranking function"])
    ...     path = server.requests[0].path
    >>> response.results[0].index, path
    (1, '/v1/inference/Qwen/Qwen3-Reranker-4B')
    """

    provider = PROVIDER
    options_model = DeepInfraOptions
    instruction: str | None
    #: What the scores are (docs/scores.md). DeepInfra's reranker API reference: "Scores are
    #: relevance probabilities in the range [0, 1], in the same order as the input documents".
    score_scale = ScoreScale(
        kind="probability",
        range=(0.0, 1.0),
        description="DeepInfra's scores: the reranker's relevance probability",
        normalization="identity",
        source="DeepInfra API reference (docs.deepinfra.com/apis/reranker): probabilities in [0, 1]",
    )

    def request_path(self) -> str:
        return PROVIDER.path.format(model=self.model.strip("/"))

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"queries": [query], "documents": texts}
        if self.instruction is not None:
            body["instruction"] = self.instruction
        return body


__all__ = ["PROVIDER", "DeepInfraBackend", "DeepInfraOptions"]
