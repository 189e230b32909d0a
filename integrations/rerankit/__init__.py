"""rerankit: production-grade reranking for RAG pipelines.

>>> from rerankit import Reranker
>>> reranker = Reranker("local/cross-encoder/ms-marco-MiniLM-L6-v2")  # doctest: +SKIP
>>> reranker.rerank("query", ["doc a", "doc b"], top_n=1).results  # doctest: +SKIP
"""

from rerankit._score_cache import MemoryScoreCache, RedisScoreCache, ScoreCache
from rerankit.backends._endpoints import BackendHealth, EndpointHealth
from rerankit.backends.base import Backend
from rerankit.errors import (
    AuthenticationError,
    BackendError,
    CircuitOpenError,
    ConfigurationError,
    InvalidInputError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitError,
    RerankError,
    RerankTimeoutError,
    ServerError,
)
from rerankit.reranker import Reranker
from rerankit.types import ChunkSpan, RerankResponse, RerankResult, Scores, Usage

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "Backend",
    "BackendError",
    "BackendHealth",
    "ChunkSpan",
    "CircuitOpenError",
    "ConfigurationError",
    "EndpointHealth",
    "InvalidInputError",
    "InvalidRequestError",
    "MalformedResponseError",
    "MemoryScoreCache",
    "RateLimitError",
    "RedisScoreCache",
    "RerankError",
    "RerankResponse",
    "RerankResult",
    "RerankTimeoutError",
    "Reranker",
    "ScoreCache",
    "Scores",
    "ServerError",
    "Usage",
    "__version__",
]
