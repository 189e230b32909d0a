"""Late-interaction rerankers (ColBERT, answerai-colbert, GTE-ModernColBERT, jina-colbert) through
sentence-transformers' ``MultiVectorEncoder`` (sentence-transformers >= 6).

The query and each document are encoded separately into one vector per token with
``encode_query`` / ``encode_document``, which apply the checkpoint's own prompts (prefixes), query
expansion, document skiplist, lengths and normalisation; a document's score is the model's own
``similarity``: MaxSim (for each query vector, the best dot product with any document vector,
summed over the query vectors) or MeanMaxSim (the same divided by the query's vector count), as the
checkpoint's config says. Only the vectors the scoring mask keeps take part: padding never counts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, get_args

from rerankit import _tracing
from rerankit._errors import ConfigurationError
from rerankit._options_base import takes_options
from rerankit._score_kinds import ScoreScale
from rerankit.backends._local._batching import (
    Request,
    token_budget_batches,
)
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._devices import device_lock, version_tuple
from rerankit.backends._local._in_process import InProcessScorer
from rerankit.backends._local._option_models import (
    ColBERTOptions,
    ColBERTSimilarity,
    load_failed,
    take_local_options,
)
from rerankit.backends._token_counts import counting_tokenizer

logger = logging.getLogger("rerankit")

#: The first sentence-transformers release with ``MultiVectorEncoder``.
MIN_VERSION_FOR_MULTI_VECTOR = (6, 0)
#: The similarities a MultiVectorEncoder scores with.
SIMILARITIES = get_args(ColBERTSimilarity)
#: ``config_sentence_transformers.json`` model types that are late-interaction checkpoints
#: (sentence-transformers' own saves; PyLate <= 3 saved "ColBERT", see MultiVectorEncoder._get_model_type).
LATE_INTERACTION_MODEL_TYPES = ("MultiVectorEncoder", "ColBERT")


def _config_file(model: str, name: str, revision: str | None) -> dict[str, Any] | None:
    """A JSON file of a local directory or hub repository, or ``None`` if it has none."""
    from sentence_transformers.util import load_file_path

    path = load_file_path(model, name, revision=revision)
    if path is None:
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def checkpoint_kind(model: str, revision: str | None = None) -> str:
    """``"late-interaction"`` for a checkpoint sentence-transformers loads as a MultiVectorEncoder
    without converting it, else ``"plain"`` (a single-vector SentenceTransformer or a bare encoder).

    Late interaction: a sentence-transformers MultiVectorEncoder save, a PyLate save (model type
    "ColBERT" or its ``query_prefix``/``document_prefix`` fields), a Stanford-NLP ColBERT
    (``HF_ColBERT`` architecture) or a transformers ``...ForRetrieval`` model (ColPali style).
    """
    st_file = _config_file(model, "config_sentence_transformers.json", revision)
    hf_file = _config_file(model, "config.json", revision)
    if st_file is None and hf_file is None:
        raise ConfigurationError(
            f"found no config.json or config_sentence_transformers.json for {model!r}: "
            "not a model directory, or a hub id that is not reachable (or cached)",
            provider="colbert",
        )
    st_config = st_file or {}
    if st_config.get("model_type") in LATE_INTERACTION_MODEL_TYPES:
        return "late-interaction"
    if "query_prefix" in st_config or "document_prefix" in st_config:
        return "late-interaction"
    architectures = (hf_file or {}).get("architectures") or []
    if "HF_ColBERT" in architectures or any(a.endswith("ForRetrieval") for a in architectures):
        return "late-interaction"
    return "plain"


#: What each similarity's scores are (docs/scores.md). With the L2-normalised vectors every
#: ColBERT checkpoint has, each query vector adds a cosine in [-1, 1]: MaxSim lies in [-Q, Q] for
#: Q query vectors (unbounded across queries), MeanMaxSim in [-1, 1]. No family documents a map to 0-1.
SIMILARITY_SCALES: dict[str, ScoreScale] = {
    "maxsim": ScoreScale(
        kind="similarity",
        description="MaxSim: the sum over query vectors of the best dot product with a document vector",
        source="sentence-transformers util.similarity.maxsim; ColBERT (Khattab & Zaharia, 2020)",
    ),
    "meanmaxsim": ScoreScale(
        kind="similarity",
        range=(-1.0, 1.0),
        description="MeanMaxSim: MaxSim divided by the number of query vectors",
        source="sentence-transformers util.similarity.maxsim(length_normalize=True)",
    ),
}


@takes_options(ColBERTOptions)
class LocalColBERT(InProcessScorer):
    """A late-interaction (ColBERT-style) model run in this process (spec prefix ``colbert/``).

    Each distinct document is encoded once per call; concurrent :meth:`ascore` calls on one event
    loop share forward passes (see :class:`~rerankit.backends._local._batching.ConcurrentBatcher`).

    Args:
        model: A hub id (``lightonai/GTE-ModernColBERT-v1``, ``answerdotai/answerai-colbert-small-v1``,
            ``colbert-ir/colbertv2.0``) or a local directory holding a sentence-transformers or
            PyLate late-interaction checkpoint.
        **options: (one entry per option, made from its options model)

    Raises:
        ConfigurationError: An option breaks its rule (named, with the rule and the value); the
            installed sentence-transformers has no ``MultiVectorEncoder``; the model does not load
            or is not a late-interaction checkpoint (without ``convert``).

    >>> backend = LocalColBERT("lightonai/GTE-ModernColBERT-v1", device="cpu")  # doctest: +SKIP
    >>> backend.score("what is bm25", ["BM25 is a ranking function", "a fruit"]).values  # doctest: +SKIP

    Offline, with a tiny random checkpoint (its scores mean nothing):

    >>> import tempfile
    >>> from rerankit.testing.models import build_minilm_colbert
    >>> path = build_minilm_colbert(f"{tempfile.mkdtemp()}/colbert")
    >>> backend = LocalColBERT(str(path), device="cpu", similarity="meanmaxsim")
    >>> backend.similarity, len(backend.score("bm25", ["a ranking function", "a fruit"]).values)
    ('meanmaxsim', 2)
    """

    name = "colbert"

    def __init__(self, model: str, **options: Any) -> None:
        checked = ColBERTOptions.of_backend(options, backend=self.name)
        try:
            import sentence_transformers
            import torch  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "the colbert backend needs sentence-transformers >= 6 and torch: pip install 'rerankit[local]'"
            ) from exc
        if version_tuple(sentence_transformers.__version__) < MIN_VERSION_FOR_MULTI_VECTOR:
            raise ConfigurationError(
                "the colbert backend needs sentence-transformers >= 6 (MultiVectorEncoder); installed: "
                f"{sentence_transformers.__version__}. Upgrade: pip install -U 'sentence-transformers>=6'"
            )
        self.model = model
        self.convert = checked.convert
        take_local_options(self, checked)
        key = (
            "multi-vector",
            model,
            checked.revision,
            self.device,
            self.dtype,
            checked.trust_remote_code,
            checked.convert,
        )
        self.encoder = MODEL_CACHE.get(key, self._load)
        self.similarity = checked.similarity or self.encoder.similarity_fn_name
        #: What the scores are (docs/scores.md); ``None`` for a checkpoint's own other similarity.
        self.score_scale = SIMILARITY_SCALES.get(self.similarity)
        self._start_batching()

    def _load(self) -> Any:
        import torch
        from sentence_transformers import MultiVectorEncoder

        try:
            kind = checkpoint_kind(self.model, self.revision)
        except ConfigurationError:
            raise
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"could not read {self.model!r}: {exc}", provider=self.name) from exc
        if kind != "late-interaction" and not self.convert:
            raise ConfigurationError(
                f"{self.model!r} is not a late-interaction checkpoint (no sentence-transformers "
                "MultiVectorEncoder or PyLate config): it is a single-vector or bare encoder. Use the "
                "embedding/ backend for it, or pass convert=True to add an untrained token projection",
                provider=self.name,
            )
        logger.info("loading %s on %s (%s)", self.model, self.device, self.dtype)
        try:
            return MultiVectorEncoder(
                self.model,
                device=self.device,
                trust_remote_code=self.trust_remote_code,
                revision=self.revision,
                model_kwargs={"dtype": getattr(torch, self.dtype)},
            )
        except (OSError, ValueError) as exc:
            raise load_failed("late-interaction", self.model, exc, provider=self.name) from exc

    # -- scoring --------------------------------------------------------------------------------

    def score_requests(self, requests: Sequence[Request]) -> list[list[float]]:
        """Score several ``(query, texts)`` requests; every distinct query and document of all of
        them is encoded once, documents in token-budget batches."""
        if not any(texts for _, texts in requests):
            return [[] for _ in requests]
        queries = list(dict.fromkeys(query for query, _ in requests))
        documents = list(dict.fromkeys(text for _, texts in requests for text in texts))
        with device_lock(self.device):
            query_vectors = dict(zip(queries, self._encode(queries, task="query"), strict=True))
            document_vectors = dict(zip(documents, self._encode(documents, task="document"), strict=True))
            results = []
            for query, texts in requests:
                if not texts:
                    results.append([])
                    continue
                # fp32 MaxSim: in half precision nearby sums round to the same value and invent ties
                matrix = self._similarity(
                    [query_vectors[query].float()], [document_vectors[text].float() for text in texts]
                )
                results.append(matrix[0].float().cpu().tolist())
        return results

    def _similarity(self, queries: list[Any], documents: list[Any]) -> Any:
        """The model's own similarity, or MaxSim/MeanMaxSim when ``similarity`` overrides it."""
        if self.similarity == self.encoder.similarity_fn_name:
            return self.encoder.similarity(queries, documents)
        from sentence_transformers.util.similarity import maxsim

        return maxsim(queries, documents, length_normalize=self.similarity == "meanmaxsim")

    def _encode(self, texts: list[str], *, task: str) -> list[Any]:
        """Per-text token vectors (only those the scoring mask keeps), in input order."""
        encode = self.encoder.encode_query if task == "query" else self.encoder.encode_document
        if task == "query" or self.max_batch_tokens is None:
            with _tracing.forward_pass(len(texts), device=self.device):
                return list(encode(texts, batch_size=self.batch_size, show_progress_bar=False))
        vectors: list[Any] = [None] * len(texts)
        lengths = self._document_lengths(texts)
        for batch in token_budget_batches(lengths, self.batch_size, self.max_batch_tokens):
            tokens = len(batch) * max(lengths[i] for i in batch)
            with _tracing.forward_pass(len(batch), tokens, self.device):
                encoded = encode([texts[i] for i in batch], batch_size=len(batch), show_progress_bar=False)
            for position, value in zip(batch, encoded, strict=True):
                vectors[position] = value
        return vectors

    def _document_lengths(self, texts: list[str]) -> list[int]:
        """Tokens per document as encoded (prompt and special tokens included, truncated)."""
        transformer = self.encoder[0]
        limit = getattr(transformer, "document_length", None) or self.encoder.max_seq_length or 512
        prompt = self.encoder.prompts.get("document") or ""
        encoded = counting_tokenizer(self.encoder.tokenizer)(
            [prompt + text for text in texts], truncation=True, max_length=limit
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def __repr__(self) -> str:
        return (
            f"LocalColBERT(model={self.model!r}, similarity={self.similarity!r}, device={self.device!r}, "
            f"dtype={self.dtype!r})"
        )


__all__ = ["LATE_INTERACTION_MODEL_TYPES", "SIMILARITIES", "LocalColBERT", "checkpoint_kind"]
