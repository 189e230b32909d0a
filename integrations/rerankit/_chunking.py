"""Long documents: cut a document into token windows that fit beside the query, keep the best.

A reranker sees at most its window of tokens per (query, document) pair; a longer document is
truncated and whatever its tail says is never read. With ``Reranker(..., long_documents="chunk")``
each document is cut into windows that fit beside the query (consecutive windows share ``overlap``
tokens), every window is scored, and the document's score is the best window's (Cohere's documented
behaviour, https://docs.cohere.com/docs/reranking-best-practices#document-chunking). The result
names the winning window (:class:`~rerankit.ChunkSpan`).

Windows are counted in the backend's own tokens: a backend that can chunk implements
:class:`TokenWindows`. Local backends use their tokenizer; remote ones, whose tokenizer is on the
server, use :func:`estimated_token_offsets`, a documented conservative estimate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import Field

from rerankit._errors import ConfigurationError
from rerankit._options_base import Options
from rerankit._types import ChunkSpan

#: Tokens shared by consecutive windows, so a passage cut at a window edge is whole in one of them.
DEFAULT_CHUNK_OVERLAP = 32
#: Windows scored per document at most: ``None``, all of them, so no part of a document goes
#: unread (as Cohere's v2 API, which has no chunk limit). Cap it to bound the cost of huge documents.
DEFAULT_MAX_CHUNKS: int | None = None

#: The conservative token estimate for remote backends, one pseudo-token per match: up to three
#: ASCII letters (English averages about four characters per token in the WordPiece, SentencePiece
#: and byte-level BPE vocabularies of rerankers, and a word never shares a token with the next),
#: each digit, punctuation mark or other non-ASCII character (digits are split one per token by
#: Llama/Qwen-style tokenizers; CJK text runs about one token per character in multilingual
#: vocabularies), and each run of two or more whitespace characters. A single space is free: it is
#: merged into the next word's token.
_PSEUDO_TOKEN = re.compile(r"[A-Za-z]{1,3}|[^\sA-Za-z]|\s{2,}")


@runtime_checkable
class TokenWindows(Protocol):
    """What a backend tells the core so that long documents can be cut into windows.

    Implemented by the local cross-encoder (its tokenizer), the embedding backend and the remote
    backends (:func:`estimated_token_offsets`).
    """

    def document_token_budget(self, query: str) -> int | None:
        """The most document tokens that fit in one pair with ``query`` (``None``: no known limit)."""
        ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """The ``(start, end)`` character span in ``text`` of each of its tokens, in order."""
        ...


@dataclass(frozen=True)
class LongDocuments:
    """How the core treats documents longer than the model's window; see :func:`long_documents_from`."""

    mode: str = "truncate"
    overlap: int = DEFAULT_CHUNK_OVERLAP
    max_chunks: int | None = DEFAULT_MAX_CHUNKS

    @property
    def chunked(self) -> bool:
        return self.mode == "chunk"

    def fingerprint(self) -> list[Any]:
        """What of this setting changes a document's score (part of the score cache key)."""
        return [self.mode, self.overlap, self.max_chunks] if self.chunked else [self.mode]


class LongDocumentOptions(Options):
    """``Reranker``'s options for documents longer than the model's window."""

    long_documents: Literal["truncate", "chunk"] = Field(
        default="truncate",
        description="``truncate``: cut a document at the model's window; ``chunk``: score every "
        "window and keep the best.",
    )
    chunk_overlap: int = Field(
        default=DEFAULT_CHUNK_OVERLAP,
        ge=0,
        description="With ``chunk``, the tokens neighbouring windows share.",
    )
    max_chunks: int | None = Field(
        default=DEFAULT_MAX_CHUNKS,
        ge=1,
        description="With ``chunk``, the most windows scored per document (``None``: all of them).",
    )


def long_documents_from(mode: Any, overlap: Any, max_chunks: Any) -> LongDocuments:
    """Validate ``Reranker``'s ``long_documents``, ``chunk_overlap`` and ``max_chunks`` options.

    Raises:
        ConfigurationError: on an unknown mode or a negative overlap or non-positive max_chunks.
    """
    options = LongDocumentOptions.validated(
        {"long_documents": mode, "chunk_overlap": overlap, "max_chunks": max_chunks}
    )
    return LongDocuments(options.long_documents, options.chunk_overlap, options.max_chunks)


@dataclass(frozen=True)
class Window:
    """One window of a document: its text and where it lies in the document."""

    text: str
    span: ChunkSpan


