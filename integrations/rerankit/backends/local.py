"""In-process cross-encoders through sentence-transformers' ``CrossEncoder`` (CPU or GPU).

Covers BERT/MiniLM and XLM-R classifiers (``cross-encoder/ms-marco-MiniLM-L6-v2``,
``BAAI/bge-reranker-base``, ``BAAI/bge-reranker-v2-m3``) and, with sentence-transformers >= 5.4,
causal-LM rerankers (``Qwen/Qwen3-Reranker-0.6B``, ``zeroentropy/zerank-2``) scored by a
``LogitScore`` head. Scores equal ``CrossEncoder.predict`` with the model's own activation; a
two-logit classifier gives its positive-class probability.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

from rerankit.errors import ConfigurationError
from rerankit.types import Scores

logger = logging.getLogger("rerankit")

#: The first sentence-transformers release that loads causal-LM rerankers with a LogitScore head.
MIN_VERSION_FOR_LLM_RERANKERS = (5, 4)
DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
RUNTIMES = ("torch", "onnx", "openvino")


def resolve_device(device: str) -> str:
    """``"auto"`` picks cuda, then mps, then cpu; anything else is passed to torch as is."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    """``"auto"``: bf16 on GPUs that support it, else fp16 on GPU; fp32 on CPU."""
    import torch

    if dtype != "auto":
        if dtype not in DTYPES:
            raise ConfigurationError(
                f"unknown dtype {dtype!r}; valid dtypes: auto, {', '.join(sorted(DTYPES))}"
            )
        return DTYPES[dtype]
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device.startswith("mps"):
        return "float16"
    return "float32"


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _is_causal_lm(model: str, revision: str | None, trust_remote_code: bool) -> bool:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
    return any(arch.endswith("ForCausalLM") for arch in (getattr(config, "architectures", None) or []))


class ModelCache:
    """A bounded, thread-safe LRU of loaded models: one load per process per key.

    The key covers everything that changes the loaded weights or tokenizer: model id, revision,
    device, dtype, runtime, max length and ``trust_remote_code``.
    """

    def __init__(self, maxsize: int = 4) -> None:
        self.maxsize = maxsize
        self._models: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Any) -> Any:
        """Return the model under ``key``, calling ``load()`` once if it is not cached."""
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            model = load()
            self._models[key] = model
            while len(self._models) > self.maxsize:
                self._models.popitem(last=False)
            return model

    def clear(self) -> None:
        """Drop every cached model."""
        with self._lock:
            self._models.clear()

    def __len__(self) -> int:
        return len(self._models)


MODEL_CACHE = ModelCache()
_DEVICE_LOCKS: dict[str, threading.Lock] = {}
_DEVICE_LOCKS_GUARD = threading.Lock()


def device_lock(device: str) -> threading.Lock:
    """One lock per device: forward passes on one device run one at a time."""
    with _DEVICE_LOCKS_GUARD:
        return _DEVICE_LOCKS.setdefault(device, threading.Lock())


class LocalCrossEncoder:
    """A sentence-transformers ``CrossEncoder`` run in this process.

    Args:
        model: a hub id (``BAAI/bge-reranker-base``) or a local directory.
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device string.
        dtype: ``"auto"`` (bf16 on GPUs that support it, else fp16; fp32 on CPU), or
            ``float32``/``float16``/``bfloat16``.
        batch_size: pairs per forward pass.
        max_length: tokens per pair; the document is truncated, never the query (nor an LLM
            reranker's prompt suffix). ``None`` keeps the model's own limit.
        instruction: the task instruction of an LLM reranker (Qwen3-Reranker style).
        trust_remote_code: allow the model repository's own code to run.
        revision: a hub revision (branch, tag or commit) to pin.
        backend: the runtime, ``"torch"``, ``"onnx"`` or ``"openvino"`` (the last two need
            ``rerankit[accel]``).

    >>> backend = LocalCrossEncoder("cross-encoder/ms-marco-MiniLM-L6-v2", device="cpu")  # doctest: +SKIP
    >>> backend.score("query", ["a", "b"]).values  # doctest: +SKIP
    """

    name = "local"
    max_documents_per_request: int | None = None
    max_concurrency = 1

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 32,
        max_length: int | None = None,
        instruction: str | None = None,
        trust_remote_code: bool = False,
        revision: str | None = None,
        backend: str = "torch",
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
        if max_length is not None and (
            isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 8
        ):
            raise ConfigurationError(f"max_length must be an integer of at least 8, got {max_length!r}")
        if backend not in RUNTIMES:
            raise ConfigurationError(f"unknown runtime backend {backend!r}; valid: {', '.join(RUNTIMES)}")
        if instruction is not None and (not isinstance(instruction, str) or not instruction.strip()):
            raise ConfigurationError("instruction must be a non-blank string")
        try:
            import sentence_transformers  # noqa: F401
            import torch  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "the local backend needs sentence-transformers and torch: pip install 'rerankit[local]'"
            ) from exc

        self.model = model
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.max_length = max_length
        self.instruction = instruction
        self.trust_remote_code = trust_remote_code
        self.revision = revision
        self.runtime = backend
        key = (model, revision, self.device, self.dtype, backend, max_length, trust_remote_code)
        self.cross_encoder = MODEL_CACHE.get(key, self._load)
        self.is_llm_reranker = self._has_logit_score_head(self.cross_encoder)
        self.num_labels = self.cross_encoder.num_labels
        if self.num_labels not in (1, 2):
            raise ConfigurationError(
                f"model {model!r} has {self.num_labels} output labels; a reranker has 1 (a score) "
                "or 2 (irrelevant/relevant)"
            )
        if instruction is not None and not self.is_llm_reranker:
            raise ConfigurationError(
                f"instruction applies only to LLM rerankers (causal LMs such as Qwen3-Reranker); "
                f"{model!r} is a sequence classifier"
            )

    def _load(self) -> Any:
        import sentence_transformers
        import torch
        from sentence_transformers import CrossEncoder

        version = _version_tuple(sentence_transformers.__version__)
        if version < MIN_VERSION_FOR_LLM_RERANKERS and _is_causal_lm(
            self.model, self.revision, self.trust_remote_code
        ):
            raise ConfigurationError(
                f"{self.model!r} is a causal-LM reranker, which needs sentence-transformers >= "
                f"{'.'.join(map(str, MIN_VERSION_FOR_LLM_RERANKERS))} (installed: "
                f"{sentence_transformers.__version__}); older versions silently attach a random "
                "classification head. Upgrade: pip install -U 'sentence-transformers>=5.4'"
            )
        model_kwargs = {"dtype": getattr(torch, self.dtype)} if self.runtime == "torch" else None
        logger.info("loading %s on %s (%s, %s)", self.model, self.device, self.dtype, self.runtime)
        try:
            return CrossEncoder(
                self.model,
                device=self.device,
                max_length=self.max_length,
                trust_remote_code=self.trust_remote_code,
                revision=self.revision,
                backend=self.runtime,
                model_kwargs=model_kwargs,
            )
        except (OSError, ValueError) as exc:
            where = "directory" if Path(self.model).exists() else "hub id or directory"
            raise ConfigurationError(
                f"could not load local model {self.model!r} ({where}): {exc}", provider="local"
            ) from exc

    @staticmethod
    def _has_logit_score_head(cross_encoder: Any) -> bool:
        try:
            from sentence_transformers.cross_encoder.modules import LogitScore
        except ImportError:
            return False
        return any(isinstance(module, LogitScore) for module in cross_encoder)

    def _truncation(self, query: str) -> dict[str, Any]:
        """Cut the document, never the query: ``only_second``, unless the query alone does not fit."""
        if self.is_llm_reranker:
            return {}  # chat-template models: sentence-transformers restores the prompt suffix itself
        tokenizer = self.cross_encoder.tokenizer
        limit = self.cross_encoder.max_seq_length or tokenizer.model_max_length
        query_tokens = len(tokenizer(query, add_special_tokens=False)["input_ids"])
        special = tokenizer.num_special_tokens_to_add(pair=True)
        if query_tokens + special + 1 > limit:
            logger.warning(
                "query of %d tokens does not fit max_length %d with any document; truncating both",
                query_tokens,
                limit,
            )
            return {}
        return {"processing_kwargs": {"text": {"truncation": "only_second"}}}

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Score each text against ``query`` with one forward pass per batch and one transfer to host."""
        pairs = [(query, text) for text in texts]
        extra = self._truncation(query)
        if self.instruction is not None:
            extra["prompt"] = self.instruction
        with device_lock(self.device):
            scores = self.cross_encoder.predict(
                pairs,
                batch_size=self.batch_size,
                show_progress_bar=False,
                convert_to_tensor=True,
                apply_softmax=self.num_labels == 2,
                **extra,
            )
        if scores.ndim == 2:  # two-logit classifier: probability of the relevant class
            scores = scores[:, -1]
        return Scores(values=scores.float().cpu().tolist())

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """:meth:`score` in a worker thread, so the event loop never blocks on a forward pass."""
        return await asyncio.to_thread(self.score, query, texts)

    def close(self) -> None:
        """Nothing to release: the model stays in the process-wide cache for the next caller."""

    async def aclose(self) -> None:
        """Nothing to release (see :meth:`close`)."""

    def __repr__(self) -> str:
        return (
            f"LocalCrossEncoder(model={self.model!r}, device={self.device!r}, dtype={self.dtype!r}, "
            f"runtime={self.runtime!r})"
        )
