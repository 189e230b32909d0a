"""One loaded ONNX cross-encoder: its files, configuration, tokenizer and runtime session, and the
forward passes that turn pairs into scores exactly as ``CrossEncoder.predict`` computes them."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from rerankit.backends._local._batching import token_budget_batches
from rerankit.backends._onnx._config import CrossEncoderConfig, read_config
from rerankit.backends._onnx._files import CheckpointFiles, locate
from rerankit.backends._onnx._runtimes import Session, open_session
from rerankit.backends._onnx._tokenizer import PairTokenizer


def activate(logits: np.ndarray, config: CrossEncoderConfig) -> np.ndarray:
    """Scores from logits as ``CrossEncoder.predict`` makes them: the activation, then (two labels)
    the softmax, whose relevant-class (last) column is the score, as the local backend takes it."""
    logits = logits.astype(np.float64)  # computed in double, returned as float: no ties from rounding
    if config.activation == "sigmoid":
        scores = 1.0 / (1.0 + np.exp(-logits))
    elif config.activation == "tanh":
        scores = np.tanh(logits)
    else:
        scores = logits
    if config.num_labels == 2:
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores = shifted / shifted.sum(axis=1, keepdims=True)
    return scores[:, -1]


class OnnxModel:
    """A checkpoint loaded for scoring (shared through the process-wide model cache).

    Args:
        model: A local directory or a hub id.
        runtime: ``"onnxruntime"`` or ``"openvino"``.
        model_file: The network to load, relative to the checkpoint; ``None``: the default one.
        max_length: Tokens per pair; ``None``: the checkpoint's own.
        threads: Runtime threads; ``None``: the runtime's default.
        revision: A hub revision.
    """

    def __init__(
        self,
        model: str,
        *,
        runtime: str,
        model_file: str | None,
        max_length: int | None,
        threads: int | None,
        revision: str | None,
    ) -> None:
        self.files: CheckpointFiles = locate(model, model_file=model_file, revision=revision)
        self.config = read_config(self.files, model, max_length)
        self.tokenizer = PairTokenizer(self.files, self.config.max_length, model)
        self.session: Session = open_session(runtime, self.files.model_path, threads)
        self._lock = threading.Lock()  # one forward pass at a time: each already uses every core

    def score_pairs(
        self,
        pairs: Sequence[tuple[str, str]],
        truncation: str,
        *,
        batch_size: int,
        max_batch_tokens: int | None,
    ) -> list[float]:
        """One score per pair, in input order; pairs sorted by token length and cut into forward
        passes by ``batch_size`` and ``max_batch_tokens`` (``None``: ``batch_size`` only)."""
        if not pairs:
            return []
        encodings = self.tokenizer.encode_pairs(pairs, truncation)
        lengths = [len(encoding.ids) for encoding in encodings]
        scores = np.empty(len(pairs), dtype=np.float64)
        with self._lock:
            for batch in token_budget_batches(lengths, batch_size, max_batch_tokens):
                arrays = self.tokenizer.batch_arrays([encodings[i] for i in batch], self.session.input_names)
                scores[batch] = activate(self.session.run(arrays), self.config)
        return scores.tolist()


__all__ = ["OnnxModel", "activate"]
