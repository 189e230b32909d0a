"""The seq2seq families as data: each family's input template, false/true tokens and input length,
with the source each comes from (see :mod:`rerankit.backends._local._seq2seq` for the scorer)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rerankit._errors import ConfigurationError
from rerankit._score_kinds import ScoreScale
from rerankit.backends._local._formats import repository_name


@dataclass(frozen=True)
class Seq2SeqFormat:
    """How one seq2seq family is prompted and scored.

    Attributes:
        name: the family name (the ``family`` option).
        template: the encoder input, with ``{query}`` and ``{document}`` placeholders.
        false_token: the vocabulary piece whose logit stands for "not relevant".
        true_token: the vocabulary piece whose logit stands for "relevant"; the score is its
            probability in a softmax over the two.
        max_length: the most encoder tokens (the models were trained at 512).
        model_prefixes: hub ids starting with one of these (case-insensitive) use this family.
        source: where the template and tokens come from.
    """

    name: str
    template: str
    false_token: str
    true_token: str
    max_length: int
    model_prefixes: tuple[str, ...]
    source: str

    @property
    def score_scale(self) -> ScoreScale:
        """What this family's scores are: p(true), a probability in (0, 1) (docs/scores.md).

        >>> SEQ2SEQ_FORMATS["monot5"].score_scale.description
        "p('▁true') = softmax([logit '▁false', logit '▁true'])['▁true'] at the first decoder step"
        """
        true, false = repr(self.true_token), repr(self.false_token)
        return ScoreScale(
            kind="probability",
            range=(0.0, 1.0),
            description=f"p({true}) = softmax([logit {false}, logit {true}])[{true}] at the first decoder step",
            normalization="identity",
            source=f"seq2seq family {self.name!r}: {self.source}",
        )


#: The monoT5 input, the same for every family below.
MONOT5_TEMPLATE = "Query: {query} Document: {document} Relevant:"

SEQ2SEQ_FORMATS: dict[str, Seq2SeqFormat] = {
    "monot5": Seq2SeqFormat(
        name="monot5",
        template=MONOT5_TEMPLATE,
        false_token="▁false",
        true_token="▁true",
        max_length=512,
        model_prefixes=("castorini/monot5-",),
        # castorini/pygaggle pygaggle/rerank/transformer.py (MonoT5: prediction_tokens
        # ['▁false', '▁true']) and pygaggle/model/tokenize.py (QueryDocumentBatchTokenizer pattern)
        source="castorini/pygaggle MonoT5; AnswerDotAI rerankers t5ranker.py PREDICTION_TOKENS",
    ),
    "inranker": Seq2SeqFormat(
        name="inranker",
        template=MONOT5_TEMPLATE,
        false_token="▁false",
        true_token="▁true",
        max_length=512,
        model_prefixes=("unicamp-dl/inranker-",),
        # unicamp-dl/InRanker inranker/rankers.py, copied into AnswerDotAI rerankers t5ranker.py
        source="unicamp-dl/InRanker rankers.py; AnswerDotAI rerankers t5ranker.py PREDICTION_TOKENS",
    ),
    "mt5": Seq2SeqFormat(
        name="mt5",
        template=MONOT5_TEMPLATE,
        false_token="▁no",
        true_token="▁yes",
        max_length=512,
        # unicamp-dl/mt5-base-mmarco-v2 and siblings; the 3B/13B mT5 checkpoints use other tokens
        # ("▁" / "▁true" in t5ranker.py) and are left to explicit true_token/false_token.
        model_prefixes=("unicamp-dl/mt5-base-",),
        source="unicamp-dl/mt5-base-mmarco-v2 model card; AnswerDotAI rerankers t5ranker.py PREDICTION_TOKENS",
    ),
}


def resolve_format(
    model: str,
    family: str | None,
    *,
    template: str | None = None,
    true_token: str | None = None,
    false_token: str | None = None,
    max_length: int | None = None,
) -> Seq2SeqFormat:
    """The format a model is scored with: ``family`` or the one its hub id names, with overrides.

    Raises:
        ConfigurationError: the family is unknown, or none is given for a model id no family
            claims (a local directory, another organisation's checkpoint): its tokens would be a guess.
    """
    if family is not None:
        if family not in SEQ2SEQ_FORMATS:
            raise ConfigurationError(
                f"unknown seq2seq family {family!r}; valid families: {', '.join(SEQ2SEQ_FORMATS)}"
            )
        fmt = SEQ2SEQ_FORMATS[family]
    else:
        found = [f for f in SEQ2SEQ_FORMATS.values() if _claims(f, model)]
        if not found:
            if template is None or true_token is None or false_token is None:
                raise ConfigurationError(
                    f"no known seq2seq family for {model!r}: pass family= "
                    f"({', '.join(SEQ2SEQ_FORMATS)}) or template=, true_token= and false_token="
                )
            fmt = Seq2SeqFormat("custom", template, false_token, true_token, 512, (), "user options")
        else:
            fmt = found[0]
    if template is not None:
        _check_template(template)
    overrides = {
        key: value
        for key, value in (
            ("template", template),
            ("true_token", true_token),
            ("false_token", false_token),
            ("max_length", max_length),
        )
        if value is not None
    }
    return replace(fmt, **overrides) if overrides else fmt


def _claims(fmt: Seq2SeqFormat, model: str) -> bool:
    """Whether ``fmt``'s family names ``model``: a hub id with one of its prefixes, or a local
    directory (a Hugging Face cache snapshot included) whose repository name starts like one of
    them, as the LLM formats recognise a directory named like the hub repository."""
    if model.lower().startswith(fmt.model_prefixes):
        return True
    if not Path(model).is_dir():
        return False  # another organisation's hub checkpoint: its tokens would be a guess
    name = repository_name(model).lower()
    return name.startswith(tuple(prefix.split("/", 1)[-1] for prefix in fmt.model_prefixes))


def template_problem(template: Any) -> str | None:
    """What is wrong with ``template`` (completing "template ..."), or ``None`` when it is usable.

    >>> template_problem("Query: {query} Document: {document} Relevant:") is None
    True
    """
    if not isinstance(template, str) or template.count("{query}") != 1 or template.count("{document}") != 1:
        return (
            "must be a string holding '{query}' once and then '{document}' once, "
            f"like {MONOT5_TEMPLATE!r}; got {template!r}"
        )
    if template.index("{query}") > template.index("{document}"):
        return "must put '{query}' before '{document}'"
    return None


def _check_template(template: Any) -> None:
    problem = template_problem(template)
    if problem is not None:
        raise ConfigurationError(f"template {problem}")


__all__ = ["MONOT5_TEMPLATE", "SEQ2SEQ_FORMATS", "Seq2SeqFormat", "resolve_format", "template_problem"]
