"""Listwise LLM reranking (RankGPT style) over any OpenAI-compatible ``/v1/chat/completions`` endpoint.

``listwise/<chat model>`` with ``base_url=`` (vLLM, Ollama, LiteLLM, a gateway, OpenAI). The LLM
sees a window of passages as ``[i] {text}`` and answers a permutation ``[3] > [1] > [2]``; a
sliding window from the back of the list (window 20, step 10 by default) moves the best
passages to the front, as RankGPT and rank_llm do. Requests go through the shared transport
(pooled connections, retries with ``Retry-After``, timeouts, deadlines, typed errors, secrets).

An LLM ranks; it does not score. The score is derived from the final rank so that the core's
sorting, ``score_threshold`` and ``top_n`` behave as for every other backend:
``relevance_score = 1 / rank`` (1.0 for the best, 0.5 for the second, ...): strictly decreasing
and in (0, 1]; ``score_threshold=1/k`` keeps the top ``k``. Scores of different calls are not
comparable beyond their rank. rank_llm rescores its candidates the same way (``1.0 / (i + 1)``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field, field_validator, model_validator

from rerankit._errors import ConfigurationError, MalformedResponseError
from rerankit._flow import Flow, arun, run
from rerankit._options_base import Options
from rerankit._score_kinds import ScoreScale
from rerankit._types import Scores, Usage
from rerankit.backends._listwise_parse import Permutation, parse_permutation
from rerankit.backends._listwise_prompt import DEFAULT_MAX_PASSAGE_WORDS, passage_cutter, permutation_messages
from rerankit.backends._remote import RemoteBackend
from rerankit.backends._responses import ProviderReply, whole_number_at

logger = logging.getLogger("rerankit")

#: Request fields ``extra_body`` may not set: the backend writes them.
RESERVED_FIELDS = frozenset({"model", "messages", "stream"})


def sliding_windows(count: int, window_size: int, step: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` windows ranked, in order: from the back of the list to its front.

    rank_llm's loop (``while end_pos > rank_start and start_pos + step != rank_start``), stopping
    after the first window that reaches the front, so no window is re-ranked inside another.

    >>> sliding_windows(50, 20, 10)
    [(30, 50), (20, 40), (10, 30), (0, 20)]
    >>> sliding_windows(25, 20, 10)
    [(5, 25), (0, 15)]
    >>> sliding_windows(3, 20, 10)
    [(0, 3)]
    >>> sliding_windows(1, 20, 10)  # one passage is its own ranking
    []
    """
    windows: list[tuple[int, int]] = []
    if count < 2:
        return windows
    end = count
    while end > 0:
        start = max(end - window_size, 0)
        windows.append((start, end))
        if start == 0:
            break
        end -= step
    return windows


def rank_scores(order: Sequence[int], count: int) -> list[float]:
    """Scores in input order from a final order (input positions, best first): ``1 / rank``.

    >>> rank_scores([2, 0, 1], 3)
    [0.5, 0.3333333333333333, 1.0]
    """
    scores = [0.0] * count
    for rank, position in enumerate(order, start=1):
        scores[position] = 1.0 / rank
    return scores


