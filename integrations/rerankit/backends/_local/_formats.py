"""LLM reranker formats as data: each family's prompt, score head, calibration and defaults.

Every entry is its authors' own recipe, cited beside it; :mod:`rerankit.backends._local._llm`
turns an entry into token ids and scores. A format is recognised from the model id (the hub id or
a directory named like the hub repository) or forced with the ``llm_format`` option, which also
takes a custom :class:`LLMFormat`.

Three prompt layouts cover the families:

- ``"segments"``: ``prefix ids + body ids + suffix ids``, each part tokenized on its own and the
  body (instruction, query and document, document last) cut at its end to fit (Qwen3-Reranker).
- ``"query_passage"``: ``[bos] + query ids`` then ``sep + passage ids`` cut ``only_second``, then
  the task prompt, the whole between an optional chat prefix and suffix (FlagEmbedding's
  decoder-only reranker, mxbai-rerank v2).
- ``"chat"``: the tokenizer's own chat template over ``system = query``, ``user = document``, with
  the generation prompt (zerank).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from rerankit._errors import ConfigurationError
from rerankit._score_kinds import ScoreKind, ScoreScale

#: How a score is read from the last position's fp32 logits.
SCORE_HEADS = ("softmax_true_false", "sigmoid_true", "sigmoid_true_minus_false")
#: What each head's score is (docs/scores.md): its kind and what it computes. Each is its family's
#: own 0-1 form (Qwen3's softmax, FlagEmbedding's normalize=True, zerank's sigmoid(logit / 5),
#: mxbai's sigmoid of the difference), so it is a probability and normalize=True keeps it.
HEAD_SCORES: dict[str, tuple[ScoreKind, str]] = {
    "softmax_true_false": ("probability", "softmax([logit {false}, logit {true}])[{true}] at the last token"),
    "sigmoid_true": ("probability", "sigmoid(logit {true}{temperature}) at the last token"),
    "sigmoid_true_minus_false": ("probability", "sigmoid(logit {true} - logit {false}) at the last token"),
}
LAYOUTS = ("segments", "query_passage", "chat")


@dataclass(frozen=True)
class LLMFormat:
    """One LLM reranker family's recipe: how a pair becomes token ids and logits become a score.

    Args:
        name: the format's name, as ``llm_format=`` takes it (``"qwen3-reranker"``).
        layout: ``"segments"``, ``"query_passage"`` or ``"chat"`` (see the module docstring).
        true_token: the token whose logit means "relevant" (``"yes"``).
        score_head: ``"softmax_true_false"``: p(true) = softmax([false, true])[true];
            ``"sigmoid_true"``: sigmoid(logit(true) / temperature);
            ``"sigmoid_true_minus_false"``: sigmoid(logit(true) - logit(false)).
        false_token: the "irrelevant" token, for the heads that use one. Defaults to None.
        temperature: divides the true logit in ``"sigmoid_true"``. Defaults to 1.0.
        token_lookup: ``"vocab"``: the token's vocabulary id (``convert_tokens_to_ids``);
            ``"encode"``: the first id of tokenizing the text without special tokens. Defaults
            to ``"encode"``.
        prefix: text before the body (``segments``) or before the query (``query_passage``).
        body: ``segments``: the template of the truncatable part, with ``{instruction}``,
            ``{query}`` and ``{document}``, the document last.
        suffix: text after everything; never truncated.
        query_template: ``query_passage``: the query part, with ``{query}``.
        instructed_query_template: ``query_passage``: the query part when an instruction is
            given, with ``{instruction}`` and ``{query}``; None: the instruction replaces
            ``task_prompt`` instead.
        document_template: ``query_passage``: the passage part, with ``{document}``.
        separator: ``query_passage``: the text between query, passage and task prompt.
        task_prompt: ``query_passage``: the closing question, after the passage; may hold
            ``{instruction}``.
        add_bos: ``query_passage``: start with the tokenizer's bos token (when it has one
            that is not its pad token).
        pair_limit_includes_prompt: ``query_passage``: the query + passage budget is
            ``max_length + len(separator) + len(task_prompt)`` (FlagEmbedding) rather than
            ``max_length`` (mxbai).
        max_query_chars: ``chat``: the query is cut to this many characters first.
        max_document_chars: ``chat``: the document is cut to this many characters first.
        strip_texts: ``chat``: strip whitespace around query and document, as the reference does.
        default_instruction: the instruction used when none is given; None when the family
            takes none or has no default.
        takes_instruction: whether an ``instruction`` option applies at all.
        default_max_length: tokens per pair when ``max_length`` is not given.
        repositories: hub repository names (without the organisation) this format is recognised by.
        source: where the recipe comes from.
    """

    name: str
    layout: str
    true_token: str
    score_head: str
    false_token: str | None = None
    temperature: float = 1.0
    token_lookup: str = "encode"
    prefix: str = ""
    body: str = ""
    suffix: str = ""
    query_template: str = "{query}"
    instructed_query_template: str | None = None
    document_template: str = "{document}"
    separator: str = "\n"
    task_prompt: str = ""
    add_bos: bool = False
    pair_limit_includes_prompt: bool = False
    max_query_chars: int | None = None
    max_document_chars: int | None = None
    strip_texts: bool = False
    default_instruction: str | None = None
    takes_instruction: bool = True
    default_max_length: int = 512
    repositories: tuple[str, ...] = field(default=())
    source: str = ""

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ConfigurationError(
                f"LLMFormat layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}"
            )
        if self.score_head not in SCORE_HEADS:
            raise ConfigurationError(
                f"LLMFormat score_head must be one of {', '.join(SCORE_HEADS)}, got {self.score_head!r}"
            )
        if self.score_head != "sigmoid_true" and not self.false_token:
            raise ConfigurationError(f"LLMFormat score_head {self.score_head!r} needs a false_token")
        if self.token_lookup not in ("vocab", "encode"):
            raise ConfigurationError(
                f"LLMFormat token_lookup must be 'vocab' or 'encode', got {self.token_lookup!r}"
            )
        if not self.true_token:
            raise ConfigurationError("LLMFormat needs a true_token")
        if (
            not (isinstance(self.temperature, int | float) and math.isfinite(self.temperature))
            or self.temperature <= 0
        ):
            raise ConfigurationError(
                f"LLMFormat temperature must be a positive number, got {self.temperature!r}"
            )
        if self.layout == "segments" and "{document}" not in self.body:
            raise ConfigurationError("a 'segments' LLMFormat needs a body with {document}")
        if self.layout == "segments" and not self.body.rstrip().endswith("{document}"):
            raise ConfigurationError(
                "a 'segments' LLMFormat body must end with {document}: only its end is cut"
            )
        if self.layout == "query_passage" and "{query}" not in self.query_template:
            raise ConfigurationError("a 'query_passage' LLMFormat needs a query_template with {query}")
        if self.layout == "query_passage" and "{document}" not in self.document_template:
            raise ConfigurationError("a 'query_passage' LLMFormat needs a document_template with {document}")

    @property
    def score_scale(self) -> ScoreScale:
        """What this format's scores are: its score head's probability (docs/scores.md).

        >>> ZERANK.score_scale.description
        "sigmoid(logit 'Yes' / 5) at the last token"
        """
        kind, template = HEAD_SCORES[self.score_head]
        temperature = f" / {self.temperature:g}" if self.temperature != 1.0 else ""
        return ScoreScale(
            kind=kind,
            range=(0.0, 1.0),
            description=template.format(
                true=repr(self.true_token), false=repr(self.false_token), temperature=temperature
            ),
            normalization="identity",
            source=f"LLM format {self.name!r}: {self.source or 'a custom LLMFormat'}",
        )


# Qwen3-Reranker: the model card's transformers snippet (QwenLM/Qwen3-Embedding README, same as
# https://huggingface.co/Qwen/Qwen3-Reranker-0.6B): prefix and suffix tokenized once, the body
# "<Instruct>: ...\n<Query>: ...\n<Document>: ..." tokenized per pair with
# truncation='longest_first' to max_length - len(prefix) - len(suffix), ids concatenated, padded
# left, max_length 8192; token ids by convert_tokens_to_ids("yes"/"no"); score =
# exp(log_softmax([logit no, logit yes]))[yes] at the last position.
QWEN3_RERANKER = LLMFormat(
    name="qwen3-reranker",
    layout="segments",
    prefix=(
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
        'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
    ),
    body="<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}",
    suffix="<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    true_token="yes",
    false_token="no",
    token_lookup="vocab",
    score_head="softmax_true_false",
    default_instruction="Given a web search query, retrieve relevant passages that answer the query",
    default_max_length=8192,
    repositories=("Qwen3-Reranker-0.6B", "Qwen3-Reranker-4B", "Qwen3-Reranker-8B"),
    source="QwenLM/Qwen3-Embedding README (model card of Qwen/Qwen3-Reranker-*), transformers usage",
)

# bge-reranker-v2-gemma: FlagOpen/FlagEmbedding FlagEmbedding/inference/reranker/decoder_only/
# base.py (BaseLLMReranker.compute_score_single_gpu) with AbsReranker.get_detailed_inputs:
# query "A: {q}" (query_instruction_for_rerank "A: ", format "{}{}") tokenized without special
# tokens and cut to query_max_length = max_length * 3 // 4; passage "B: {p}" cut to max_length;
# prepare_for_model([bos] + q, sep + p, truncation='only_second',
# max_length = max_length + len(sep) + len(prompt)) (bos only when it is not the pad token), then
# + sep + prompt ids; sep "\n"; default prompt below (the `prompt` argument replaces it);
# score = logits[:, -1, tokenizer('Yes', add_special_tokens=False).input_ids[0]], and
# normalize=True applies a sigmoid. max_length defaults to 512.
BGE_RERANKER_V2_GEMMA = LLMFormat(
    name="bge-reranker-v2-gemma",
    layout="query_passage",
    query_template="A: {query}",
    document_template="B: {document}",
    separator="\n",
    task_prompt="{instruction}",  # FlagEmbedding's `prompt`: the instruction replaces it
    default_instruction=(
        "Given a query A and a passage B, determine whether the passage contains an answer to the query by "
        "providing a prediction of either 'Yes' or 'No'."
    ),
    add_bos=True,
    pair_limit_includes_prompt=True,
    true_token="Yes",
    score_head="sigmoid_true",
    default_max_length=512,
    repositories=("bge-reranker-v2-gemma",),
    source="FlagOpen/FlagEmbedding FlagEmbedding/inference/reranker/decoder_only/base.py, normalize=True",
)

# zerank-2 / zerank-1 / zerank-1-small: the repositories' modeling_zeranker.py (the reference
# before the sentence-transformers integration; e.g. zeroentropy/zerank-1-small):
# messages [system: query.strip(), user: document.strip()] after cutting the query to 2,000 and
# the document to 10,000 characters, tokenizer.apply_chat_template(add_generation_prompt=True)
# with the repository's chat template (Qwen3's), padded right, logits at the last real token,
# "Yes" = tokenizer.encode("Yes", add_special_tokens=False)[0], score = sigmoid(logit / 5). The
# zerank-2 card (since its sentence-transformers v5.4 integration, LogitScore(true_token_id=9454))
# says predict() gives the raw "Yes" logit and a 0-1 score is sigmoid(score / 5).
ZERANK = LLMFormat(
    name="zerank",
    layout="chat",
    true_token="Yes",
    score_head="sigmoid_true",
    temperature=5.0,
    max_query_chars=2_000,
    max_document_chars=10_000,
    strip_texts=True,
    takes_instruction=False,
    default_max_length=32_768,
    repositories=("zerank-2", "zerank-1", "zerank-1-small"),
    source="zeroentropy/zerank-* modeling_zeranker.py and the zerank-2 model card (sigmoid(logit / 5))",
)

# mxbai-rerank-base-v2 / -large-v2: mixedbread-ai/mxbai-rerank mxbai_rerank/mxbai_rerank_v2.py
# (MxbaiRerankV2.prepare_inputs / forward): query "query: {q}", with an instruction
# "instruction: {i}\nquery: {q}", cut to max_length * 3 // 4; document "document: {d}" cut to
# min(model_max_length - len(query ids), max_length); prepare_for_model(q, sep + d,
# only_second, max_length); then chat prefix + ids + sep + task prompt + chat suffix; padded
# left; logit = logits[:, -1, "1"] - logits[:, -1, "0"] (ids: first token of "1"/"0"); its
# predictions use sigmoid(logit) > 0.5, so the 0-1 score here is sigmoid(logit). max_length 8192.
MXBAI_RERANK_V2 = LLMFormat(
    name="mxbai-rerank-v2",
    layout="query_passage",
    prefix=(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n"
    ),
    query_template="query: {query}",
    instructed_query_template="instruction: {instruction}\nquery: {query}",
    document_template="document: {document}",
    separator="\n",
    task_prompt=(
        "You are a search relevance expert who evaluates how well documents match search queries. For each "
        "query-document pair, carefully analyze the semantic relationship between them, then provide your "
        "binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:"
    ),
    suffix="<|im_end|>\n<|im_start|>assistant\n",
    true_token="1",
    false_token="0",
    score_head="sigmoid_true_minus_false",
    default_max_length=8192,
    repositories=("mxbai-rerank-base-v2", "mxbai-rerank-large-v2"),
    source="mixedbread-ai/mxbai-rerank mxbai_rerank/mxbai_rerank_v2.py (MxbaiRerankV2)",
)

#: The known formats, by name.
FORMATS: dict[str, LLMFormat] = {
    fmt.name: fmt for fmt in (QWEN3_RERANKER, BGE_RERANKER_V2_GEMMA, ZERANK, MXBAI_RERANK_V2)
}

#: Families rerankit knows but cannot score faithfully, with the reason. Their scores come from
#: per-layer heads of custom model classes (LayerWiseMiniCPMForCausalLM, CostWiseGemmaForCausalLM)
#: that exist only as the hub repositories' remote code and FlagEmbedding's copies of it
#: (FlagEmbedding/inference/reranker/decoder_only/models/); FlagEmbedding 1.4.2's copies import
#: transformers.modeling_attn_mask_utils, which transformers 5 removed, so not even the reference
#: runs here, and a re-implementation could not be held to it.
UNSUPPORTED: dict[str, str] = {
    repository: (
        "it scores with per-layer heads defined only in its hub repository's own modeling code "
        "(FlagEmbedding decoder_only/layerwise.py and lightweight.py load LayerWiseMiniCPMForCausalLM / "
        "CostWiseGemmaForCausalLM), which rerankit cannot run and test against the reference with the "
        "installed transformers; use FlagEmbedding's LayerWiseFlagLLMReranker / LightWeightFlagLLMReranker"
    )
    for repository in ("bge-reranker-v2-minicpm-layerwise", "bge-reranker-v2.5-gemma2-lightweight")
}


_HUB_CACHE_SNAPSHOT = re.compile(r"models--[^/]+--(?P<name>[^/]+)/snapshots/[^/]+$")


def repository_name(model: str) -> str:
    """The repository name of a hub id or directory (a Hugging Face cache snapshot included).

    >>> repository_name("Qwen/Qwen3-Reranker-0.6B")
    'Qwen3-Reranker-0.6B'
    >>> repository_name("/hf/hub/models--BAAI--bge-reranker-v2-gemma/snapshots/0a1b2c")
    'bge-reranker-v2-gemma'
    """
    path = model.replace("\\", "/").rstrip("/")
    snapshot = _HUB_CACHE_SNAPSHOT.search(path)
    return snapshot.group("name") if snapshot else path.rsplit("/", 1)[-1]


def recognise(model: str) -> LLMFormat | None:
    """The known format of ``model`` by its repository name (case-insensitive), or None.

    Raises:
        ConfigurationError: the model is a known family rerankit cannot score faithfully.
    """
    name = repository_name(model).lower()
    for repository, reason in UNSUPPORTED.items():
        if name == repository.lower():
            raise ConfigurationError(f"{model!r} is not supported by the local backend: {reason}")
    for fmt in FORMATS.values():
        if name in (repository.lower() for repository in fmt.repositories):
            return fmt
    return None


def resolve_format(llm_format: str | LLMFormat) -> LLMFormat:
    """``llm_format`` as given to the backend: a known format's name or an :class:`LLMFormat`."""
    if isinstance(llm_format, LLMFormat):
        return llm_format
    if isinstance(llm_format, str) and llm_format in FORMATS:
        return FORMATS[llm_format]
    raise ConfigurationError(
        f"unknown llm_format {llm_format!r}; known formats: {', '.join(FORMATS)}, or pass an "
        "rerankit.backends.LLMFormat"
    )


__all__ = [
    "BGE_RERANKER_V2_GEMMA",
    "FORMATS",
    "HEAD_SCORES",
    "LAYOUTS",
    "MXBAI_RERANK_V2",
    "QWEN3_RERANKER",
    "SCORE_HEADS",
    "UNSUPPORTED",
    "ZERANK",
    "LLMFormat",
    "recognise",
    "repository_name",
    "resolve_format",
]
