"""Static int8 networks for the ``onnx/`` backend, with NNCF's post-training quantizer
(``nncf.quantize`` on the ONNX network, ``ModelType.TRANSFORMER``), calibrated on (query, passage)
pairs.

What is quantized and why:

- the encoder layers, as NNCF quantizes a transformer: int8 weights and int8 activations with
  ranges from the calibration pairs, in the QDQ format that ONNX Runtime fuses into int8 kernels
  and OpenVINO reads as its own int8 layers; NNCF's transformer preset keeps the operations whose
  int8 form loses most (softmax, layer norms, ...) in float;
- the embedding tables get int8 weights too (one scale per row; NNCF quantizes a ``Gather``'s
  table): keeping them fp32 was measured and left the held-out agreement where it was
  (``benchmarks/onnx_int8_variants.py``, docs/performance.md);
- not the classifier head (pooler and output layer): a head in full precision keeps the score's
  last steps exact, where int8 rounding would reorder documents whose scores are close.

Why NNCF rather than ONNX Runtime's ``quantize_static``: on the benchmark's MiniLM, ONNX Runtime's
static int8 (MinMax ranges, per-tensor activations, the encoder's projections only) kept Kendall's
tau at 0.27 against fp32 on held-out questions, NNCF's at about 0.9 on the same calibration pairs
(``benchmarks/local_onnx.py``; docs/performance.md).

Calibration pairs: a JSON Lines file of ``{"query": ..., "passage": ...}`` objects (``"document"``
or ``"text"`` also name the passage), or by default the shipped demo collection
(``rerankit/data/demo``): each of its 52 questions with its judged passages and three other
passages: 220 pairs of real questions and encyclopedic passages.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from rerankit._errors import ConfigurationError

#: Where the static int8 network goes.
INT8_FILE = "onnx/model_qint8_static.onnx"
#: Pairs per calibration batch.
_BATCH = 8
#: The passage's field names a calibration record may use, first found wins.
_PASSAGE_FIELDS = ("passage", "document", "text")
#: ONNX's protobuf limit: a bigger network keeps its weights in an external data file.
_PROTOBUF_LIMIT = 2_000_000_000


def default_calibration_pairs(*, others: int = 3, seed: int = 0) -> list[tuple[str, str]]:
    """The demo collection's questions, each with its judged passages and ``others`` other ones."""
    from rerankit.evaluation._beir import DEMO_DATA, load_beir

    data = load_beir(DEMO_DATA)
    rng = random.Random(seed)
    ids = sorted(data.corpus)
    pairs = []
    for query_id, query in sorted(data.queries.items()):
        judged = sorted(data.qrels.get(query_id, {}))
        chosen = judged + rng.sample([i for i in ids if i not in judged], others)
        pairs += [(query, data.corpus[doc_id].content) for doc_id in chosen]
    return pairs


def read_calibration_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(query, passage) pairs from a JSON Lines file.

    Raises:
        ConfigurationError: A line is not a JSON object with a string ``query`` and a string
            ``passage`` (or ``document``, ``text``); the message names the line.
    """
    pairs = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ConfigurationError(f"calibration line {number} is not JSON: {exc}") from exc
            passage = next(
                (record.get(k) for k in _PASSAGE_FIELDS if isinstance(record, dict) and k in record), None
            )
            if (
                not isinstance(record, dict)
                or not isinstance(record.get("query"), str)
                or not isinstance(passage, str)
            ):
                raise ConfigurationError(
                    f"calibration line {number} must be an object with string 'query' and 'passage' fields"
                )
            pairs.append((record["query"], passage))
    if not pairs:
        raise ConfigurationError(f"calibration file {path} holds no pairs")
    return pairs


def head_nodes(model: object) -> list[str]:
    """The names of the ``MatMul``/``Gemm`` nodes outside the encoder's layers (the pooler and the
    classifier): their module path, kept by torch's exporter as ``namespace`` metadata, does not
    pass through ``.layer.N`` or ``.layers.N``."""
    names = []
    for node in model.graph.node:  # type: ignore[attr-defined]
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        namespace = next((p.value for p in node.metadata_props if p.key == "namespace"), "")
        if ".layer." not in namespace and ".layers." not in namespace:
            names.append(node.name)
    return names


def _has_module_paths(model: object) -> bool:
    return any(p.key == "namespace" for node in model.graph.node for p in node.metadata_props)  # type: ignore[attr-defined]


def calibration_pairs(calibration: str | Path | None) -> list[tuple[str, str]]:
    """The pairs of the ``calibration`` file, or the default ones when it is ``None``."""
    return read_calibration_pairs(calibration) if calibration is not None else default_calibration_pairs()


def quantize_int8(
    directory: Path, pairs: Sequence[tuple[str, str]], *, notes: list[str] | None = None
) -> str:
    """Write :data:`INT8_FILE` beside the fp32 ``onnx/model.onnx`` of an exported ``directory``,
    calibrated on ``pairs``.

    Returns:
        The int8 network's path, relative to ``directory``.

    Raises:
        ConfigurationError: The network carries no module paths (it was not exported by
            ``rerankit export-onnx``), so the head cannot be told from the encoder.
    """
    import nncf
    import onnx

    from rerankit.backends._onnx._model import OnnxModel

    fp32 = OnnxModel(
        str(directory), runtime="onnxruntime", model_file=None, max_length=None, threads=None, revision=None
    )
    network = onnx.load(str(fp32.files.model_path))
    if not _has_module_paths(network):
        raise ConfigurationError(
            f"{fp32.files.model_file} carries no module paths to tell the encoder's layers from the head; "
            "quantize a network exported by rerankit export-onnx"
        )
    batches = _calibration_batches(fp32, pairs)
    head = head_nodes(network)
    quantized = nncf.quantize(
        network,
        nncf.Dataset(batches),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(batches),
        ignored_scope=nncf.IgnoredScope(names=head, validate=False),
    )
    target = directory / INT8_FILE
    large = sum(len(tensor.raw_data) for tensor in quantized.graph.initializer) > _PROTOBUF_LIMIT
    onnx.save(quantized, str(target), save_as_external_data=large, location=target.name + "_data")
    if notes is not None:
        notes.append(
            f"int8 (NNCF, static): calibrated on {len(pairs)} pairs, the head ({len(head)} layers) kept in fp32"
        )
    return INT8_FILE


def _calibration_batches(model: object, pairs: Sequence[tuple[str, str]]) -> list[dict]:
    tokenizer = model.tokenizer  # type: ignore[attr-defined]
    names = model.session.input_names  # type: ignore[attr-defined]
    encodings = tokenizer.encode_pairs(pairs, "only_second")
    return [
        tokenizer.batch_arrays(encodings[start : start + _BATCH], names)
        for start in range(0, len(encodings), _BATCH)
    ]


__all__ = [
    "INT8_FILE",
    "calibration_pairs",
    "default_calibration_pairs",
    "head_nodes",
    "quantize_int8",
    "read_calibration_pairs",
]
