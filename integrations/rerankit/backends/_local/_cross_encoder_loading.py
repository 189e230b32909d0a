"""How :class:`~rerankit.backends._local.LocalCrossEncoder` loads its model: a sentence-transformers
``CrossEncoder`` (a classifier, or a causal LM with its own reranker setup), an LLM reranker of a
known family (:class:`~rerankit.backends._local._llm.LLMReranker`) or a vision-language reranker
(:class:`~rerankit.backends._local._vision.VisionReranker`), each through the process-wide model
cache, and which options fit which."""

from __future__ import annotations

import logging
from typing import Any

from rerankit._errors import ConfigurationError
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._devices import version_tuple
from rerankit.backends._local._formats import LLMFormat
from rerankit.backends._local._llm import LLMReranker
from rerankit.backends._local._logit_score import LogitScorePairs
from rerankit.backends._local._option_models import load_failed
from rerankit.backends._local._routing import choose_llm_format, is_causal_lm
from rerankit.backends._local._vision import VisionReranker
from rerankit.backends._local._vision_formats import VisionFormat
from rerankit.backends._score_scales import ScoreScale, cross_encoder_scale

logger = logging.getLogger("rerankit")

#: The first sentence-transformers release that loads causal-LM rerankers with a LogitScore head.
MIN_VERSION_FOR_LLM_RERANKERS = (5, 4)


