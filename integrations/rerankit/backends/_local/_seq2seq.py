"""Seq2seq rerankers (monoT5, InRanker, mT5-mMARCO): the probability of "true" after one decoder step.

A family is data (:class:`Seq2SeqFormat`): its input template, its false/true tokens and its
maximum input length, each citing its source. The computation is the one its authors' code runs
(castorini/pygaggle ``MonoT5``, unicamp-dl/InRanker ``rankers.py``, copied into AnswerDotAI
rerankers ``t5ranker.py``): encode ``Query: {query} Document: {document} Relevant:``, run the
decoder one step from ``decoder_start_token_id``, take the logits of the false and true tokens and
return ``softmax([false, true])[true]``.

One deliberate difference: the reference truncates the whole input at ``max_length``
(``truncation="longest_first"``), which cuts the ``Relevant:`` suffix off a long document and
scores a prompt the model never saw. Here the document is cut instead, so the suffix always
ends the input; inputs that fit are tokenized exactly as the reference does.
"""

from __future__ import annotations

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
from rerankit.backends._local._devices import device_lock, resolve_device, resolve_dtype
from rerankit.backends._local._option_models import Seq2SeqOptions
from rerankit.backends._local._seq2seq_formats import (
    MONOT5_TEMPLATE,
    SEQ2SEQ_FORMATS,
    Seq2SeqFormat,
    resolve_format,
)

logger = logging.getLogger("rerankit")


