"""An in-process fake backend for tests: scores you choose, calls it records, failures on demand.

As httpx ships ``MockTransport`` so that code using a client can be tested without a network,
rerankit ships :class:`FakeBackend` so that code using a :class:`~rerankit.Reranker` (a pipeline, an
adapter, a fallback chain) can be tested without a model or a provider. It implements the
:class:`~rerankit.backends._base.Backend` protocol, sync and async, declares the limits you give it
(so the core splits and schedules exactly as it would for a real backend), and records each call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rerankit._documents import cache_form
from rerankit._score_kinds import SCORE_KINDS, ScoreScale
from rerankit._types import Scores, Usage

#: How a fake scores: a function of ``(query, text)``, or a mapping from text to score.
ScoreSource = Callable[[str, str], float] | Mapping[str, float]


def hashed_score(text: str, salt: str = "") -> float:
    """A stable pseudo-random score in [0, 1) for ``text``, different for each ``salt``.

    Args:
        text: The document text.
        salt: Makes the score differ between backends; :class:`FakeBackend` passes its ``name``.
            Defaults to ``""``.

    Returns:
        The same float for the same ``(text, salt)`` in every process.

    >>> hashed_score("a fruit") == hashed_score("a fruit")
    True
    >>> 0 <= hashed_score("a fruit", salt="cohere") < 1
    True
    """
    digest = hashlib.blake2b(f"{salt}\x00{text}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def generic_scale(kind: str) -> ScoreScale:
    """A declaration of ``kind`` for a fake or a test double: 0-1 for a probability or a relevance
    (kept by ``normalize``), the sigmoid for a logit, no normalization for the others.

    >>> generic_scale("logit").normalization
    'sigmoid'
    """
    if kind not in SCORE_KINDS:
        raise ValueError(f"score kind must be one of {', '.join(SCORE_KINDS)}, got {kind!r}")
    bounded = kind in ("probability", "relevance")
    return ScoreScale(
        kind=kind,  # type: ignore[arg-type]
        range=(0.0, 1.0) if bounded or kind == "reciprocal_rank" else None,
        description=f"a fake {kind} score",
        normalization="identity" if bounded else "sigmoid" if kind == "logit" else None,
        source="rerankit.testing.FakeBackend",
    )


@dataclass(frozen=True)
class FakeCall:
    """One ``score``/``ascore`` call a :class:`FakeBackend` received.

    Attributes:
        query: The query it was asked to score against.
        texts: The texts of that request, in the order the core sent them.
        is_async: ``True`` for ``ascore``, ``False`` for ``score``.
        thread_id: ``threading.get_ident()`` of the thread that made the call.
        in_task: Whether it ran as a task of a running event loop (always ``False`` for ``score``).
    """

    query: str
    texts: list[str]
    is_async: bool
    thread_id: int
    in_task: bool


class FakeBackend:
    """A configurable fake :class:`~rerankit.backends._base.Backend`.

    Args:
        name: The spec prefix it reports in responses and errors. Defaults to ``"fake"``.
        model: The model id it reports. Defaults to ``"fake-model"``.
        scores: How each text is scored: a function ``(query, text) -> float``, or a mapping from
            text to score (a text missing from it raises ``KeyError``). Defaults to
            :func:`hashed_score` of the text salted with ``name``, whatever the query.
        max_documents_per_request: The most texts one call may take, as a real backend declares
            it; the core splits longer lists. Defaults to ``None`` (no limit).
        max_concurrency: How many calls the core may run at once for one rerank. Defaults to 4.
        fail_with: An exception every call raises instead of scoring, e.g.
            ``ServerError("down", status_code=503)``. Defaults to ``None``. It is an attribute too:
            set it at any time to make the following calls fail, or back to ``None``.
        failures: A script for the next calls, in order: each item is an exception that call
            raises, or ``None`` to let it score; once used up, calls score. Defaults to none.
        delay: Seconds each call takes (``time.sleep`` in ``score``, ``asyncio.sleep`` in
            ``ascore``), so concurrency can be observed. Defaults to 0.
        tokens_per_text: The tokens each text reports in the usage, so totals can be checked;
            ``None`` reports none. Defaults to 1.
        accepts_images: Whether it takes documents holding images (it then scores each by
            :func:`hashed_score` of its content: texts and image SHA-256s). Defaults to ``False``,
            as most providers: the core refuses image documents before calling it.
        score_scale: What its scores declare to be (docs/scores.md): a kind (``"logit"``,
            ``"similarity"``, ...: a generic declaration of it, with the sigmoid as a logit's
            normalization and ``(0.0, 1.0)`` for a probability or relevance), a full
            :class:`~rerankit.ScoreScale`, or ``None`` to declare none. Defaults to
            ``"relevance"`` (the default scores are in [0, 1)).

    Attributes:
        calls: Every :class:`FakeCall` received, failed ones included, in arrival order.
        in_flight: The calls running right now.
        max_in_flight: The most calls that ever ran at once.
        closed: How many times ``close``/``aclose`` were called.

    >>> from rerankit import Reranker, ServerError
    >>> backend = FakeBackend(scores={"a ranking function": 0.9, "a fruit": 0.1})
    >>> Reranker(backend).rerank("what is BM25?", ["a fruit", "a ranking function"]).results[0].index
    1
    >>> backend.requests
    [['a fruit', 'a ranking function']]

    A fake that fails, to test a fallback:

    >>> down = FakeBackend("primary", fail_with=ServerError("provider is down", status_code=503))
    >>> Reranker(down, fallbacks=[backend]).rerank("q", ["a fruit"]).backend
    'fake'
    """

    def __init__(
        self,
        name: str = "fake",
        model: str = "fake-model",
        *,
        scores: ScoreSource | None = None,
        max_documents_per_request: int | None = None,
        max_concurrency: int = 4,
        fail_with: BaseException | None = None,
        failures: Sequence[BaseException | None] = (),
        delay: float = 0.0,
        tokens_per_text: int | None = 1,
        accepts_images: bool = False,
        score_scale: str | ScoreScale | None = "relevance",
    ) -> None:
        self.name = name
        self.accepts_images = accepts_images
        self.model = model
        self.max_documents_per_request = max_documents_per_request
        self.max_concurrency = max_concurrency
        self.fail_with = fail_with
        self.failures = list(failures)
        self.delay = delay
        self.tokens_per_text = tokens_per_text
        self.calls: list[FakeCall] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = 0
        self._scores = scores
        self._lock = threading.Lock()
        #: What the scores declare to be (see ``score_scale`` above).
        self.score_scale = score_scale if not isinstance(score_scale, str) else generic_scale(score_scale)

    @property
    def requests(self) -> list[list[str]]:
        """The texts of every call, in arrival order: ``[call.texts for call in calls]``."""
        return [call.texts for call in self.calls]

    def score_of(self, text: str, query: str = "") -> float:
        """The score this backend gives ``text`` for ``query``, to compare results against.

        Args:
            text: The document text.
            query: The query; the default scores ignore it. Defaults to ``""``.

        Returns:
            What ``score`` returns for ``text``.

        Raises:
            KeyError: ``scores`` is a mapping without ``text``.
        """
        if not isinstance(text, str):  # a document holding images: score its content
            return hashed_score(json.dumps(cache_form(text)), self.name)
        if self._scores is None:
            return hashed_score(text, self.name)
        if isinstance(self._scores, Mapping):
            if text not in self._scores:
                raise KeyError(f"FakeBackend {self.name!r} has no score for text {text!r}")
            return self._scores[text]
        return self._scores(query, text)

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Record the call, then fail as configured or score every text after ``delay``."""
        failure = self._start(query, texts, is_async=False, in_task=False)
        try:
            time.sleep(self.delay)
            return self._answer(query, texts, failure)
        finally:
            self._finish()

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """Async :meth:`score`; awaits ``asyncio.sleep(delay)``, so parts interleave."""
        failure = self._start(query, texts, is_async=True, in_task=_in_task())
        try:
            await asyncio.sleep(self.delay)
            return self._answer(query, texts, failure)
        finally:
            self._finish()

    def close(self) -> None:
        """Count the call in ``closed``."""
        self.closed += 1

    async def aclose(self) -> None:
        """Count the call in ``closed``."""
        self.closed += 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _start(
        self, query: str, texts: Sequence[str], *, is_async: bool, in_task: bool
    ) -> BaseException | None:
        """Record the call; return the exception it is to raise, if any."""
        call = FakeCall(query, list(texts), is_async, threading.get_ident(), in_task)
        with self._lock:
            self.calls.append(call)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.fail_with or (self.failures.pop(0) if self.failures else None)

    def _finish(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _answer(self, query: str, texts: Sequence[str], failure: BaseException | None) -> Scores:
        if failure is not None:
            raise failure.with_traceback(None)  # one instance may be raised many times
        tokens = None if self.tokens_per_text is None else self.tokens_per_text * len(texts)
        return Scores(values=[self.score_of(text, query) for text in texts], usage=Usage(tokens=tokens))


def _in_task() -> bool:
    try:
        return asyncio.current_task() is not None
    except RuntimeError:
        return False
