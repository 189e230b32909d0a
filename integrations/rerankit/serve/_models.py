"""The rerankers a server scores with: the one it serves, and one per distinct ``instruction``."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from rerankit._errors import InvalidInputError
from rerankit._reranker import Reranker
from rerankit._validation import is_blank
from rerankit.backends._token_counts import counting_tokenizer
from rerankit.serve._config import ServeConfig

logger = logging.getLogger("rerankit.serve")


class ServedModel:
    """The :class:`~rerankit.Reranker` built from the server's spec, loaded once, off the event loop.

    A request's ``instruction`` (LLM rerankers such as Qwen3-Reranker take one) is served by a
    Reranker built with that ``instruction`` option; the model weights are shared through the local
    backend's model cache, so each costs only its own small state (and its own forward-pass merging:
    requests with different instructions do not share a forward pass). At most
    ``config.max_instructions`` are kept, least recently used first out.
    """

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.reranker: Reranker | None = None
        self.load_error: BaseException | None = None
        self._by_instruction: OrderedDict[str, Reranker] = OrderedDict()

    @property
    def ready(self) -> bool:
        """Whether the model is loaded and requests can be scored."""
        return self.reranker is not None

    def load(self) -> None:
        """Build the reranker (loads the model; blocking: call it in a worker thread)."""
        logger.info("loading %s", self.config.spec)
        reranker = Reranker(self.config.spec, **self.config.options)
        if not hasattr(reranker.backend, "transport"):  # an in-process model (a remote one costs a call)
            # The first forward pass is slow (lazy initialisation); taking it here keeps it out of the
            # first request's latency and out of the throughput admission measures.
            reranker.rerank("warm-up query", ["a warm-up document"])
        self.reranker = reranker
        logger.info("loaded %s, serving it as %r", self.config.spec, self.config.model_name)

    @property
    def takes_instruction(self) -> bool:
        """Whether the served model takes a per-request ``instruction`` (an LLM reranker)."""
        return bool(self.reranker is not None and getattr(self.reranker.backend, "is_llm_reranker", False))

    async def reranker_for(self, instruction: str | None) -> Reranker:
        """The reranker to score a request with ``instruction`` (``None``: the served one as configured)."""
        assert self.reranker is not None, "reranker_for() before load()"
        if instruction is None:
            return self.reranker
        if not self.takes_instruction:
            raise InvalidInputError(
                "instruction applies only to LLM rerankers (causal LMs such as Qwen3-Reranker); "
                f"{self.config.model_name!r} takes none"
            )
        if is_blank(instruction):
            raise InvalidInputError("instruction must be a non-blank string")
        reranker = self._by_instruction.get(instruction)
        if reranker is None:
            options = {**self.config.options, "instruction": instruction}
            reranker = await asyncio.to_thread(Reranker, self.config.spec, **options)
            self._by_instruction[instruction] = reranker
            while len(self._by_instruction) > self.config.max_instructions:
                _, evicted = self._by_instruction.popitem(last=False)
                await evicted.aclose()
        self._by_instruction.move_to_end(instruction)
        return reranker

    def count_tokens(self, query: str, texts: Sequence[str]) -> int | None:
        """Tokens the model reads for these pairs, for ``usage``; ``None`` when it cannot be known.

        For an in-process model: the query's and each text's tokens plus the tokenizer's pair special
        tokens, capped at the model's max length, per pair (with image documents, a vision
        reranker's whole prompt per pair, image patch tokens included) (a chat-template LLM reranker also reads
        its template's tokens, not counted here). Other backends report no tokens here: their own
        usage (when they send one) is used instead.
        """
        if any(not isinstance(text, str) for text in texts):  # image documents: the scorer's own count
            encode = getattr(
                getattr(getattr(self.reranker, "backend", None), "llm", None), "encode_pairs", None
            )
            return sum(map(len, encode([(query, t) for t in texts], None))) if callable(encode) else None
        tokenizer, limit = _tokenizer_of(self.reranker)
        if tokenizer is None:
            return None
        unique = list(dict.fromkeys([query, *texts]))
        encoded = tokenizer(unique, add_special_tokens=False)["input_ids"]
        counts = dict(zip(unique, map(len, encoded), strict=True))
        special = tokenizer.num_special_tokens_to_add(pair=True)
        return sum(min(limit, counts[query] + counts[text] + special) for text in texts)

    async def aclose(self) -> None:
        """Release every reranker's resources (pooled connections of remote backends)."""
        rerankers = [*self._by_instruction.values(), *([self.reranker] if self.reranker else [])]
        self._by_instruction.clear()
        for reranker in rerankers:
            await reranker.aclose()


def _tokenizer_of(reranker: Reranker | None) -> tuple[Any, int]:
    cross_encoder = getattr(getattr(reranker, "backend", None), "cross_encoder", None)
    tokenizer = getattr(cross_encoder, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        return None, 0
    # counted on a copy: the model's own tokenizer may be tokenizing a forward pass in a worker thread
    return counting_tokenizer(tokenizer), cross_encoder.max_seq_length or tokenizer.model_max_length