class LocalSeq2Seq:
    """A monoT5-style seq2seq reranker run in this process (spec prefix ``t5/``).

    The score is ``p(true)`` in (0, 1): 0.5 is the model's indifference point.

    Args:
        model: A hub id (``castorini/monot5-base-msmarco``, ``unicamp-dl/InRanker-base``,
            ``unicamp-dl/mt5-base-mmarco-v2``) or a local directory.
        family: ``"monot5"``, ``"inranker"`` or ``"mt5"`` (see :data:`SEQ2SEQ_FORMATS`). Defaults
            to None: the family the hub id names; a model no family claims needs it (or all of
            ``template``, ``true_token`` and ``false_token``).
        template: The encoder input, holding ``{query}`` once and then ``{document}`` once.
            Defaults to None (the family's, ``"Query: {query} Document: {document} Relevant:"``).
        true_token: The vocabulary piece for "relevant", a non-empty string. Defaults to None (the
            family's).
        false_token: The vocabulary piece for "not relevant", a non-empty string. Defaults to None
            (the family's).
        max_length: Encoder tokens per pair, at least 8; a longer document is cut, never the query
            nor the text after ``{document}``. Defaults to None (the family's 512).
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device string. Defaults to
            ``"auto"``.
        dtype: ``"auto"`` (bf16 on GPUs that support it, else fp16; fp32 on CPU) or
            ``"float32"``/``"float16"``/``"bfloat16"`` (or ``"fp32"``, ``"fp16"``, ``"half"``,
            ``"bf16"``). Defaults to ``"auto"``.
        batch_size: The most pairs per forward pass; at least 1. Defaults to 32.
        max_batch_tokens: The most padded tokens per forward pass, at least 1; ``"auto"``: 4096 on
            CPU, none elsewhere; ``None``: batches of ``batch_size`` only. Defaults to ``"auto"``.
        trust_remote_code: Allow the model repository's own code to run. Defaults to False.
        revision: A hub revision to pin. Defaults to None.

    Raises:
        ConfigurationError: An option breaks its rule (named, with the rule and the value); no
            family fits the model; the model does not load, is not an encoder-decoder, or lacks
            a score token in its vocabulary.

    >>> backend = LocalSeq2Seq("castorini/monot5-base-msmarco", device="cpu")  # doctest: +SKIP
    >>> backend.score("what is bm25", ["BM25 is a ranking function", "a fruit"]).values  # doctest: +SKIP

    Offline, with a tiny random checkpoint (its scores mean nothing):

    >>> import tempfile
    >>> from rerankit.testing.models import build_t5_reranker
    >>> path = build_t5_reranker(f"{tempfile.mkdtemp()}/t5")
    >>> backend = LocalSeq2Seq(str(path), family="monot5", device="cpu")
    >>> [0 < score < 1 for score in backend.score("bm25", ["a ranking function", "a fruit"]).values]
    [True, True]
    """

    name = "t5"
    max_documents_per_request: int | None = None
    max_concurrency = 1

    def __init__(
        self,
        model: str,
        *,
        family: str | None = Seq2SeqOptions.default("family"),
        template: str | None = Seq2SeqOptions.default("template"),
        true_token: str | None = Seq2SeqOptions.default("true_token"),
        false_token: str | None = Seq2SeqOptions.default("false_token"),
        max_length: int | None = Seq2SeqOptions.default("max_length"),
        device: str = Seq2SeqOptions.default("device"),
        dtype: str = Seq2SeqOptions.default("dtype"),
        batch_size: int = Seq2SeqOptions.default("batch_size"),
        max_batch_tokens: int | str | None = Seq2SeqOptions.default("max_batch_tokens"),
        trust_remote_code: bool = Seq2SeqOptions.default("trust_remote_code"),
        revision: str | None = Seq2SeqOptions.default("revision"),
    ) -> None:
        Seq2SeqOptions.from_arguments(locals(), provider=self.name)
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "the t5 backend needs transformers and torch: pip install 'rerankit[local]'"
            ) from exc
        self.model = model
        self.format = resolve_format(
            model,
            family,
            template=template,
            true_token=true_token,
            false_token=false_token,
            max_length=max_length,
        )
        #: What the scores are: the family's p(true) (docs/scores.md).
        self.score_scale = self.format.score_scale
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.max_batch_tokens = resolve_max_batch_tokens(max_batch_tokens, self.device)
        self.trust_remote_code = trust_remote_code
        self.revision = revision
        key = ("seq2seq", model, revision, self.device, self.dtype, trust_remote_code)
        self.seq2seq, self.tokenizer = MODEL_CACHE.get(key, self._load)
        self.false_id = self._token_id(self.format.false_token, "false_token")
        self.true_id = self._token_id(self.format.true_token, "true_token")
        self.decoder_start_id = self.seq2seq.config.decoder_start_token_id
        if self.decoder_start_id is None:
            raise ConfigurationError(f"{model!r} has no decoder_start_token_id in its config")
        self._batchers = LoopBatchers(lambda requests: self.score_requests(requests))

    def _load(self) -> tuple[Any, Any]:
        import torch
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

        options = {"revision": self.revision, "trust_remote_code": self.trust_remote_code}
        try:
            config = AutoConfig.from_pretrained(self.model, **options)
            if not getattr(config, "is_encoder_decoder", False):
                raise ConfigurationError(
                    f"{self.model!r} is not an encoder-decoder model (architectures "
                    f"{getattr(config, 'architectures', None)}); the t5 backend scores seq2seq rerankers "
                    "such as castorini/monot5-base-msmarco",
                    provider=self.name,
                )
            logger.info("loading %s on %s (%s)", self.model, self.device, self.dtype)
            seq2seq = AutoModelForSeq2SeqLM.from_pretrained(
                self.model, dtype=getattr(torch, self.dtype), **options
            )
            tokenizer = AutoTokenizer.from_pretrained(self.model, **options)
        except (OSError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(
                f"could not load seq2seq model {self.model!r}: {exc}", provider=self.name
            ) from exc
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigurationError(
                f"{self.model!r} has no fast tokenizer; the t5 backend needs its offsets to cut "
                "documents without cutting the prompt",
                provider=self.name,
            )
        return seq2seq.to(self.device).eval(), tokenizer

    def _token_id(self, token: str, option: str) -> int:
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        if token_id is None or (
            token_id == self.tokenizer.unk_token_id and token != self.tokenizer.unk_token
        ):
            raise ConfigurationError(
                f"{option} {token!r} is not a piece of {self.model!r}'s vocabulary; "
                f"pass the piece its authors score (monoT5 '▁true'/'▁false', mT5 '▁yes'/'▁no')",
                provider=self.name,
            )
        return int(token_id)

    # -- inputs ---------------------------------------------------------------------------------

    def encoder_input(self, query: str, document: str) -> list[int]:
        """The encoder token ids of one pair: the template tokenized as the reference does, with
        the document (and only if it alone cannot make room, the query) cut to ``max_length``."""
        limit = self.format.max_length
        ids = self._ids(query, document)
        if len(ids) <= limit:
            return ids
        fitted_query = query
        if len(self._ids(query, "")) > limit - 1:  # the query alone leaves no room for a document
            logger.warning("query does not fit max_length %d with any document; cutting the query", limit)
            fitted_query = self._cut(query, lambda text: self._ids(text, ""), limit - 1)
        document = self._cut(document, lambda text: self._ids(fitted_query, text), limit)
        return self._ids(fitted_query, document)

    def _ids(self, query: str, document: str) -> list[int]:
        text = self.format.template.format(query=query, document=document)
        return self.tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]

    def _cut(self, text: str, measure: Any, limit: int) -> str:
        """The longest prefix of ``text``, cut at a token boundary, whose ``measure`` fits ``limit``."""
        offsets = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
            "offset_mapping"
        ]
        keep = len(offsets) - (len(measure(text)) - limit)
        while keep > 0:
            cut = text[: offsets[keep - 1][1]]
            over = len(measure(cut)) - limit
            if over <= 0:
                return cut
            keep -= over
        return ""

    # -- scoring --------------------------------------------------------------------------------

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        """Score each text against ``query``: ``p(true)`` after one decoder step, in input order."""
        return Scores(values=self.score_requests([(query, texts)])[0])

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        """:meth:`score` in a worker thread; concurrent calls share forward passes."""
        return Scores(values=await self._batchers.current().submit(query, texts))

    def score_requests(self, requests: Sequence[Request]) -> list[list[float]]:
        """Score several ``(query, texts)`` requests in shared forward passes; one list per request."""
        inputs = [self.encoder_input(query, text) for query, texts in requests for text in texts]
        scores = self._predict(inputs)
        results, start = [], 0
        for _, texts in requests:
            results.append(scores[start : start + len(texts)])
            start += len(texts)
        return results

    def _predict(self, inputs: list[list[int]]) -> list[float]:
        import torch

        if not inputs:
            return []
        scores = [0.0] * len(inputs)
        batches = token_budget_batches([len(ids) for ids in inputs], self.batch_size, self.max_batch_tokens)
        with device_lock(self.device), torch.inference_mode():
            for batch in batches:
                with _tracing.forward_pass(
                    len(batch), len(batch) * max(len(inputs[i]) for i in batch), self.device
                ):
                    padded = self.tokenizer.pad(
                        {"input_ids": [inputs[i] for i in batch]}, padding=True, return_tensors="pt"
                    ).to(self.device)
                    start = torch.full(
                        (len(batch), 1), self.decoder_start_id, dtype=torch.long, device=self.device
                    )
                    logits = self.seq2seq(
                        input_ids=padded["input_ids"],
                        attention_mask=padded["attention_mask"],
                        decoder_input_ids=start,
                    ).logits[:, -1, :]
                    pair = logits[:, [self.false_id, self.true_id]].float()
                    probabilities = torch.log_softmax(pair, dim=-1)[:, 1].exp().cpu().tolist()
                    for position, value in zip(batch, probabilities, strict=True):
                        scores[position] = value
        return scores

    def close(self) -> None:
        """Nothing to release: the model stays in the process-wide cache."""

    async def aclose(self) -> None:
        """Nothing to release (see :meth:`close`)."""

    def __repr__(self) -> str:
        return (
            f"LocalSeq2Seq(model={self.model!r}, family={self.format.name!r}, device={self.device!r}, "
            f"dtype={self.dtype!r})"
        )


__all__ = ["MONOT5_TEMPLATE", "SEQ2SEQ_FORMATS", "LocalSeq2Seq", "Seq2SeqFormat", "resolve_format"]
