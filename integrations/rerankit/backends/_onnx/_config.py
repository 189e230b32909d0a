"""What a cross-encoder checkpoint says about itself, read from its own files as sentence-transformers
reads them: the architecture (refused by name unless it is a known encoder classifier), the number
of labels, the score's activation and the tokens per pair.

The sources, in sentence-transformers (``sentence_transformers/cross_encoder/model.py``,
``CrossEncoder.get_default_activation_fn`` and ``_parse_model_config``;
``sentence_transformers/base/modules/transformer.py``, ``Transformer.__init__``):

- activation: ``config_sentence_transformers.json``'s ``activation_fn`` (what sentence-transformers
  >= 5 saves), else ``config.json``'s ``sentence_transformers.activation_fn`` (>= 4.0), else its
  ``sbert_ce_default_activation_function`` (< 4.0), else ``Sigmoid`` for one label and ``Identity``
  for more. Only ``torch.*`` paths are honoured without ``trust_remote_code``, as there.
- max length: ``sentence_bert_config.json``'s ``max_seq_length`` when given, else the tokenizer's
  ``model_max_length`` (``tokenizer_config.json``) capped at ``config.json``'s
  ``max_position_embeddings``.
- labels: ``config.json``'s ``id2label`` (transformers' ``PretrainedConfig.num_labels``; two when
  absent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rerankit._errors import ConfigurationError
from rerankit.backends._onnx._files import CheckpointFiles

#: The encoder families this backend scores: ``model_type`` -> the classifier it must be.
ARCHITECTURES = {
    "bert": "BertForSequenceClassification",
    "xlm-roberta": "XLMRobertaForSequenceClassification",
    "modernbert": "ModernBertForSequenceClassification",
}
#: sentence-transformers' activation paths -> the function applied here (numpy).
ACTIVATIONS = {
    "torch.nn.modules.activation.Sigmoid": "sigmoid",
    "torch.nn.modules.linear.Identity": "identity",
    "torch.nn.modules.activation.Tanh": "tanh",
}
#: The function applied here -> sentence-transformers' activation path (what its score scale reads).
ACTIVATION_PATHS = {function: path for path, function in ACTIVATIONS.items()}
#: transformers' stand-in for "no limit" in ``model_max_length`` (``VERY_LARGE_INTEGER``).
_NO_LIMIT = int(1e30)


@dataclass(frozen=True)
class CrossEncoderConfig:
    """The settings that make a score, as the checkpoint declares them.

    Attributes:
        model_type: ``config.json``'s ``model_type`` (``"bert"``, ``"xlm-roberta"``, ``"modernbert"``).
        num_labels: 1 (a score) or 2 (irrelevant/relevant: the score is the relevant class's
            softmax probability, as ``CrossEncoder.predict(apply_softmax=True)``).
        activation: ``"sigmoid"``, ``"identity"`` or ``"tanh"``, applied to the logits.
        max_length: Tokens per pair, special tokens included.
    """

    model_type: str
    num_labels: int
    activation: str
    max_length: int


def read_json(path: Path | None) -> dict[str, Any]:
    """A JSON object from ``path``; ``{}`` for no file."""
    if path is None:
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path.name} of the onnx model: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigurationError(f"{path.name} of the onnx model is not a JSON object")
    return value


def read_config(files: CheckpointFiles, model: str, max_length: int | None) -> CrossEncoderConfig:
    """The checkpoint's :class:`CrossEncoderConfig`; ``max_length`` (the option) wins when given.

    Raises:
        ConfigurationError: The checkpoint is not an encoder classifier of a known family (named),
            has a number of labels a reranker cannot have, or declares an activation of its own code.
    """
    config = read_json(files.optional("config.json"))
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    architecture = architectures[0] if architectures else None
    expected = ARCHITECTURES.get(model_type)  # type: ignore[arg-type]
    if expected is None or architecture not in (None, expected):
        known = ", ".join(f"{name} ({kind})" for kind, name in ARCHITECTURES.items())
        raise ConfigurationError(
            f"onnx model {model!r} is {architecture or 'an unnamed architecture'} (model_type "
            f"{model_type!r}); the onnx backend scores encoder cross-encoders: {known}. "
            "Use local/ for LLM rerankers and other shapes"
        )
    id2label = config.get("id2label")
    num_labels = (
        len(id2label) if isinstance(id2label, dict) and id2label else int(config.get("num_labels", 2))
    )
    if num_labels not in (1, 2):
        raise ConfigurationError(
            f"onnx model {model!r} has {num_labels} output labels; a reranker has 1 (a score) or 2 "
            "(irrelevant/relevant)"
        )
    return CrossEncoderConfig(
        model_type=model_type,  # type: ignore[arg-type]
        num_labels=num_labels,
        activation=_activation(files, config, num_labels, model),
        max_length=max_length or _max_length(files, config),
    )


def _activation(files: CheckpointFiles, config: dict[str, Any], num_labels: int, model: str) -> str:
    path = read_json(files.optional("config_sentence_transformers.json")).get("activation_fn")
    if path is None:
        declared = config.get("sentence_transformers")
        if isinstance(declared, dict) and "activation_fn" in declared:
            path = declared["activation_fn"]
        else:
            path = config.get("sbert_ce_default_activation_function")
    if path is None or not str(path).startswith("torch."):
        # sentence-transformers' default; a path outside torch needs trust_remote_code there and
        # falls back to the default without it (with a warning)
        return "sigmoid" if num_labels == 1 else "identity"
    if path not in ACTIVATIONS:
        raise ConfigurationError(
            f"onnx model {model!r} declares the activation {path!r}; the onnx backend applies "
            f"{', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[path]


def _max_length(files: CheckpointFiles, config: dict[str, Any]) -> int:
    declared = read_json(files.optional("sentence_bert_config.json")).get("max_seq_length")
    if isinstance(declared, int) and declared > 0:
        return declared
    limit = read_json(files.optional("tokenizer_config.json")).get("model_max_length")
    limit = int(limit) if isinstance(limit, (int, float)) and limit > 0 else _NO_LIMIT
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and positions > 0:
        limit = min(limit, positions)
    if limit >= _NO_LIMIT:
        raise ConfigurationError(
            "the onnx model declares no length limit (no model_max_length, no max_position_embeddings); "
            "give max_length="
        )
    return limit


__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_PATHS",
    "ARCHITECTURES",
    "CrossEncoderConfig",
    "read_config",
    "read_json",
]
