"""rerankit: production-grade reranking for RAG pipelines.

>>> from rerankit import Reranker
>>> reranker = Reranker("local/cross-encoder/ms-marco-MiniLM-L6-v2")  # doctest: +SKIP
>>> reranker.rerank("query", ["doc a", "doc b"], top_n=1).results  # doctest: +SKIP
"""

from rerankit._calibration import Calibration
from rerankit._errors import (
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
from rerankit._images import Image
from rerankit._reranker import Reranker
from rerankit._score_cache import MemoryScoreCache, RedisScoreCache, ScoreCache
from rerankit._score_kinds import SCORE_KINDS, ScoreScale
from rerankit._types import ChunkSpan, RerankResponse, RerankResult, Scores, Usage
from rerankit.backends._base import Backend
from rerankit.backends._endpoints import BackendHealth, EndpointHealth

__version__ = "0.1.0"

# Errors show as ``rerankit.RateLimitError`` in tracebacks and reprs, the name users import them by
# (as httpx does for its public classes), not as the private module that defines them.
for _error in (
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
):
    _error.__module__ = __name__
del _error

__all__ = [
    "SCORE_KINDS",
    "AuthenticationError",
    "Backend",
    "BackendError",
    "BackendHealth",
    "Calibration",
    "ChunkSpan",
    "CircuitOpenError",
    "ConfigurationError",
    "EndpointHealth",
    "Image",
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
    "ScoreScale",
    "Scores",
    "ServerError",
    "Usage",
    "__version__",
]
