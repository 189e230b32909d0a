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
from rerankit._options_base import takes_options
from rerankit.backends._local._batching import (
    Request,
    token_budget_batches,
)
from rerankit.backends._local._cache import MODEL_CACHE
from rerankit.backends._local._devices import device_lock
from rerankit.backends._local._in_process import InProcessScorer
from rerankit.backends._local._option_models import Seq2SeqOptions, take_local_options
from rerankit.backends._local._seq2seq_formats import (
    MONOT5_TEMPLATE,
    SEQ2SEQ_FORMATS,
    Seq2SeqFormat,
    resolve_format,
)

logger = logging.getLogger("rerankit")


@takes_options(Seq2SeqOptions)
class LocalSeq2Seq(InProcessScorer):
    """A monoT5-style seq2seq reranker run in this process (spec prefix ``t5/``).

    The score is ``p(true)`` in (0, 1): 0.5 is the model's indifference point.

    Args:
        model: A hub id (``castorini/monot5-base-msmarco``, ``unicamp-dl/InRanker-base``,
            ``unicamp-dl/mt5-base-mmarco-v2``) or a local directory.
        **options: (one entry per option, made from its options model)

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

    def __init__(self, model: str, **options: Any) -> None:
        checked = Seq2SeqOptions.of_backend(options, backend=self.name)
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
            checked.family,
            template=checked.template,
            true_token=checked.true_token,
            false_token=checked.false_token,
            max_length=checked.max_length,
        )
        #: What the scores are: the family's p(true) (docs/scores.md).
        self.score_scale = self.format.score_scale
        take_local_options(self, checked)
        key = ("seq2seq", model, checked.revision, self.device, self.dtype, checked.trust_remote_code)
        self.seq2seq, self.tokenizer = MODEL_CACHE.get(key, self._load)
        self.false_id = self._token_id(self.format.false_token, "false_token")
        self.true_id = self._token_id(self.format.true_token, "true_token")
        self.decoder_start_id = self.seq2seq.config.decoder_start_token_id
        if self.decoder_start_id is None:
            raise ConfigurationError(f"{model!r} has no decoder_start_token_id in its config")
        self._start_batching()

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

    def __repr__(self) -> str:
        return (
            f"LocalSeq2Seq(model={self.model!r}, family={self.format.name!r}, device={self.device!r}, "
            f"dtype={self.dtype!r})"
        )


__all__ = ["MONOT5_TEMPLATE", "SEQ2SEQ_FORMATS", "LocalSeq2Seq", "Seq2SeqFormat", "resolve_format"]
