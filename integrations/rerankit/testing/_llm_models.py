"""Tiny causal-LM rerankers shaped like the hub's: Qwen3-Reranker (hub and sentence-transformers
shapes), zerank, mxbai-rerank-v2 (Qwen2) and bge-reranker-v2-gemma."""

from __future__ import annotations

import json
from pathlib import Path

from rerankit.testing._checkpoints import CORPUS
from rerankit.testing._checkpoints import seed_everything as _seed
from rerankit.testing._checkpoints import train_tokenizer as _train_tokenizer

#: A Qwen3-Reranker-style chat template that carries the query/document roles sentence-transformers
#: maps a pair to; a leading system message (the ``instruction``) replaces the default instruction.
QWEN3_RERANKER_CHAT_TEMPLATE = (
    "{%- set ns = namespace(instruction='Given a web search query, retrieve relevant passages that "
    "answer the query', query='', document='') -%}"
    "{%- for message in messages -%}"
    "{%- if message.role == 'system' -%}{%- set ns.instruction = message.content -%}"
    "{%- elif message.role == 'query' -%}{%- set ns.query = message.content -%}"
    "{%- elif message.role == 'document' -%}{%- set ns.document = message.content -%}"
    "{%- endif -%}{%- endfor -%}"
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n<Instruct>: {{ ns.instruction }}\n<Query>: {{ ns.query }}\n"
    # Inside a string expression: Jinja drops a template's final newline, so literal text ending
    # "</think>\n\n" would render "</think>\n" and differ from the model card's suffix.
    "<Document>: {{ ns.document }}{{- '<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' -}}"
)


#: The size every tiny decoder checkpoint shares (Qwen3, Qwen2, Gemma): small enough for CI, with
#: weights large enough (initializer 0.3) that scores spread; the shape that matters (architecture,
#: special tokens, chat template, head_dim where the family has one) stays per builder.
_TINY_DECODER: dict[str, float] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "initializer_range": 0.3,
}


def build_qwen3_reranker(path: str | Path, *, seed: int = 0) -> Path:
    """A 2-layer Qwen3 causal LM with "yes"/"no" tokens and a Qwen3-Reranker chat template.

    sentence-transformers (>= 5.4) loads it as a CrossEncoder with a ``LogitScore`` head:
    score = logit("yes") - logit("no") at the last position.
    """
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    path = Path(path)
    _seed(seed)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    raw = _train_tokenizer("bpe", specials, vocab_size=400)
    raw.add_tokens(["yes", "no"])
    from tokenizers import decoders

    raw.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=1024,
        padding_side="left",
    )
    tokenizer.chat_template = QWEN3_RERANKER_CHAT_TEMPLATE
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        **_TINY_DECODER,
        head_dim=16,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    Qwen3ForCausalLM(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "chat_template.jinja").write_text(QWEN3_RERANKER_CHAT_TEMPLATE)
    meta = json.loads((path / "config.json").read_text())
    meta.setdefault("architectures", ["Qwen3ForCausalLM"])
    (path / "config.json").write_text(json.dumps(meta, indent=2))
    return path


#: The system/user/assistant core of Qwen3's ordinary chat template (as Qwen3-Reranker's and
#: zerank's main revisions ship it; the tool-call and reasoning-content branches, which a reranking
#: prompt never reaches, are left out). It carries no query/document roles.
QWEN3_CHAT_TEMPLATE = (
    "{%- if messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}"
    "{%- endif %}"
)