class ListwiseOptions(Options):
    """The options of :class:`ListwiseBackend` beside those of every remote backend."""

    # RankGPT's window and step (sunnweiwei/RankGPT ``sliding_windows``; rank_llm's defaults).
    window_size: int = Field(default=20, ge=1, description="Passages per request, at least 2.")
    step: int = Field(
        default=10,
        ge=1,
        description="How far the window moves toward the front each time; less than ``window_size``. "
        "With a model that ranks each window correctly, the top ``step`` passages of the whole list "
        "come out exactly (when ``step <= window_size - step``).",
    )
    max_passage_words: int | None = Field(
        default=DEFAULT_MAX_PASSAGE_WORDS,
        ge=1,
        description="Each passage cut to this many whitespace words (RankGPT's budget); ``None``: no "
        "word budget.",
    )
    max_passage_characters: int | None = Field(
        default=None,
        ge=1,
        description="Each passage cut to this many characters (RankGPT's rule for Chinese and Japanese).",
    )
    max_passage_tokens: int | None = Field(
        default=None, ge=1, description="Each passage cut to this many tokens of ``tokenizer``."
    )
    tokenizer: Any = Field(
        default=None,
        description="A Hugging Face tokenizer (id, directory, or loaded tokenizer) counting "
        "``max_passage_tokens``; required with it.",
    )
    temperature: float = Field(
        default=0.0, ge=0, le=2, description="The sampling temperature sent, from 0 to 2 (RankGPT's 0)."
    )
    max_completion_tokens: int | None = Field(
        default=None,
        ge=1,
        description="The most tokens of an answer, sent as ``max_completion_tokens``; ``None``: not sent.",
    )
    extra_body: dict[str, Any] | None = Field(
        default=None,
        description='More request fields, sent as given (``{"seed": 0}``); it may not set ``model``, '
        "``messages`` or ``stream``.",
    )

    @field_validator("extra_body", mode="before")
    @classmethod
    def _request_fields(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError("must be a dict of request fields")
        reserved = sorted(set(value) & RESERVED_FIELDS)
        if reserved:
            raise ValueError(f"may not set {', '.join(reserved)}")
        return value

    @model_validator(mode="after")
    def _check_together(self) -> ListwiseOptions:
        if self.window_size < 2 or self.step >= self.window_size:
            raise ValueError(
                "window_size must be at least 2 and step less than it; "
                f"got window_size={self.window_size}, step={self.step}"
            )
        if (self.max_passage_tokens is None) != (self.tokenizer is None):
            raise ValueError("max_passage_tokens and tokenizer go together: the tokenizer counts the tokens")
        return self


class ListwiseBackend(RemoteBackend):
    """Ranks with an LLM behind ``POST {base_url}/v1/chat/completions`` (spec prefix ``listwise/``).

    Args:
        model: The chat model, sent as ``model`` (``gpt-4o-mini``, ``Qwen/Qwen2.5-7B-Instruct``,
            ``castorini/rank_zephyr_7b_v1_full``, ``llama3.1:8b`` on Ollama).
        **options: The options every remote backend takes (``base_url``, ``api_key``,
            ``timeout``, ``max_retries``, ...; see :class:`~rerankit.backends.RemoteBackend`).
            The key comes from ``api_key`` or ``RERANKIT_LISTWISE_API_KEY`` and is optional
            (vLLM and Ollama need none).

    Raises:
        ConfigurationError: An option breaks its rule, ``max_passage_tokens`` comes without
            ``tokenizer`` (or the other way round), the tokenizer does not load, or no address is
            given or set.

    An answer is repaired deterministically (see :mod:`rerankit.backends._listwise_parse`);
    an answer that ranks nothing is retried up to ``max_retries`` times and then raised as
    :class:`~rerankit.MalformedResponseError`. Usage counts prompt plus completion tokens.

    >>> from rerankit import Reranker
    >>> reranker = Reranker("listwise/gpt-4o-mini", base_url="https://api.openai.com", api_key="...")  # doctest: +SKIP

    Here against the loopback chat server of rerankit's tests, whose "LLM" ranks longer passages
    first; scores are ``1 / rank``:

    >>> from rerankit.testing.servers import ChatCompletionsServer
    >>> with ChatCompletionsServer(relevance=len) as server:
    ...     reranker = Reranker("listwise/test-llm", base_url=server.base_url, api_key="test-key")
    ...     response = reranker.rerank("q", ["short", "the longest passage", "a middle one"])
    >>> [(result.index, result.relevance_score) for result in response.results]
    [(1, 1.0), (2, 0.5), (0, 0.3333333333333333)]
    """

    name = "listwise"
    options_model = ListwiseOptions
    #: What the scores are (docs/scores.md): 1 / rank, derived from the LLM's ranking; not a
    #: relevance estimate, so there is no normalization (a threshold keeps the best 1/t).
    score_scale = ScoreScale(
        kind="reciprocal_rank",
        range=(0.0, 1.0),
        description="1 / rank in the LLM's final ranking",
        source="rerankit's listwise backend (RankGPT sliding windows; rank_llm scores candidates 1 / rank)",
    )
    default_base_url = None
    base_url_env = ("RERANKIT_LISTWISE_BASE_URL",)
    api_key_env = ("RERANKIT_LISTWISE_API_KEY",)
    api_key_required = False
    max_documents_per_request = None  # windows span the whole list: never split

    def configure(self, options: ListwiseOptions) -> None:
        tokenizer = _load_tokenizer(options.tokenizer) if options.tokenizer is not None else None
        self.cut_passage: Callable[[str], str] = passage_cutter(
            max_words=options.max_passage_words,
            max_characters=options.max_passage_characters,
            max_tokens=options.max_passage_tokens,
            tokenizer=tokenizer,
        )
        self.temperature = float(options.temperature)
        self.extra_body = dict(options.extra_body or {})

    # -- the request and the answer -----------------------------------------------------------

    def request_path(self) -> str:
        return "/v1/chat/completions"

    def cache_key(self) -> dict[str, Any]:
        """Refused: a listwise score is a document's rank among the other documents of one call,
        so a score kept from one call would be wrong in another.

        Raises:
            ConfigurationError: always (``cache=`` cannot be used with ``listwise/``).
        """
        raise ConfigurationError(
            "cache= cannot be used with listwise/: its score is 1/rank among the documents of one "
            "call, so a score cached from one call would not hold in another; cache a pointwise "
            "backend's scores instead",
            provider=self.name,
        )

    def request_body(self, query: str, texts: list[str]) -> dict[str, Any]:
        """The chat completion request ranking one window of passages (already cut)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": permutation_messages(query, texts),
            "temperature": self.temperature,
        }
        if self.max_completion_tokens is not None:
            body["max_completion_tokens"] = self.max_completion_tokens
        body.update(self.extra_body)
        return body

    def read_answer(self, reply: ProviderReply) -> str:
        """The assistant's text (``choices[0].message.content``); a body without one is malformed."""
        payload = reply.payload
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list) or not choices:
            raise reply.malformed("no 'choices' in the chat completion")
        message = choices[0].get("message") if isinstance(choices[0], dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # content parts, as some gateways send
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            raise reply.malformed(f"choices[0].message.content is {type(content).__name__}, expected text")
        return content

    def read_usage(self, payload: Any) -> Usage:
        prompt = whole_number_at(payload, "usage", "prompt_tokens")
        completion = whole_number_at(payload, "usage", "completion_tokens")
        if prompt is None and completion is None:
            return Usage(tokens=whole_number_at(payload, "usage", "total_tokens"))
        return Usage(tokens=(prompt or 0) + (completion or 0))

    def _attempts(self) -> int:
        return self.transport.settings.max_retries + 1

    def _read_window(self, reply: ProviderReply, count: int) -> tuple[Permutation | None, str]:
        """The repaired order of one window's answer (``None``: nothing usable) and why not."""
        try:
            answer = self.read_answer(reply)
        except MalformedResponseError as error:
            return None, error.message.partition("malformed body: ")[2] or error.message
        permutation = parse_permutation(answer, count)
        if permutation is None:
            snippet = answer if len(answer) <= 120 else answer[:117] + "..."
            return None, f"the answer ranks none of the passages: {snippet!r}"
        if permutation.dropped or permutation.ranked < count:
            logger.debug(
                "%s: repaired a ranking (%d of %d ranked, %d ids dropped)",
                self.name,
                permutation.ranked,
                count,
                permutation.dropped,
            )
        return permutation, ""

    def _unusable(self, reply: ProviderReply, problem: str) -> MalformedResponseError:
        attempts = self._attempts()
        return reply.malformed(f"{problem} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})")

    def _log_unusable(self, attempt: int, problem: str) -> None:
        if attempt < self._attempts():
            logger.warning(
                "%s: %s on attempt %d of %d, retrying", self.name, problem, attempt, self._attempts()
            )

    # -- the Backend protocol ------------------------------------------------------------------

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Rank ``texts`` with sliding windows; scores ``1 / rank`` in input order."""
        return run(self._ranking(query, texts), self.post)

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """Async :meth:`score`: the windows of one call run one after another (each needs the order
        the one before left); concurrent calls run side by side on the pooled async client."""
        return await arun(self._ranking(query, texts), self.apost)

    def _ranking(self, query: str, texts: Sequence[str]) -> Flow[dict[str, Any], Scores]:
        """One call's sliding windows, as a flow (:mod:`rerankit._flow`): it yields each request
        body to post and is sent the reply; :meth:`score` and :meth:`ascore` drive it."""
        passages = [self.cut_passage(text) for text in texts]
        order = list(range(len(passages)))
        usage = Usage()
        for start, end in sliding_windows(len(passages), self.window_size, self.step):
            window = order[start:end]
            body = self.request_body(query, [passages[i] for i in window])
            for attempt in range(1, self._attempts() + 1):
                reply: ProviderReply = yield body
                usage += self.read_usage(reply.payload)
                permutation, problem = self._read_window(reply, len(window))
                if permutation is not None:
                    break
                self._log_unusable(attempt, problem)
            else:
                raise self._unusable(reply, problem)
            order[start:end] = [window[position] for position in permutation.order]
        return Scores(values=rank_scores(order, len(passages)), usage=usage)


def _load_tokenizer(tokenizer: Any) -> Any:
    if not isinstance(tokenizer, str):
        return tokenizer
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(tokenizer)
    except (ImportError, OSError, ValueError) as exc:
        raise ConfigurationError(
            f"could not load tokenizer {tokenizer!r}: {exc}", provider="listwise"
        ) from exc


__all__ = ["ListwiseBackend", "ListwiseOptions", "rank_scores", "sliding_windows"]