class CrossEncoderLoading:
    """Mixin of :class:`~rerankit.backends._local.LocalCrossEncoder`: loading its scorer.

    Each ``_load_*`` sets what the scoring reads: ``cross_encoder`` (the loaded scorer, which
    carries ``.tokenizer``), ``llm`` (an LLM or vision scorer, else ``None``), ``is_llm_reranker``,
    ``num_labels`` and ``score_scale``.
    """

    name: str
    model: str
    device: str
    dtype: str
    max_length: int | None
    instruction: str | None
    trust_remote_code: bool
    revision: str | None
    runtime: str
    accepts_images: bool
    llm_format: LLMFormat | None
    #: the loaded scorer: a sentence-transformers ``CrossEncoder``, an ``LLMReranker`` or a
    #: ``VisionReranker`` (each carries ``.tokenizer``)
    cross_encoder: Any
    #: the LLM or vision scorer (``None``: a sentence-transformers ``CrossEncoder`` scores)
    llm: LLMReranker | VisionReranker | None
    is_llm_reranker: bool
    num_labels: int
    #: What the scores are (docs/scores.md): the format's, or the model's activation's.
    score_scale: ScoreScale

    def _load_classifier(self) -> None:
        """A sentence-transformers ``CrossEncoder``: a classifier, or a causal LM with a LogitScore head."""
        key = (
            self.model,
            self.revision,
            self.device,
            self.dtype,
            self.runtime,
            self.max_length,
            self.trust_remote_code,
        )
        self.llm = None
        self.cross_encoder = MODEL_CACHE.get(key, self._load)
        self.is_llm_reranker = self._has_logit_score_head(self.cross_encoder)
        #: the LogitScore pipeline taken apart for prefix reuse (None: predict() scores every pair)
        torch_llm = self.is_llm_reranker and self.runtime == "torch"
        self._logit_score = LogitScorePairs.of(self.cross_encoder) if torch_llm else None
        self.num_labels = self.cross_encoder.num_labels
        self.score_scale = cross_encoder_scale(self.cross_encoder.activation_fn, self.num_labels)
        if self.num_labels not in (1, 2):
            raise ConfigurationError(
                f"model {self.model!r} has {self.num_labels} output labels; a reranker has 1 (a score) "
                "or 2 (irrelevant/relevant)"
            )
        if self.instruction is not None and not self.is_llm_reranker:
            raise ConfigurationError(
                f"instruction applies only to LLM rerankers (causal LMs such as Qwen3-Reranker); "
                f"{self.model!r} is a sequence classifier"
            )

    def _load_llm_reranker(self) -> None:
        """An LLM reranker of a known family, scored as its model card scores it."""
        fmt = self.llm_format
        assert fmt is not None
        if self.instruction is not None and not fmt.takes_instruction:
            raise ConfigurationError(f"LLM reranker format {fmt.name!r} takes no instruction ({fmt.source})")
        key = (
            "llm",
            self.model,
            self.revision,
            self.device,
            self.dtype,
            fmt,
            self.max_length,
            self.trust_remote_code,
        )
        self._take_scorer(MODEL_CACHE.get(key, self._load_llm), fmt)

    def _load_vision_reranker(self, fmt: VisionFormat) -> None:
        """Score with a vision-language reranker (Qwen3-VL-Reranker): text and image documents."""
        if self.runtime != "torch":
            raise ConfigurationError(
                f"vision reranker format {fmt.name!r} runs on backend='torch' only; got backend={self.runtime!r}"
            )
        self.llm_format = None
        key = ("vision", self.model, self.revision, self.device, self.dtype, fmt, self.max_length)
        scorer = MODEL_CACHE.get(
            (*key, self.trust_remote_code),
            lambda: VisionReranker(
                self.model,
                fmt,
                device=self.device,
                dtype=self.dtype,
                max_length=self.max_length,
                revision=self.revision,
                trust_remote_code=self.trust_remote_code,
            ),
        )
        self._take_scorer(scorer, fmt)
        self.accepts_images = True

    def _take_scorer(self, scorer: LLMReranker | VisionReranker, fmt: LLMFormat | VisionFormat) -> None:
        """Score with a format's own scorer: one score per pair, on the format's scale, with the
        format's instruction unless one was given."""
        self.llm = self.cross_encoder = scorer
        self.is_llm_reranker = True
        self.num_labels = 1
        self.score_scale = fmt.score_scale
        if self.instruction is None:
            self.instruction = fmt.default_instruction

    def _choose_llm_format(self, llm_format: str | LLMFormat | None) -> LLMFormat | None:
        return choose_llm_format(
            self.model, llm_format, revision=self.revision, trust_remote_code=self.trust_remote_code
        )

    def _load_llm(self) -> LLMReranker:
        assert self.llm_format is not None
        logger.info(
            "loading %s on %s (%s) as LLM reranker format %s",
            self.model,
            self.device,
            self.dtype,
            self.llm_format.name,
        )
        return LLMReranker(
            self.model,
            self.llm_format,
            device=self.device,
            dtype=self.dtype,
            max_length=self.max_length,
            revision=self.revision,
            trust_remote_code=self.trust_remote_code,
        )

    def _load(self) -> Any:
        import sentence_transformers
        import torch
        from sentence_transformers import CrossEncoder

        version = version_tuple(sentence_transformers.__version__)
        if version < MIN_VERSION_FOR_LLM_RERANKERS and is_causal_lm(
            self.model, self.revision, self.trust_remote_code
        ):
            raise ConfigurationError(
                f"{self.model!r} is a causal-LM reranker, which needs sentence-transformers >= "
                f"{'.'.join(map(str, MIN_VERSION_FOR_LLM_RERANKERS))} (installed: "
                f"{sentence_transformers.__version__}); older versions silently attach a random "
                "classification head. Upgrade: pip install -U 'sentence-transformers>=5.4'"
            )
        model_kwargs = {"dtype": getattr(torch, self.dtype)}
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
            raise load_failed("local", self.model, exc, provider="local") from exc

    @staticmethod
    def _has_logit_score_head(cross_encoder: Any) -> bool:
        try:
            from sentence_transformers.cross_encoder.modules import LogitScore
        except ImportError:
            return False
        return any(isinstance(module, LogitScore) for module in cross_encoder)


__all__ = ["MIN_VERSION_FOR_LLM_RERANKERS", "CrossEncoderLoading"]
