"""Causal-LM rerankers scored exactly as their model cards score them.

An :class:`LLMReranker` holds a causal LM, its tokenizer and one :class:`LLMFormat`. Each pair
becomes the token ids of the family's reference code (static parts tokenized once, the document
tokenized per pair and cut, never the instruction, the query framing or the suffix); pairs go into
forward passes cut by ``batch_size`` and a token budget, the prompt a query's pairs share computed
once for all of them (``_prefix_reuse``); the score is read from fp32 logits at the last position,
computed for the score tokens only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from rerankit._errors import ConfigurationError, InvalidInputError
from rerankit.backends._local._formats import LLMFormat
from rerankit.backends._local._prefix_reuse import score_token_ids

_PLACEHOLDER = re.compile(r"\{(instruction|query|document)\}")
#: Stands in for the document when a chat template is split around it.
_DOCUMENT_SENTINEL = "\ue000rerankit-document\ue001"


def _dtype_keyword() -> str:
    """``from_pretrained``'s dtype keyword: ``dtype`` since transformers 4.56, ``torch_dtype`` before."""
    import transformers

    major, minor = (
        int("".join(c for c in part if c.isdigit()) or 0) for part in transformers.__version__.split(".")[:2]
    )
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def fill(template: str, **values: str) -> str:
    """``template`` with ``{instruction}``, ``{query}`` and ``{document}`` replaced in one pass.

    Braces inside the values are kept as they are (a query may contain ``{document}``).

    >>> fill("<Query>: {query}", query="{x}")
    '<Query>: {x}'
    """
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template)


