"""The ``onnx/`` backend: encoder cross-encoders on CPU from their exported ONNX files, with neither
torch nor transformers (``pip install "rerankit[onnx]"``: onnxruntime, tokenizers, huggingface_hub,
numpy).

It gives what ``local/`` gives, from the same shared parts (``backends/_local/_batching.py``,
``_cache.py``): token-budget batches, concurrent ``ascore`` calls merged into shared forward
passes, the core's long-document windows counted with the model's own tokenizer, and a
``cache_key`` for the score cache. Scores equal ``CrossEncoder.predict`` on the same checkpoint to
float rounding (fp32 networks; an int8 network is as close as its quantization keeps it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rerankit._errors import ConfigurationError
from rerankit._options_base import takes_options
from rerankit.backends._local._batching import CPU_MAX_BATCH_TOKENS, Request
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._in_process import InProcessScorer
from rerankit.backends._onnx._config import ACTIVATION_PATHS
from rerankit.backends._onnx._model import OnnxModel
from rerankit.backends._onnx._option_models import OnnxOptions
from rerankit.backends._onnx._runtimes import check_installed
from rerankit.backends._score_scales import cross_encoder_scale

logger = logging.getLogger("rerankit")


@takes_options(OnnxOptions)
class OnnxCrossEncoder(InProcessScorer):
    """An exported cross-encoder run by ONNX Runtime or OpenVINO on CPU (spec prefix ``onnx/``).

    Reads what sentence-transformers reads, from the checkpoint's own files: ``config.json``
    (architecture, labels, the score's activation), ``tokenizer.json`` (the pair template),
    ``tokenizer_config.json`` (max length, padding) and sentence-transformers' own config files
    when present; and the network from ``onnx/model.onnx`` (or ``model.onnx``, or ``model_file``).
    BERT (MiniLM), XLM-RoBERTa (bge-reranker-base, bge-reranker-v2-m3) and ModernBERT
    (gte-reranker-modernbert-base) classifiers; other shapes are refused by name.

    Args:
        model: A hub id (``cross-encoder/ms-marco-MiniLM-L6-v2``) or a local directory (what
            ``rerankit export-onnx`` writes).
        **options: (one entry per option, made from its options model)

    Raises:
        ConfigurationError: An option breaks its rule; the runtime's package is missing; a file is
            missing (the message lists the networks a directory has); the checkpoint is not an
            encoder cross-encoder of a known family.

    Offline, with a checkpoint exported from a tiny random model (its scores mean nothing):

    >>> import tempfile
    >>> from rerankit.testing.models import build_onnx_cross_encoder
    >>> path = build_onnx_cross_encoder(f"{tempfile.mkdtemp()}/bert")  # doctest: +SKIP
    >>> backend = OnnxCrossEncoder(str(path))  # doctest: +SKIP
    >>> len(backend.score("bm25", ["a ranking function", "a fruit"]).values)  # doctest: +SKIP
    2
    >>> OnnxCrossEncoder("any/model", runtime="tensorrt")
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: runtime must be one of 'onnxruntime', 'openvino', got 'tensorrt' (provider=onnx)
    """

    name = "onnx"

    def __init__(self, model: str, **options: Any) -> None:
        checked = OnnxOptions.of_backend(options, backend=self.name)
        check_installed(checked.runtime)
        self.model = model
        self.runtime = checked.runtime
        self.batch_size = checked.batch_size
        self.max_batch_tokens = (
            CPU_MAX_BATCH_TOKENS if checked.max_batch_tokens == "auto" else checked.max_batch_tokens
        )
        self.revision = checked.revision
        key = (
            "onnx",
            model,
            checked.revision,
            checked.runtime,
            checked.model_file,
            checked.max_length,
            checked.threads,
        )
        try:
            self.loaded: OnnxModel = MODEL_CACHE.get(
                key, lambda: self._load(checked.model_file, checked.max_length, checked.threads)
            )
        except ConfigurationError as exc:
            exc.provider = exc.provider or self.name
            raise
        #: the network loaded, relative to the checkpoint (``"onnx/model.onnx"``)
        self.model_file = self.loaded.files.model_file
        self.max_length = self.loaded.config.max_length
        #: What its scores are (docs/scores.md): read from the activation the checkpoint declares,
        #: in the one place the local backend reads it too (backends/_score_scales.py).
        self.score_scale = cross_encoder_scale(
            ACTIVATION_PATHS[self.loaded.config.activation], self.loaded.config.num_labels
        )
        self._start_batching()

    def _load(self, model_file: str | None, max_length: int | None, threads: int | None) -> OnnxModel:
        logger.info("loading %s on %s (%s)", self.model, self.runtime, model_file or "default file")
        return OnnxModel(
            self.model,
            runtime=self.runtime,
            model_file=model_file,
            max_length=max_length,
            threads=threads,
            revision=self.revision,
        )

    def score_requests(self, requests: Sequence[Request]) -> list[list[float]]:
        """Score several ``(query, texts)`` requests in shared forward passes; one list per request.

        Requests whose queries take the same truncation share batches.
        """
        tokenizer = self.loaded.tokenizer
        groups: dict[str, list[int]] = {}
        for position, (query, _) in enumerate(requests):
            groups.setdefault(tokenizer.truncation_for(query), []).append(position)
        results: list[list[float]] = [[] for _ in requests]
        for truncation, positions in groups.items():
            if truncation != "only_second":
                logger.warning(
                    "a query does not fit max_length %d with any document; truncating both", self.max_length
                )
            pairs = [(requests[p][0], text) for p in positions for text in requests[p][1]]
            scores = self.loaded.score_pairs(
                pairs, truncation, batch_size=self.batch_size, max_batch_tokens=self.max_batch_tokens
            )
            start = 0
            for p in positions:
                end = start + len(requests[p][1])
                results[p] = scores[start:end]
                start = end
        return results

    def document_token_budget(self, query: str) -> int:
        """Tokens left for the document in one pair with ``query``: ``max_length`` minus the pair
        with an empty document (the query and the special tokens)."""
        return self.loaded.tokenizer.document_budget(query)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of ``text``'s tokens under the model's tokenizer."""
        return self.loaded.tokenizer.offsets(text)

    def cache_key(self) -> dict[str, Any]:
        """What changes this backend's scores: the score cache keys on it.

        The runtime is part of it: ONNX Runtime and OpenVINO agree to float rounding in fp32, not
        on an int8 network.
        """
        config = self.loaded.config
        return {
            "backend": self.name,
            "model": self.model,
            "revision": self.revision,
            "runtime": self.runtime,
            "model_file": self.model_file,
            "max_length": self.max_length,
            "activation": config.activation,
            "num_labels": config.num_labels,
        }

    def __repr__(self) -> str:
        return f"OnnxCrossEncoder(model={self.model!r}, runtime={self.runtime!r}, model_file={self.model_file!r})"


__all__ = ["OnnxCrossEncoder"]
