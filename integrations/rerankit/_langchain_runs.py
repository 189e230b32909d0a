"""The LangChain run of one compression: what :class:`rerankit.langchain.RerankCompressor`'s flow
yields to open it and to end it, and what the run records (its inputs and outputs).

Imported by ``rerankit.langchain`` only, after it has checked that langchain-core is installed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager, Callbacks
from langchain_core.documents import Document
from langchain_core.runnables.config import ensure_config

from rerankit._types import RerankResponse


@dataclass(frozen=True)
class RunStart:
    """Open the LangChain run of one compression (a child run of ``callbacks``)."""

    callbacks: Callbacks | None
    inputs: dict[str, Any]
    metadata: dict[str, Any]
    name: str

    def start(self, manager: type[CallbackManager | AsyncCallbackManager]) -> Any:
        """The run, from ``manager``'s ``on_chain_start`` (to be awaited on the async side)."""
        # Called without callbacks inside a runnable, the run still nests under the runnable's run.
        configured = manager.configure(
            self.callbacks if self.callbacks is not None else ensure_config().get("callbacks"),
            local_metadata=self.metadata,
        )
        return configured.on_chain_start(None, self.inputs, name=self.name)


@dataclass(frozen=True)
class RunEnd:
    """End the run: its ``on_chain_end`` with the outputs, or its ``on_chain_error`` with the error."""

    callback: Callable[[Any], Awaitable[None] | None]
    argument: Any


def run_inputs(query: str, documents: list[Document]) -> dict[str, Any]:
    """What the run records as its inputs."""
    return {"query": query, "num_documents": len(documents)}


def run_outputs(response: RerankResponse) -> dict[str, Any]:
    """What the run records as its outputs."""
    return {
        "indices": [result.index for result in response.results],
        "scores": [result.relevance_score for result in response.results],
        "model": f"{response.backend}/{response.model}",  # with fallbacks, the one that answered
        "score_kind": response.score_kind,
    }


__all__ = ["RunEnd", "RunStart", "run_inputs", "run_outputs"]
