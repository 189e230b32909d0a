"""The score scales several backends share, as data: a sequence classifier's, by its activation.

A cross-encoder's score is what sentence-transformers' ``CrossEncoder.predict`` returns: the
classifier's output through the model's activation, which its config names
(``sentence_transformers.activation_fn``, before v4 ``sbert_ce_default_activation_function``) and
which defaults to ``Sigmoid`` for one label (sentence-transformers ``cross_encoder/model.py``,
``CrossEncoder.get_default_activation_fn``). ``cross-encoder/ms-marco-*`` configs name
``Identity``, so they score raw logits; ``BAAI/bge-reranker-*`` name none, so they score
probabilities. The local backend reads the activation from the loaded model; a backend that reads
the config itself (an ONNX runtime without torch) passes the dotted name from ``config.json``.
Both get their :class:`~rerankit.ScoreScale` here, so the fact lives in one place. A module of its
own, free of torch, so such a backend imports it without loading the local package.
"""

from __future__ import annotations

from typing import Any

from rerankit._score_kinds import ScoreScale

#: Where sentence-transformers documents the activation a CrossEncoder scores with.
CROSS_ENCODER_SOURCE = (
    "sentence-transformers cross_encoder/model.py (CrossEncoder.get_default_activation_fn: the config's "
    "activation_fn, else Sigmoid for one label)"
)

#: A two-label classifier: rerankit reads the softmax probability of the relevant (last) class.
TWO_LABEL_SCALE = ScoreScale(
    kind="probability",
    range=(0.0, 1.0),
    description="softmax probability of the relevant (last) of two labels",
    normalization="identity",
    source="sentence-transformers CrossEncoder.predict(apply_softmax=True)",
)

_BY_ACTIVATION: dict[str, ScoreScale] = {
    "Sigmoid": ScoreScale(
        kind="probability",
        range=(0.0, 1.0),
        description="sigmoid of the classifier's logit (activation Sigmoid)",
        normalization="identity",
        source=CROSS_ENCODER_SOURCE,
    ),
    "Identity": ScoreScale(
        kind="logit",
        description="the classifier's raw logit (activation Identity)",
        # the family's own map to 0-1: what sentence-transformers applies to a one-label model by
        # default, and what TEI's /rerank applies unless raw_scores (core/src/infer.rs, predict)
        normalization="sigmoid",
        source=CROSS_ENCODER_SOURCE,
    ),
}


def activation_name(activation: Any) -> str:
    """The dotted name of an activation: as given when it is a string, else its class's.

    >>> activation_name("torch.nn.modules.linear.Identity")
    'torch.nn.modules.linear.Identity'
    """
    if isinstance(activation, str):
        return activation
    cls = type(activation)
    return f"{cls.__module__}.{cls.__qualname__}"


def cross_encoder_scale(activation: Any, num_labels: int) -> ScoreScale | None:
    """The scale of a sentence-transformers cross-encoder's scores.

    Args:
        activation: The model's activation: the module (``cross_encoder.activation_fn``) or its
            dotted name as a config stores it (``"torch.nn.modules.activation.Sigmoid"``).
        num_labels: The classifier's outputs: 1 (a score) or 2 (irrelevant/relevant).

    Returns:
        The declared scale, or ``None`` for an activation rerankit does not know (a custom one):
        its scores are passed on undeclared rather than guessed, and ``normalize=True`` is refused.

    >>> cross_encoder_scale("torch.nn.modules.linear.Identity", 1).kind
    'logit'
    >>> cross_encoder_scale("torch.nn.Sigmoid", 1).range
    (0.0, 1.0)
    """
    if num_labels == 2:
        return TWO_LABEL_SCALE
    name = activation_name(activation)
    if not name.startswith("torch.nn."):
        return None
    return _BY_ACTIVATION.get(name.rpartition(".")[2])


__all__ = ["CROSS_ENCODER_SOURCE", "TWO_LABEL_SCALE", "activation_name", "cross_encoder_scale"]
