"""In-process cross-encoders through sentence-transformers' ``CrossEncoder`` (CPU or GPU).

Covers BERT/MiniLM and XLM-R classifiers (``cross-encoder/ms-marco-MiniLM-L6-v2``,
``BAAI/bge-reranker-base``, ``BAAI/bge-reranker-v2-m3``): scores equal ``CrossEncoder.predict``
with the model's own activation; a two-logit classifier gives its positive-class probability.

Vision-language rerankers (``Qwen/Qwen3-VL-Reranker-2B``/``-8B``) take image documents too and are
scored by :class:`~rerankit.backends._local._vision.VisionReranker` as their authors' reference does
(docs/multimodal.md).

Causal-LM rerankers of a known family (``Qwen/Qwen3-Reranker-0.6B``, ``BAAI/bge-reranker-v2-gemma``,
``zeroentropy/zerank-2``, ``mixedbread-ai/mxbai-rerank-base-v2``; see ``_formats``) are scored by
:class:`~rerankit.backends._local._llm.LLMReranker` exactly as their model cards score them. Other
causal LMs keep their own sentence-transformers reranker setup (``modules.json`` or a pair-aware
chat template, sentence-transformers >= 5.4, ``LogitScore`` head) or are refused.
"""

import json
import logging
from collections.abc import Sequence
from typing import Any

from rerankit import _tracing
from rerankit._errors import ConfigurationError
from rerankit._options_base import takes_options
from rerankit.backends._local._batching import Request, token_budget_batches
from rerankit.backends._local._cross_encoder_loading import CrossEncoderLoading
from rerankit.backends._local._devices import device_lock
from rerankit.backends._local._in_process import InProcessScorer
from rerankit.backends._local._llm import LLMReranker
from rerankit.backends._local._option_models import CrossEncoderOptions, take_local_options
from rerankit.backends._local._vision_formats import recognise_vision
from rerankit.backends._local._windows import CrossEncoderWindows
from rerankit.backends._token_counts import counting_tokenizer

logger = logging.getLogger("rerankit")


