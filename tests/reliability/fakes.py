"""In-process backends for the reliability suite: deterministic scores, scripted failures."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Sequence

from rerankit.types import Scores, Usage


def text_score(text: str, salt: str = "") -> float:
    """A deterministic score in [0, 1) per (salt, text): a test can recompute it for any document."""
    digest = hashlib.blake2b(f"{salt}\x00{text}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class FakeBackend:
    """A Backend scoring with ``text_score(text, salt=name)``, failing as scripted, recording calls.

    ``failures`` script the calls in order: an exception is raised by that ``score``/``ascore``
    call, ``None`` lets it score; once they are used up every call scores. ``always`` is raised
    on every call instead.
    """

    def __init__(
        self,
        name: str = "fake",
        model: str = "fake-model",
        *,
        failures: Sequence[BaseException | None] = (),
        always: BaseException | None = None,
        limit: int | None = None,
        concurrency: int = 4,
        delay: float = 0.0,
    ) -> None:
        self.name = name
        self.model = model
        self.max_documents_per_request = limit
        self.max_concurrency = concurrency
        self.delay = delay
        self.failures = list(failures)
        self.always = always
        self.requests: list[list[str]] = []
        self.closed = 0
        self._lock = threading.Lock()

    def expected(self, text: str) -> float:
        return text_score(text, self.name)

    def _next(self, texts: Sequence[str]) -> Scores:
        with self._lock:
            self.requests.append(list(texts))
            failure = self.always or (self.failures.pop(0) if self.failures else None)
        if failure is not None:
            raise failure
        return Scores(values=[self.expected(t) for t in texts], usage=Usage(tokens=len(texts)))

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        return self._next(texts)

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._next(texts)

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.closed += 1

    def __repr__(self) -> str:
        return f"FakeBackend({self.name!r})"
