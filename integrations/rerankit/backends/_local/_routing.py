"""Which scorer a local model gets: an LLM reranker format, or sentence-transformers' CrossEncoder."""

from __future__ import annotations

import functools
from pathlib import Path

from rerankit._errors import ConfigurationError
from rerankit.backends._local._formats import FORMATS, LLMFormat, recognise, resolve_format
from rerankit.backends._local._llm import pair_aware_chat_template


def is_causal_lm(model: str, revision: str | None, trust_remote_code: bool) -> bool:
    """Whether the model's config names a ``*ForCausalLM`` architecture.

    Raises:
        OSError: the config cannot be found or read.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
    return any(arch.endswith("ForCausalLM") for arch in (getattr(config, "architectures", None) or []))


def _ships_sentence_transformers_setup(model: str, revision: str | None) -> bool:
    """Whether the checkpoint has its own sentence-transformers modules (``modules.json``)."""
    if Path(model).is_dir():
        return (Path(model) / "modules.json").is_file()
    from transformers.utils import cached_file

    found = cached_file(
        model,
        "modules.json",
        revision=revision,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )
    return found is not None


@functools.lru_cache(maxsize=64)  # loads a tokenizer: once per model, not per Reranker
def _has_pair_aware_template(model: str, revision: str | None, trust_remote_code: bool) -> bool:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
    return pair_aware_chat_template(tokenizer)


def choose_llm_format(
    model: str, llm_format: str | LLMFormat | None, *, revision: str | None, trust_remote_code: bool
) -> LLMFormat | None:
    """The LLM format ``model`` is scored with, or None for sentence-transformers' CrossEncoder.

    An explicit ``llm_format`` first, then a family recognised from the model id; a causal LM of no
    known family keeps its own sentence-transformers reranker setup (``modules.json`` or a
    pair-aware chat template); with none it is refused here, at construction, rather than scored
    with a guessed prompt.

    Raises:
        ConfigurationError: an unknown ``llm_format``, a format forced on a model that is not a
            causal LM, a known family rerankit cannot score, or a causal LM of no known format
            and no sentence-transformers setup.
    """
    forced = None if llm_format is None else resolve_format(llm_format)
    known = forced or recognise(model)
    try:
        causal = is_causal_lm(model, revision, trust_remote_code)
    except (OSError, ValueError) as exc:
        if known is None:
            return None  # not a loadable config: _load reports it as it always has
        raise ConfigurationError(f"could not load local model {model!r}: {exc}", provider="local") from exc
    if known is not None:
        if not causal:
            raise ConfigurationError(
                f"LLM reranker format {known.name!r} applies to causal LMs (*ForCausalLM); "
                f"{model!r} is not one"
            )
        return known
    if not causal:
        return None
    if _ships_sentence_transformers_setup(model, revision):
        return None
    if _has_pair_aware_template(model, revision, trust_remote_code):
        return None
    raise ConfigurationError(
        f"{model!r} is a causal LM of no known reranker format and ships no sentence-transformers "
        "reranker setup (modules.json or a chat template with query/document roles), so its scores "
        f"would be a guess. Known formats: {', '.join(FORMATS)} (recognised from the hub id or a "
        "directory named like the hub repository). Pass llm_format='<name>' to use one, or "
        "llm_format=LLMFormat(...) for your own prompt and score tokens (docs/backends/local.md)."
    )


__all__ = ["choose_llm_format", "is_causal_lm"]