@takes_options(CrossEncoderOptions)
class LocalCrossEncoder(CrossEncoderLoading, InProcessScorer, CrossEncoderWindows):
    """A sentence-transformers ``CrossEncoder`` run in this process (spec prefix ``local/``).

    Concurrent :meth:`ascore` calls (concurrent ``arerank``) on one event loop share forward passes
    (see :class:`~rerankit.backends._local._batching.ConcurrentBatcher`); each caller still gets
    exactly its own scores.

    Args:
        model: A hub id (``BAAI/bge-reranker-base``) or a local directory.
        **options: (one entry per option, made from its options model)

    Raises:
        ConfigurationError: An option breaks its rule (the message names each bad one, the rule
            and the value); the model does not load, or does not fit the options (an instruction
            for a classifier).

    >>> backend = LocalCrossEncoder("cross-encoder/ms-marco-MiniLM-L6-v2", device="cpu")  # doctest: +SKIP

    Offline, with a tiny random checkpoint (its scores mean nothing), and a bad option:

    >>> import tempfile
    >>> from rerankit.testing.models import build_bert_cross_encoder
    >>> path = build_bert_cross_encoder(f"{tempfile.mkdtemp()}/bert")
    >>> backend = LocalCrossEncoder(str(path), device="cpu", batch_size=8)
    >>> backend.runtime, backend.max_batch_tokens, len(backend.score("bm25", ["a ranking function", "a fruit"]).values)
    ('torch', 4096, 2)
    >>> LocalCrossEncoder("any/model", batch_size=0)
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: batch_size must be an integer of at least 1, got 0 (provider=local)
    """

    name = "local"
    #: Whether documents may hold images: only for a vision-language reranker (Qwen3-VL-Reranker).
    accepts_images = False

    def __init__(self, model: str, **options: Any) -> None:
        checked = CrossEncoderOptions.of_backend(options, backend=self.name)
        try:
            import sentence_transformers  # noqa: F401
            import torch  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "the local backend needs sentence-transformers and torch: pip install 'rerankit[local]'"
            ) from exc

        self.model = model
        take_local_options(self, checked)
        self.max_length = checked.max_length
        self.instruction = checked.instruction
        self.runtime = checked.chosen_runtime
        self.reuse_prefix = checked.reuse_prefix
        self._start_batching()
        self.vision_format = recognise_vision(model) if checked.llm_format is None else None
        if self.vision_format is not None:
            self._load_vision_reranker(self.vision_format)
            return
        self.llm_format = self._choose_llm_format(checked.llm_format)
        if self.llm_format is not None:
            self._load_llm_reranker()
        else:
            self._load_classifier()

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (Hugging Face ``PreTrainedTokenizer``)."""
        return self.cross_encoder.tokenizer

    def _truncation(self, query: str) -> dict[str, Any]:
        """Cut the document, never the query: ``only_second``, unless the query alone does not fit."""
        if self.is_llm_reranker:
            return {}  # chat-template models: sentence-transformers restores the prompt suffix itself
        tokenizer = counting_tokenizer(self.cross_encoder.tokenizer)
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

    def score_requests(self, requests: Sequence[Request]) -> list[list[float]]:
        """Score several ``(query, texts)`` requests in shared forward passes; one list per request.

        Requests whose queries take the same truncation share batches; a request scored alone runs
        exactly the forward passes :meth:`score` runs for it.
        """
        if self.llm is not None:
            pairs = [(query, text) for query, texts in requests for text in texts]
            # the vision scorer computes every pair whole (its images sit inside the prompt)
            reuse = {"reuse_prefix": self.reuse_prefix} if isinstance(self.llm, LLMReranker) else {}
            with device_lock(self.device):
                scores = self.llm.score_pairs(
                    pairs,
                    instruction=self.instruction,
                    batch_size=self.batch_size,
                    max_batch_tokens=self.max_batch_tokens,
                    **reuse,
                )
            results, start = [], 0
            for _, texts in requests:
                results.append(scores[start : start + len(texts)])
                start += len(texts)
            return results
        settings = [self._predict_kwargs(query) for query, _ in requests]
        groups: dict[str, list[int]] = {}
        for position, kwargs in enumerate(settings):
            groups.setdefault(json.dumps(kwargs, sort_keys=True), []).append(position)
        results: list[list[float]] = [[] for _ in requests]
        for positions in groups.values():
            pairs = [(requests[p][0], text) for p in positions for text in requests[p][1]]
            scores = self._predict(pairs, settings[positions[0]])
            start = 0
            for p in positions:
                end = start + len(requests[p][1])
                results[p] = scores[start:end]
                start = end
        return results

    def _predict_kwargs(self, query: str) -> dict[str, Any]:
        kwargs = self._truncation(query)
        if self.instruction is not None:
            kwargs["prompt"] = self.instruction
        return kwargs

    def _predict(self, pairs: list[tuple[str, str]], kwargs: dict[str, Any]) -> list[float]:
        import torch

        if not pairs:
            return []
        with device_lock(self.device):
            if self._logit_score is not None and self.reuse_prefix:
                reused = self._logit_score.score(
                    pairs,
                    kwargs,
                    device=self.device,
                    batch_size=self.batch_size,
                    max_batch_tokens=self.max_batch_tokens,
                )
                if reused is not None:
                    return reused
            if self.max_batch_tokens is None:
                scores = self._forward(pairs, self.batch_size, kwargs)
            else:
                order, parts = [], []
                lengths = self._pair_lengths(pairs)
                for batch in token_budget_batches(lengths, self.batch_size, self.max_batch_tokens):
                    order.extend(batch)
                    tokens = len(batch) * max(lengths[i] for i in batch)  # padded to the longest
                    parts.append(self._forward([pairs[i] for i in batch], len(batch), kwargs, tokens))
                merged = torch.cat(parts)
                scores = torch.empty_like(merged)
                scores[torch.tensor(order, device=merged.device)] = merged
        return scores.float().cpu().tolist()

    def _forward(
        self, pairs: list[tuple[str, str]], batch_size: int, kwargs: dict[str, Any], tokens: int | None = None
    ) -> Any:
        activation = self.cross_encoder.activation_fn
        with _tracing.forward_pass(len(pairs), tokens, self.device):
            scores = self.cross_encoder.predict(
                pairs,
                batch_size=batch_size,
                show_progress_bar=False,
                convert_to_tensor=True,
                # bf16/fp16 logits are upcast before the activation: in half precision a sigmoid
                # rounds nearby scores to the same value and invents ties
                activation_fn=lambda logits: activation(logits.float()),
                apply_softmax=self.num_labels == 2,
                **kwargs,
            )
        if scores.ndim == 2:  # two-logit classifier: probability of the relevant class
            scores = scores[:, -1]
        return scores

    def token_budget_batches(self, pairs: Sequence[tuple[str, str]]) -> list[list[int]]:
        """Pair positions grouped into forward passes, longest first.

        Each pass holds at most ``batch_size`` pairs and ``max_batch_tokens`` padded tokens (pairs
        times the longest pair's tokens), and at least one pair.
        """
        return token_budget_batches(self._pair_lengths(pairs), self.batch_size, self.max_batch_tokens)

    def _pair_lengths(self, pairs: Sequence[tuple[str, str]]) -> list[int]:
        """Tokens per pair after truncation; each distinct text is tokenized once."""
        if self.llm is not None:  # the prompt's own tokens count too
            return [len(ids) for ids in self.llm.encode_pairs(pairs, self.instruction)]
        tokenizer = counting_tokenizer(self.cross_encoder.tokenizer)
        limit = self.cross_encoder.max_seq_length or tokenizer.model_max_length
        texts = list(dict.fromkeys(text for pair in pairs for text in pair))
        encoded = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=limit)["input_ids"]
        counts = {text: len(ids) for text, ids in zip(texts, encoded, strict=True)}
        special = tokenizer.num_special_tokens_to_add(pair=True)
        return [min(limit, counts[query] + counts[text] + special) for query, text in pairs]

    def __repr__(self) -> str:
        return (
            f"LocalCrossEncoder(model={self.model!r}, device={self.device!r}, dtype={self.dtype!r}, "
            f"runtime={self.runtime!r}"
            + (f", llm_format={self.llm_format.name!r}" if self.llm_format else "")
            + (f", vision_format={self.vision_format.name!r}" if self.vision_format else "")
            + ")"
        )
