"""The score cache: (everything that changes a score, query, document) -> score, across calls.

RAG conversations and evaluation sweeps rerank the same pairs again and again. With
``Reranker(..., cache=...)`` a document's score (and, with ``long_documents="chunk"``, its winning
window) is looked up before anything is sent; only the misses go to the backend.

The key is a SHA-256 of a JSON array (a delimited tuple: concatenating query and document would
collide) of the rerankit version, the backend's :meth:`cache_key` (backend, model, revision,
dtype, max length, format and instruction, address: whatever changes its scores), the
long-document setting, the query and the document (its text; for a document with images, its
texts and the SHA-256 of each image's bytes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import Field

from rerankit._errors import ConfigurationError
from rerankit._options_base import Options
from rerankit._types import ChunkSpan

logger = logging.getLogger("rerankit")

#: Entries an in-memory cache holds with ``cache=True``: about 20 MB of keys and scores.
DEFAULT_CACHE_SIZE = 100_000
#: Prefix of every key rerankit writes to Redis, so a shared database can be inspected and cleared.
REDIS_KEY_PREFIX = "rerankit:score:"


@dataclass(frozen=True)
class CachedScore:
    """A document's score and, when it was chunked, the window that gave it."""

    score: float
    chunk: ChunkSpan | None = None

    def to_json(self) -> str:
        chunk = None if self.chunk is None else [self.chunk.index, self.chunk.start, self.chunk.end]
        return json.dumps({"score": self.score, "chunk": chunk})

    @classmethod
    def from_json(cls, raw: str | bytes) -> CachedScore | None:
        """The entry ``raw`` encodes; ``None`` for anything else (a foreign or corrupt value)."""
        try:
            data = json.loads(raw)
            score = data["score"]
            chunk = data["chunk"]
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                return None
            span = None if chunk is None else ChunkSpan(index=chunk[0], start=chunk[1], end=chunk[2])
        except (ValueError, TypeError, KeyError, IndexError):
            return None
        return cls(float(score), span)


@runtime_checkable
class ScoreCache(Protocol):
    """Where scores are kept between calls: :class:`MemoryScoreCache`, :class:`RedisScoreCache`, or yours.

    Attributes:
        does_io: whether lookups leave the process (async calls then run them in a worker thread).
    """

    does_io: bool

    def get_many(self, keys: Sequence[str]) -> list[CachedScore | None]:
        """The entry of each key, ``None`` where there is none."""
        ...

    def set_many(self, entries: dict[str, CachedScore]) -> None:
        """Store the entries."""
        ...