def estimated_token_offsets(text: str) -> list[tuple[int, int]]:
    """Pseudo-token spans of ``text`` under the conservative estimate (see ``_PSEUDO_TOKEN``).

    >>> estimated_token_offsets("Hello, 42")
    [(0, 3), (3, 5), (5, 6), (7, 8), (8, 9)]
    """
    return [match.span() for match in _PSEUDO_TOKEN.finditer(text)]


def estimate_tokens(text: str) -> int:
    """The conservative token count of ``text`` (see :func:`estimated_token_offsets`).

    >>> estimate_tokens("The Eiffel Tower is in Paris.")
    10
    """
    return sum(1 for _ in _PSEUDO_TOKEN.finditer(text))


def _visible(offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Token spans that cover text; zero-width ones (a SentencePiece ``▁`` alone) mark no position."""
    return [(int(start), int(end)) for start, end in offsets if end > start]


def _starts_word(text: str, spans: Sequence[tuple[int, int]], k: int) -> bool:
    """Whether token ``k`` begins a word: cutting before it never splits a word into pieces that
    would tokenize differently on their own."""
    if k == 0:
        return True
    start = spans[k][0]
    return spans[k - 1][1] < start or text[start - 1].isspace() or text[start].isspace()


def split_into_windows(
    text: str,
    offsets: Sequence[tuple[int, int]],
    budget: int,
    *,
    overlap: int = DEFAULT_CHUNK_OVERLAP,
    max_chunks: int | None = DEFAULT_MAX_CHUNKS,
) -> list[Window]:
    """Cut ``text`` into windows of at most ``budget`` of its tokens (``offsets``).

    A text that fits is one window spanning all of it. Otherwise consecutive windows share up to
    ``overlap`` tokens (at most half a window, so windows always advance), and a window ends
    before a word start when one lies in its last quarter, so words stay whole. A single token
    longer than a window (a long URL under WordPiece is one ``[UNK]``) is a window of its own.
    At most ``max_chunks`` windows are made (``None``: all); the text after them is not scored.

    >>> text = "alpha beta gamma delta"
    >>> [w.text for w in split_into_windows(text, estimated_token_offsets(text), 4, overlap=2)]
    ['alpha beta', 'beta gamma', 'gamma delta']
    """
    spans = _visible(offsets)
    if len(spans) <= budget:
        return [Window(text, ChunkSpan(index=0, start=0, end=len(text)))]
    budget = max(1, budget)
    overlap = min(overlap, budget // 2)
    windows: list[Window] = []
    start = 0
    while start < len(spans) and (max_chunks is None or len(windows) < max_chunks):
        end = min(start + budget, len(spans))
        if end < len(spans):
            floor = start + max(1, (3 * budget) // 4)
            end = next((k for k in range(end, floor - 1, -1) if _starts_word(text, spans, k)), end)
        first, last = spans[start][0], spans[end - 1][1]
        windows.append(Window(text[first:last], ChunkSpan(index=len(windows), start=first, end=last)))
        if end >= len(spans):
            break
        following = max(end - overlap, start + 1)
        start = next((k for k in range(following, end + 1) if _starts_word(text, spans, k)), following)
    return windows


def truncate_to_budget(text: str, offsets: Sequence[tuple[int, int]], budget: int) -> str:
    """``text`` cut after its first ``budget`` tokens (unchanged when it fits).

    >>> truncate_to_budget("alpha beta gamma", estimated_token_offsets("alpha beta gamma"), 3)
    'alpha bet'
    """
    spans = _visible(offsets)
    if len(spans) <= budget:
        return text
    return text[: spans[max(1, budget) - 1][1]]


def require_token_windows(backend: Any) -> None:
    """Refuse ``long_documents="chunk"`` on a backend that cannot count its tokens.

    Raises:
        ConfigurationError: naming the backend and the two methods it lacks.
    """
    if not isinstance(backend, TokenWindows):
        raise ConfigurationError(
            f"long_documents='chunk' needs a backend that counts tokens (document_token_budget and "
            f"token_offsets); {type(backend).__name__} does not",
            provider=getattr(backend, "name", None),
        )


__all__ = [
    "DEFAULT_CHUNK_OVERLAP",
    "DEFAULT_MAX_CHUNKS",
    "LongDocumentOptions",
    "LongDocuments",
    "TokenWindows",
    "Window",
    "estimate_tokens",
    "estimated_token_offsets",
    "long_documents_from",
    "require_token_windows",
    "split_into_windows",
    "truncate_to_budget",
]