#: Qwen2.5's chat template core (mxbai-rerank-v2 is Qwen2-based): a default system message.
QWEN2_CHAT_TEMPLATE = (
    "{%- if messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) or message.role == 'assistant' %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]


def _qwen_tokenizer(extra_tokens: list[str], chat_template: str | None):
    """A byte-level BPE tokenizer with Qwen's special tokens (pad <|endoftext|>, eos <|im_end|>, no bos)."""
    from tokenizers import decoders
    from transformers import PreTrainedTokenizerFast

    raw = _train_tokenizer("bpe", list(_QWEN_SPECIALS), vocab_size=400)
    raw.add_tokens(extra_tokens)
    raw.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
        padding_side="left",
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def _save_causal_lm(path: Path, model, tokenizer, architecture: str) -> Path:
    model.eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    meta = json.loads((path / "config.json").read_text())
    meta.setdefault("architectures", [architecture])
    (path / "config.json").write_text(json.dumps(meta, indent=2))
    return path


def _qwen3_causal_lm(path: str | Path, tokenizer, seed: int) -> Path:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    path = Path(path)
    _seed(seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        **_TINY_DECODER,
        head_dim=16,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save_causal_lm(path, Qwen3ForCausalLM(config), tokenizer, "Qwen3ForCausalLM")


def build_qwen3_reranker_hub(path: str | Path, *, seed: int = 0) -> Path:
    """Shaped like ``Qwen/Qwen3-Reranker-0.6B``'s main revision: a plain ``Qwen3ForCausalLM`` whose
    chat template is Qwen3's ordinary one, "yes"/"no" tokens, no sentence-transformers files.

    Name the directory like the hub repository (``.../Qwen3-Reranker-0.6B``) for rerankit to
    recognise its format.
    """
    tokenizer = _qwen_tokenizer(["yes", "no"], QWEN3_CHAT_TEMPLATE)
    return _qwen3_causal_lm(path, tokenizer, seed)


def build_qwen3_reranker_sentence_transformers(path: str | Path, *, seed: int = 0) -> Path:
    """A sentence-transformers-converted Qwen3-Reranker (like ``cross-encoder-testing/
    Qwen3-Reranker-0.6B-STv54``): the pair-aware :data:`QWEN3_RERANKER_CHAT_TEMPLATE` plus the
    ``modules.json`` / ``LogitScore`` files sentence-transformers (>= 5.4) saves."""
    import shutil
    import tempfile

    from sentence_transformers import CrossEncoder

    path = Path(path)
    with tempfile.TemporaryDirectory() as scratch:
        plain = build_qwen3_reranker(Path(scratch) / "plain", seed=seed)
        CrossEncoder(str(plain)).save_pretrained(str(path))
    if not (path / "modules.json").is_file():  # pragma: no cover - depends on the installed version
        shutil.rmtree(path, ignore_errors=True)
        raise RuntimeError("sentence-transformers did not save modules.json")
    return path


def build_zerank_reranker(path: str | Path, *, seed: int = 2) -> Path:
    """Shaped like ``zeroentropy/zerank-2`` (Qwen3-4B based): ``Qwen3ForCausalLM``, Qwen3's chat
    template (system = query, user = document at scoring time), a "Yes" token."""
    tokenizer = _qwen_tokenizer(["Yes", "No"], QWEN3_CHAT_TEMPLATE)
    return _qwen3_causal_lm(path, tokenizer, seed)


def build_mxbai_rerank_v2(path: str | Path, *, seed: int = 3) -> Path:
    """Shaped like ``mixedbread-ai/mxbai-rerank-base-v2``: ``Qwen2ForCausalLM``, Qwen2.5's chat
    tokens and template; the score reads the "1" and "0" tokens (single byte-level tokens)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    tokenizer = _qwen_tokenizer([], QWEN2_CHAT_TEMPLATE)
    _seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        **_TINY_DECODER,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save_causal_lm(path, Qwen2ForCausalLM(config), tokenizer, "Qwen2ForCausalLM")


def build_bge_reranker_v2_gemma(path: str | Path, *, seed: int = 1) -> Path:
    """Shaped like ``BAAI/bge-reranker-v2-gemma``: ``GemmaForCausalLM``, a SentencePiece-style
    tokenizer with ``<pad>``/``<eos>``/``<bos>`` (bos added by the tokenizer), a "Yes" token and
    no chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GemmaConfig, GemmaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    _seed(seed)
    # SentencePiece-style BPE: spaces become "▁" and stay part of the pieces (no byte-level alphabet)
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    raw.decoder = decoders.Metaspace(prepend_scheme="never")
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<eos>", "<bos>", "<unk>"],
        initial_alphabet=[chr(code) for code in range(33, 127)] + ["\n", "\u2581"],  # ASCII, newline, "▁"
    )
    raw.train_from_iterator(CORPUS * 4, trainer=trainer)
    raw.add_tokens(["Yes", "No"])
    bos = raw.token_to_id("<bos>")
    raw.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", bos)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=8192,
        padding_side="left",
    )
    config = GemmaConfig(
        vocab_size=len(tokenizer),
        **_TINY_DECODER,
        head_dim=16,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=bos,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save_causal_lm(path, GemmaForCausalLM(config), tokenizer, "GemmaForCausalLM")