class MemoryScoreCache:
    """A bounded, thread-safe, least-recently-used score cache inside this process.

    Args:
        max_entries: entries kept; the least recently used go first. Defaults to
            :data:`DEFAULT_CACHE_SIZE`.

    >>> cache = MemoryScoreCache(max_entries=1)
    >>> cache.set_many({"a": CachedScore(0.5), "b": CachedScore(0.7)})
    >>> cache.get_many(["a", "b"])
    [None, CachedScore(score=0.7, chunk=None)]
    """

    does_io = False

    def __init__(self, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        self.max_entries = _MemoryCacheOptions.from_arguments(locals()).max_entries
        self._entries: OrderedDict[str, CachedScore] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> list[CachedScore | None]:
        with self._lock:
            found = []
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                found.append(entry)
            return found

    def set_many(self, entries: dict[str, CachedScore]) -> None:
        with self._lock:
            for key, entry in entries.items():
                self._entries[key] = entry
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __repr__(self) -> str:
        return f"MemoryScoreCache(max_entries={self.max_entries}, entries={len(self)})"


class _MemoryCacheOptions(Options):
    max_entries: int = Field(default=DEFAULT_CACHE_SIZE, ge=1, description="The most scores kept.")


class _RedisCacheOptions(Options):
    ttl: int | None = Field(
        default=None, ge=1, description="Seconds an entry lives; None: until Redis evicts it."
    )
    timeout: float = Field(default=0.5, gt=0, description="Socket connect and read timeout, in seconds.")


class RedisScoreCache:
    """A score cache in Redis (redis-py), shared by every replica that points at it.

    A Redis that fails or times out never fails a rerank: the lookup counts as misses (or the
    store is skipped) and a warning is logged.

    Args:
        url: ``redis://[:password@]host:port/db`` (``rediss://`` for TLS), as redis-py's
            ``Redis.from_url`` reads it.
        ttl: seconds an entry lives; ``None`` (default): until Redis evicts it (configure
            ``maxmemory-policy allkeys-lru`` on a dedicated database).
        timeout: socket connect and read timeout in seconds. Defaults to 0.5.

    >>> cache = RedisScoreCache("redis://localhost:6379/0", ttl=86400)  # doctest: +SKIP
    """

    does_io = True

    def __init__(
        self,
        url: str,
        *,
        ttl: int | None = _RedisCacheOptions.default("ttl"),
        timeout: float = _RedisCacheOptions.default("timeout"),
    ) -> None:
        options = _RedisCacheOptions.from_arguments(locals())
        ttl, timeout = options.ttl, options.timeout
        try:
            import redis
        except ImportError as exc:
            raise ConfigurationError(
                "a Redis score cache needs redis-py: pip install 'rerankit[cache]'"
            ) from exc
        try:
            self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        except ValueError as exc:
            raise ConfigurationError(f"not a Redis URL ({exc})") from exc
        self._errors = (redis.RedisError, OSError)
        self.ttl = ttl
        pool_settings = self._client.connection_pool.connection_kwargs
        self._where = (
            f"{pool_settings.get('host', '?')}:{pool_settings.get('port', '?')}/{pool_settings.get('db', 0)}"
        )

    def get_many(self, keys: Sequence[str]) -> list[CachedScore | None]:
        if not keys:
            return []
        try:
            raw = self._client.mget([REDIS_KEY_PREFIX + key for key in keys])
        except self._errors as exc:
            logger.warning("score cache at %s unavailable, scoring without it: %s", self._where, exc)
            return [None] * len(keys)
        return [None if value is None else CachedScore.from_json(value) for value in raw]

    def set_many(self, entries: dict[str, CachedScore]) -> None:
        if not entries:
            return
        try:
            with self._client.pipeline(transaction=False) as pipeline:
                for key, entry in entries.items():
                    pipeline.set(REDIS_KEY_PREFIX + key, entry.to_json(), ex=self.ttl)
                pipeline.execute()
        except self._errors as exc:
            logger.warning("score cache at %s unavailable, scores not stored: %s", self._where, exc)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __repr__(self) -> str:  # the URL may hold a password: show where, never how
        return f"RedisScoreCache({self._where}, ttl={self.ttl})"


def make_score_cache(cache: Any) -> ScoreCache | None:
    """The cache a ``Reranker(..., cache=...)`` value asks for.

    ``None``/``False``: no cache; ``True``: a :class:`MemoryScoreCache` of
    :data:`DEFAULT_CACHE_SIZE` entries; an integer: one of that many; ``"redis://..."``
    (``rediss://``, ``unix://``): a :class:`RedisScoreCache`; a :class:`ScoreCache`: itself.

    Raises:
        ConfigurationError: for any other value.
    """
    if cache is None or cache is False:
        return None
    if cache is True:
        return MemoryScoreCache()
    if isinstance(cache, int):
        try:
            return MemoryScoreCache(cache)
        except ConfigurationError as exc:  # say which option the number was given as
            raise ConfigurationError(f"cache={cache!r}: {exc.message}") from None
    if isinstance(cache, str) and cache.startswith(("redis://", "rediss://", "unix://")):
        return RedisScoreCache(cache)
    if isinstance(cache, ScoreCache):
        return cache
    shown = "a URL that is not redis:// or rediss://" if isinstance(cache, str) else type(cache).__name__
    raise ConfigurationError(
        f"cache must be True, a number of entries, 'redis://host:port/db' or a ScoreCache, got {shown}"
    )


def backend_fingerprint(backend: Any) -> Any:
    """The backend's ``cache_key()``: what of its configuration changes its scores.

    Raises:
        ConfigurationError: when the backend has no ``cache_key`` (its scores could not be told
            apart from another configuration's, so they are never cached by guess).
    """
    cache_key = getattr(backend, "cache_key", None)
    if not callable(cache_key):
        raise ConfigurationError(
            f"cache=... needs a backend with a cache_key() method naming what changes its scores; "
            f"{type(backend).__name__} has none",
            provider=getattr(backend, "name", None),
        )
    return cache_key()


def score_key(fingerprint: Any, long_documents: list[Any], query: str, document: str | list[Any]) -> str:
    """The cache key of one (query, document) pair: a hash of the delimited tuple of all parts.

    ``document`` is a text, or a document with images as
    :func:`~rerankit._documents.cache_form` writes it (its texts and its images' SHA-256: the
    image bytes, never a file name or URL alone).

    >>> score_key(["local", "m"], ["truncate"], "q", "ab") != score_key(["local", "m"], ["truncate"], "qa", "b")
    True
    """
    from rerankit import __version__

    payload = json.dumps([__version__, fingerprint, long_documents, query, document], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


__all__ = [
    "DEFAULT_CACHE_SIZE",
    "REDIS_KEY_PREFIX",
    "CachedScore",
    "MemoryScoreCache",
    "RedisScoreCache",
    "ScoreCache",
    "backend_fingerprint",
    "make_score_cache",
    "score_key",
]