class LLMReranker:
    """A causal LM with its family's prompt and score head.

    Args:
        model: a hub id or a local directory.
        llm_format: the family's recipe.
        device: a torch device string.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``: the weights' dtype. The score
            tokens' logits are always computed in fp32.
        max_length: tokens per pair, prompt included. None: the format's default.
        revision: a hub revision to pin.
        trust_remote_code: allow the repository's own code to run.

    Raises:
        ConfigurationError: the model cannot be loaded, or its tokenizer lacks a score token.
    """

    def __init__(
        self,
        model: str,
        llm_format: LLMFormat,
        *,
        device: str,
        dtype: str,
        max_length: int | None,
        revision: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.format = llm_format
        self.device = device
        self.max_length = max_length or llm_format.default_max_length
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                model, revision=revision, trust_remote_code=trust_remote_code
            )
            self.model = AutoModelForCausalLM.from_pretrained(
                model,
                revision=revision,
                trust_remote_code=trust_remote_code,
                **{_dtype_keyword(): getattr(torch, dtype)},
            )
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"could not load local model {model!r}: {exc}", provider="local"
            ) from exc
        self.model.to(device).eval()
        self.true_id = self._token_id(llm_format.true_token)
        self.false_id = self._token_id(llm_format.false_token) if llm_format.false_token else None
        self.pad_id = next(
            (i for i in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id) if i is not None), 0
        )
        self._static: dict[str | None, dict[str, list[int]]] = {}
        self._static_lock = threading.Lock()

    def _token_id(self, token: str) -> int:
        if self.format.token_lookup == "vocab":
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if token_id is None or token_id == self.tokenizer.unk_token_id:
                token_id = None
        else:
            ids = self.tokenizer(token, add_special_tokens=False)["input_ids"]
            token_id = ids[0] if ids else None
        if token_id is None:
            raise ConfigurationError(
                f"the tokenizer has no token {token!r}, which format {self.format.name!r} reads its score from"
            )
        return int(token_id)

    def parameters(self) -> Any:
        """The model's parameters (as ``CrossEncoder.parameters()``)."""
        return self.model.parameters()

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _static_ids(self, instruction: str | None) -> dict[str, list[int]]:
        """The ids of the parts that do not depend on the pair, tokenized once per instruction."""
        cached = self._static.get(instruction)
        if cached is not None:
            return cached
        fmt = self.format
        parts = {
            "prefix": self._encode(fmt.prefix) if fmt.prefix else [],
            "suffix": self._encode(fmt.suffix) if fmt.suffix else [],
            "separator": self._encode(fmt.separator) if fmt.layout == "query_passage" else [],
            "task_prompt": self._encode(fill(fmt.task_prompt, instruction=instruction or ""))
            if fmt.task_prompt
            else [],
        }
        with self._static_lock:
            self._static[instruction] = parts
        return parts

    def encode_pair(self, query: str, document: str, instruction: str | None) -> list[int]:
        """The token ids of one pair, as the family's reference builds them (see :meth:`encode_pairs`)."""
        return self.encode_pairs([(query, document)], instruction)[0]

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], instruction: str | None) -> list[list[int]]:
        """The token ids of each pair, as the family's reference builds them.

        Texts are tokenized in one batched call per part; the query's framing once per query.

        Raises:
            InvalidInputError: a query with its framing leaves no room for the document.
        """
        if not pairs:
            return []
        layout = self.format.layout
        if layout == "segments":
            return self._encode_segments(pairs, instruction)
        if layout == "query_passage":
            return self._encode_query_passage(pairs, instruction)
        return self._encode_chat(pairs)

    def _encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def _too_long(self, used: int, what: str) -> InvalidInputError:
        return InvalidInputError(
            f"the query takes {used} tokens with {what}; max_length {self.max_length} leaves no room for "
            f"the document (format {self.format.name!r}): shorten the query or raise max_length"
        )

    def _encode_segments(self, pairs: Sequence[tuple[str, str]], instruction: str | None) -> list[list[int]]:
        static = self._static_ids(instruction)
        fixed = len(static["prefix"]) + len(static["suffix"])
        budget = self.max_length - fixed
        queries = list(dict.fromkeys(query for query, _ in pairs))
        body = self.format.body
        framings = self._encode_many(
            [fill(body, instruction=instruction or "", query=q, document="") for q in queries]
        )
        for framing in framings:  # the body's end is cut: the document must be what is cut
            if len(framing) >= budget:
                raise self._too_long(len(framing) + fixed, "the prompt")
        bodies = self._encode_many(
            [fill(body, instruction=instruction or "", query=q, document=d) for q, d in pairs]
        )
        return [static["prefix"] + ids[:budget] + static["suffix"] for ids in bodies]

    def _encode_query_passage(
        self, pairs: Sequence[tuple[str, str]], instruction: str | None
    ) -> list[list[int]]:
        fmt = self.format
        static = self._static_ids(instruction)
        tokenizer = self.tokenizer
        queries = list(dict.fromkeys(query for query, _ in pairs))
        if instruction is not None and fmt.instructed_query_template is not None:
            query_texts = [
                fill(fmt.instructed_query_template, instruction=instruction, query=q) for q in queries
            ]
        else:
            query_texts = [fill(fmt.query_template, query=q) for q in queries]
        query_ids = dict(zip(queries, self._encode_many(query_texts), strict=True))
        query_limit = self.max_length * 3 // 4  # both references reserve a quarter for the passage
        for ids in query_ids.values():
            if len(ids) > query_limit:
                raise InvalidInputError(
                    f"the query takes {len(ids)} tokens; format {fmt.name!r} allows at most 3/4 of "
                    f"max_length {self.max_length} ({query_limit}) for it: shorten the query or raise max_length"
                )
        bos = tokenizer.bos_token_id
        start = [bos] if fmt.add_bos and bos is not None and bos != tokenizer.pad_token_id else []
        pair_limit = self.max_length
        if fmt.pair_limit_includes_prompt:
            pair_limit += len(static["separator"]) + len(static["task_prompt"])
        closing = static["separator"] + static["task_prompt"] + static["suffix"]
        documents = self._encode_many([fill(fmt.document_template, document=d) for _, d in pairs])
        encoded = []
        for (query, _), document_ids in zip(pairs, documents, strict=True):
            first = start + query_ids[query]
            document_limit = self.max_length
            if not fmt.pair_limit_includes_prompt:  # mxbai: never past the model's own limit
                document_limit = min(tokenizer.model_max_length - len(query_ids[query]), self.max_length)
            second = static["separator"] + document_ids[:document_limit]
            # prepare_for_model(first, second, truncation="only_second", max_length=pair_limit)
            second = second[: max(0, pair_limit - len(first))]
            encoded.append(static["prefix"] + first + second + closing)
        return encoded

    def _encode_chat(self, pairs: Sequence[tuple[str, str]]) -> list[list[int]]:
        fmt = self.format
        cut = []
        for query, document in pairs:
            if fmt.max_query_chars is not None:
                query = query[: fmt.max_query_chars]
            if fmt.max_document_chars is not None:
                document = document[: fmt.max_document_chars]
            if fmt.strip_texts:
                query, document = query.strip(), document.strip()
            cut.append((query, document))
        encoded = self._encode_many([self._render_chat(q, d) for q, d in cut])
        for position, (query, document) in enumerate(cut):
            if len(encoded[position]) <= self.max_length:
                continue
            # too long: the document's tokens are cut between the template's two sides
            before, _, after = self._render_chat(query, _DOCUMENT_SENTINEL).partition(_DOCUMENT_SENTINEL)
            head, tail, document_ids = self._encode_many([before, after, document])
            budget = self.max_length - len(head) - len(tail)
            if budget < 1:
                raise self._too_long(len(head) + len(tail), "the chat template")
            encoded[position] = head + document_ids[:budget] + tail
        return encoded

    def _render_chat(self, query: str, document: str) -> str:
        messages = [{"role": "system", "content": query}, {"role": "user", "content": document}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def score_pairs(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        instruction: str | None,
        batch_size: int,
        max_batch_tokens: int | None,
        reuse_prefix: bool = True,
    ) -> list[float]:
        """One score per pair, in order: forward passes of at most ``batch_size`` pairs and
        ``max_batch_tokens`` padded tokens, longest first.

        With ``reuse_prefix``, the pairs of one query compute their shared prompt once
        (:mod:`~rerankit.backends._local._prefix_reuse`); the same pair twice is computed once.
        """
        if not pairs:
            return []
        distinct = list(dict.fromkeys(pairs))
        values = score_token_ids(
            self.model,
            [query for query, _ in distinct],
            self.encode_pairs(distinct, instruction),
            read_scores=self.read_scores,
            pad_id=self.pad_id,
            device=self.device,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            reuse_prefix=reuse_prefix,
        )
        by_pair = dict(zip(distinct, values, strict=True))
        return [by_pair[pair] for pair in pairs]

    def read_scores(self, hidden: Any) -> list[float]:
        """The scores of last-position hidden states (batch x hidden): fp32 logits, then the head."""
        import torch

        with torch.inference_mode():
            return self._head(self._score_token_logits(hidden)).cpu().tolist()

    def _score_token_logits(self, hidden: Any) -> Any:
        rows = [self.true_id] + ([self.false_id] if self.false_id is not None else [])
        return score_token_logits(self.model, hidden, rows)

    def _head(self, logits: Any) -> Any:
        import torch

        head = self.format.score_head
        if head == "softmax_true_false":
            return torch.log_softmax(logits[:, [1, 0]], dim=1)[:, 1].exp()
        if head == "sigmoid_true":
            return torch.sigmoid(logits[:, 0] / self.format.temperature)
        return torch.sigmoid(logits[:, 0] - logits[:, 1])


def score_token_logits(model: Any, hidden: Any, token_ids: Sequence[int]) -> Any:
    """fp32 logits of ``token_ids`` only (batch x tokens): those rows of the output embedding, in
    fp32, over ``hidden`` (batch x hidden), with the model's final logit soft-capping if it has one."""
    import torch

    head = model.get_output_embeddings()
    index = torch.tensor(list(token_ids), device=head.weight.device)
    weight = head.weight.index_select(0, index).float()
    bias = head.bias.index_select(0, index).float() if getattr(head, "bias", None) is not None else None
    logits = torch.nn.functional.linear(hidden.float(), weight, bias)
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def pair_aware_chat_template(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template renders sentence-transformers' query/document roles."""
    if not getattr(tokenizer, "chat_template", None):
        return False
    query, document = "\ue000rerankit-query\ue001", _DOCUMENT_SENTINEL
    messages = [{"role": "query", "content": query}, {"role": "document", "content": document}]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # a template that raises on unknown roles is not pair-aware
        return False
    return isinstance(text, str) and query in text and document in text


__all__ = ["LLMReranker", "fill", "pair_aware_chat_template", "score_token_logits"]
