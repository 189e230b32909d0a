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
from rerankit._types import Scores
from rerankit.backends._local._batching import (
    LoopBatchers,
    Request,
    resolve_max_batch_tokens,
    token_budget_batches,
)
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._devices import (
    device_lock,
    resolve_device,
    resolve_dtype,
    version_tuple,
)
from rerankit.backends._local._formats import LLMFormat
from rerankit.backends._local._llm import LLMReranker
from rerankit.backends._local._logit_score import LogitScorePairs
from rerankit.backends._local._option_models import CrossEncoderOptions, load_failed
from rerankit.backends._local._routing import choose_llm_format, is_causal_lm
from rerankit.backends._local._vision import VisionReranker
from rerankit.backends._local._vision_formats import VisionFormat, recognise_vision
from rerankit.backends._local._windows import CrossEncoderWindows
from rerankit.backends._score_scales import cross_encoder_scale
from rerankit.backends._token_counts import counting_tokenizer

logger = logging.getLogger("rerankit")

#: The first sentence-transformers release that loads causal-LM rerankers with a LogitScore head.
MIN_VERSION_FOR_LLM_RERANKERS = (5, 4)


class LocalCrossEncoder(CrossEncoderWindows):
    """A sentence-transformers ``CrossEncoder`` run in this process (spec prefix ``local/``).

    Concurrent :meth:`ascore` calls (concurrent ``arerank``) on one event loop share forward passes
    (see :class:`~rerankit.backends._local._batching.ConcurrentBatcher`); each caller still gets
    exactly its own scores.

    Args:
        model: A hub id (``BAAI/bge-reranker-base``) or a local directory.
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device string (``"cpu"``,
            ``"cuda:1"``). Defaults to ``"auto"``.
        dtype: ``"auto"`` (bf16 on GPUs that support it, else fp16; fp32 on CPU), or
            ``"float32"``/``"float16"``/``"bfloat16"`` (``"fp32"``, ``"fp16"``, ``"half"``,
            ``"bf16"`` also). Defaults to ``"auto"``.
        batch_size: The most pairs per forward pass; at least 1. Defaults to 32.
        max_batch_tokens: The most padded tokens per forward pass (pairs x longest pair): pairs are
            sorted by token length and cut by this budget as well as by ``batch_size``, as TEI does,
            so long pairs go in small batches and short ones are not padded to them. ``"auto"``:
            4096 on CPU, where it saves about a quarter of the compute on mixed-length documents;
            ``None`` elsewhere. ``None``: batches of ``batch_size`` pairs in sentence-transformers'
            own order, scores bit-identical to ``CrossEncoder.predict`` (with a budget they agree to
            float rounding, about 1e-7). On GPU, try a large ``batch_size`` (256) with
            ``max_batch_tokens=16384``. Defaults to ``"auto"``.
        max_length: Tokens per pair, at least 8; the document is truncated, never the query (nor an
            LLM reranker's prompt suffix). Defaults to None (the model's own limit).
        instruction: The task instruction of an LLM reranker, a non-blank string. Refused for
            classifiers and for families that take none (zerank). Defaults to None (the family's
            default, as Qwen3-Reranker's "Given a web search query, ...").
        trust_remote_code: Allow the model repository's own code to run. Defaults to False.
        revision: A hub revision (branch, tag or commit) to pin. Defaults to None.
        runtime: The runtime: ``"torch"``. ONNX Runtime and OpenVINO are the torch-free ``onnx/``
            backend's (``Reranker("onnx/<model>")``, ``pip install "rerankit[onnx]"``); naming
            them here is an error that says so. Defaults to None: ``backend``'s value, else
            ``"torch"``.
        backend: The same option under sentence-transformers' name (``CrossEncoder(backend=...)``),
            kept as an alias of ``runtime``; giving both with different values is an error.
            Defaults to None.
        llm_format: The LLM reranker format of a causal LM: a known format's name
            (``"qwen3-reranker"``, ``"bge-reranker-v2-gemma"``, ``"zerank"``, ``"mxbai-rerank-v2"``)
            or a custom :class:`~rerankit.backends.LLMFormat`. Defaults to None: recognised from
            the model id (the hub id, or a directory named like the hub repository); a causal LM of
            no known family keeps its own sentence-transformers reranker setup (``modules.json``
            or a pair-aware chat template), and without one is refused.
        reuse_prefix: LLM rerankers: compute the prompt that a query's documents share (the
            system prompt, instruction and query before each document) once per query and let
            every document attend to its keys and values, instead of recomputing it per pair; the
            pairs of concurrent calls and ``rerank_batch`` items with the same query share it
            too. Applies where the documents share at least 8 prompt tokens on a plain
            full-attention decoder (Qwen2, Qwen3, Gemma); elsewhere, for classifiers and for
            the vision scorer, every pair is computed whole. False: every pair computed whole.
            Scores agree either way to float rounding (about 1e-6 in fp32). Defaults to True.

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
    max_documents_per_request: int | None = None
    max_concurrency = 1
    #: Whether documents may hold images: only for a vision-language reranker (Qwen3-VL-Reranker).
    accepts_images = False

    def __init__(
        self,
        model: str,
        *,
        device: str = CrossEncoderOptions.default("device"),
        dtype: str = CrossEncoderOptions.default("dtype"),
        batch_size: int = CrossEncoderOptions.default("batch_size"),
        max_batch_tokens: int | str | None = CrossEncoderOptions.default("max_batch_tokens"),
        max_length: int | None = CrossEncoderOptions.default("max_length"),
        instruction: str | None = CrossEncoderOptions.default("instruction"),
        trust_remote_code: bool = CrossEncoderOptions.default("trust_remote_code"),
        revision: str | None = CrossEncoderOptions.default("revision"),
        runtime: str | None = CrossEncoderOptions.default("runtime"),
        backend: str | None = CrossEncoderOptions.default("backend"),
        llm_format: str | LLMFormat | None = CrossEncoderOptions.default("llm_format"),  # noqa: B008 (None)
        reuse_prefix: bool = CrossEncoderOptions.default("reuse_prefix"),
    ) -> None:
        chosen_runtime = CrossEncoderOptions.from_arguments(locals(), provider=self.name).chosen_runtime
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
        self.max_batch_tokens = resolve_max_batch_tokens(max_batch_tokens, self.device)
        self.max_length = max_length
        self.instruction = instruction
        self.trust_remote_code = trust_remote_code
        self.revision = revision
        self.runtime = chosen_runtime
        self.reuse_prefix = reuse_prefix
        self._batchers = LoopBatchers(lambda requests: self.score_requests(requests))
        self.vision_format = recognise_vision(model) if llm_format is None else None
        if self.vision_format is not None:
            self._load_vision_reranker(self.vision_format)
            return
        self.llm_format = self._choose_llm_format(llm_format)
        if self.llm_format is not None:
            self._check_llm_options()
            key = (
                "llm",
                model,
                revision,
                self.device,
                self.dtype,
                self.llm_format,
                max_length,
                trust_remote_code,
            )
            self.llm: LLMReranker | None = MODEL_CACHE.get(key, self._load_llm)
            #: the loaded scorer: a sentence-transformers ``CrossEncoder`` or an ``LLMReranker``
            #: (both carry ``.tokenizer``)
            self.cross_encoder: Any = self.llm
            self.is_llm_reranker = True
            self.num_labels = 1
            #: What the scores are (docs/scores.md): the format's, or the model's activation's.
            self.score_scale = self.llm_format.score_scale
            if self.instruction is None:
                self.instruction = self.llm_format.default_instruction
            return
        self.llm = None
        key = (model, revision, self.device, self.dtype, chosen_runtime, max_length, trust_remote_code)
        self.cross_encoder = MODEL_CACHE.get(key, self._load)
        self.is_llm_reranker = self._has_logit_score_head(self.cross_encoder)
        #: the LogitScore pipeline taken apart for prefix reuse (None: predict() scores every pair)
        torch_llm = self.is_llm_reranker and chosen_runtime == "torch"
        self._logit_score = LogitScorePairs.of(self.cross_encoder) if torch_llm else None
        self.num_labels = self.cross_encoder.num_labels
        self.score_scale = cross_encoder_scale(self.cross_encoder.activation_fn, self.num_labels)
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

    def _load_vision_reranker(self, fmt: VisionFormat) -> None:
        """Score with a vision-language reranker (Qwen3-VL-Reranker): text and image documents."""
        if self.runtime != "torch":
            raise ConfigurationError(
                f"vision reranker format {fmt.name!r} runs on backend='torch' only; got backend={self.runtime!r}"
            )
        self.llm_format = None
        key = ("vision", self.model, self.revision, self.device, self.dtype, fmt, self.max_length)
        self.llm = MODEL_CACHE.get(
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
        self.cross_encoder = self.llm
        self.is_llm_reranker = True
        self.num_labels = 1
        self.accepts_images = True
        if self.instruction is None:
            self.instruction = fmt.default_instruction

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (Hugging Face ``PreTrainedTokenizer``)."""
        return self.cross_encoder.tokenizer

    def _choose_llm_format(self, llm_format: str | LLMFormat | None) -> LLMFormat | None:
        return choose_llm_format(
            self.model, llm_format, revision=self.revision, trust_remote_code=self.trust_remote_code
        )

    def _check_llm_options(self) -> None:
        fmt = self.llm_format
        assert fmt is not None
        if self.instruction is not None and not fmt.takes_instruction:
            raise ConfigurationError(f"LLM reranker format {fmt.name!r} takes no instruction ({fmt.source})")

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

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Score each text against ``query`` with one forward pass per batch and one transfer to host."""
        return Scores(values=self.score_requests([(query, texts)])[0])

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """:meth:`score` in a worker thread, sharing forward passes with concurrent calls.

        The event loop never blocks on a forward pass; calls made while the model is busy are merged
        into the next pass (see :class:`ConcurrentBatcher`).
        """
        return Scores(values=await self._batchers.current().submit(query, texts))

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

    def close(self) -> None:
        """Nothing to release: the model stays in the process-wide cache for the next caller."""

    async def aclose(self) -> None:
        """Nothing to release (see :meth:`close`)."""

    def __repr__(self) -> str:
        return (
            f"LocalCrossEncoder(model={self.model!r}, device={self.device!r}, dtype={self.dtype!r}, "
            f"runtime={self.runtime!r}"
            + (f", llm_format={self.llm_format.name!r}" if self.llm_format else "")
            + (f", vision_format={self.vision_format.name!r}" if self.vision_format else "")
            + ")"
        )
