"""``rerankit export-onnx``: a cross-encoder checkpoint to the ONNX layout the ``onnx/`` backend
reads, with torch's own exporter (``torch.onnx.export``, dynamo) and no optimum.

Needs torch and transformers (the main environment, ``rerankit[local]``) plus ``onnx`` and
``onnxscript`` for the exporter and ``nncf`` for int8 (``rerankit[export]``); serving the result needs neither.
What it writes into the directory:

- the checkpoint's configuration and tokenizer files, with ``tokenizer.json`` saved by
  transformers, so the pair template and special tokens are the ones ``CrossEncoder`` uses;
- ``onnx/model.onnx``: the fp32 network (inputs ``input_ids``, ``attention_mask`` and, where the
  tokenizer gives them, ``token_type_ids``; output ``logits``), its weights in
  ``onnx/model.onnx_data`` beside it past 2 GB (protobuf's limit), checked against the torch model;
- with ``quantize="int8"``: ``onnx/model_qint8_static.onnx`` (see :mod:`._quantize`).
"""

from __future__ import annotations

import inspect
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from rerankit._errors import ConfigurationError
from rerankit.backends._onnx._config import ARCHITECTURES

#: Where the fp32 network goes, as sentence-transformers' layout has it.
FP32_FILE = "onnx/model.onnx"
#: Files of a checkpoint that are weights (not copied: the network replaces them).
_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".onnx_data", ".h5", ".msgpack", ".ckpt")
#: ONNX's protobuf limit: bigger networks keep their weights in an external data file.
_PROTOBUF_LIMIT = 2_000_000_000
#: Pairs the export is checked on: short and long, with padding, across the model's window.
_CHECK_PAIRS = [
    ("what is bm25", "BM25 is a bag-of-words ranking function used by search engines."),
    ("capital of france", "Paris"),
    ("how do rerankers work", "A cross-encoder reads the query and the passage together " * 12),
]


@dataclass
class ExportReport:
    """What an export wrote and how closely the network matches the torch model.

    Attributes:
        directory: The checkpoint directory written.
        files: The networks written, relative to it.
        max_abs_diff: The largest logit difference between the fp32 network and torch on the check pairs.
        notes: What else is worth saying (int8 agreement, ...).
    """

    directory: Path
    files: list[str] = field(default_factory=list)
    max_abs_diff: float = 0.0
    notes: list[str] = field(default_factory=list)


def _source_directory(model: str, revision: str | None) -> Path:
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.txt", "*.model", "*.jinja", "README.md"]
    return Path(snapshot_download(model, revision=revision, allow_patterns=patterns))


def _copy_configuration(source: Path, target: Path) -> None:
    for path in source.iterdir():
        if path.is_file() and not path.name.endswith(_WEIGHTS) and not path.name.startswith("."):
            shutil.copy2(path, target / path.name)


def export_onnx(
    model: str,
    directory: str | Path,
    *,
    revision: str | None = None,
    quantize: str | None = None,
    calibration: str | Path | None = None,
    opset: int = 18,
) -> ExportReport:
    """Export ``model`` (a hub id or directory) to ``directory`` for the ``onnx/`` backend.

    Args:
        model: A cross-encoder checkpoint (BERT, XLM-RoBERTa or ModernBERT sequence classifier).
        directory: Where to write; created if missing.
        revision: A hub revision. Defaults to None.
        quantize: ``"int8"``: also write a static int8 network. Defaults to None.
        calibration: JSON Lines of ``{"query": ..., "passage": ...}`` pairs to calibrate the int8
            network on. Defaults to None (the shipped demo pairs, see :mod:`._quantize`).
        opset: The ONNX opset. Defaults to 18.

    Raises:
        ConfigurationError: The model is not a supported cross-encoder, torch or the exporter's
            packages are missing, or the network does not match the torch model.
    """
    try:
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as exc:
        raise ConfigurationError(
            "export-onnx needs torch and transformers (the environment that trains or loads the model): "
            "pip install torch 'rerankit[local,export]'"
        ) from exc
    if quantize not in (None, "int8"):
        raise ConfigurationError(f"quantize must be 'int8' or None, got {quantize!r}")
    from rerankit.backends._onnx._quantize import calibration_pairs

    pairs = calibration_pairs(calibration) if quantize else []  # a bad file fails before the export
    target = Path(directory).expanduser()
    source = _source_directory(model, revision)
    config = AutoConfig.from_pretrained(source)
    expected = ARCHITECTURES.get(config.model_type)
    if expected is None or (config.architectures or [expected])[0] != expected:
        raise ConfigurationError(
            f"{model!r} is {(config.architectures or ['?'])[0]} (model_type {config.model_type!r}); "
            f"export-onnx exports {', '.join(ARCHITECTURES.values())}"
        )
    (target / "onnx").mkdir(parents=True, exist_ok=True)
    _copy_configuration(source, target)
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.save_pretrained(target)  # tokenizer.json as transformers builds it for CrossEncoder
    network = AutoModelForSequenceClassification.from_pretrained(source, dtype=torch.float32).eval()
    names = _input_names(network, tokenizer)
    samples = tokenizer(
        [q for q, _ in _CHECK_PAIRS],
        [d for _, d in _CHECK_PAIRS],
        padding=True,
        truncation=True,
        return_tensors="pt",
    )
    path = target / FP32_FILE
    _export(network, {name: samples[name] for name in names}, path, opset)
    report = ExportReport(directory=target, files=[FP32_FILE])
    report.max_abs_diff = _check(network, path, {name: samples[name] for name in names})
    if quantize == "int8":
        from rerankit.backends._onnx._quantize import quantize_int8

        report.files.append(quantize_int8(target, pairs, notes=report.notes))
    return report


def _input_names(network: object, tokenizer: object) -> list[str]:
    """The tokenizer's model inputs, in the order of the network's ``forward``."""
    given = set(tokenizer.model_input_names) & {"input_ids", "attention_mask", "token_type_ids"}  # type: ignore[attr-defined]
    return [name for name in inspect.signature(network.forward).parameters if name in given]  # type: ignore[attr-defined]


def _export(network: object, inputs: dict[str, object], path: Path, opset: int) -> None:
    import torch

    class LogitsOnly(torch.nn.Module):
        """The classifier as a function of its input tensors to its logits (the network's one output)."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, **extra).logits

    size = sum(p.numel() * p.element_size() for p in network.parameters())  # type: ignore[attr-defined]
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in inputs]
    axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
    for stale in (path, path.with_name(path.name + "_data"), path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and axis-naming chatter
        program = torch.onnx.export(
            LogitsOnly(network),  # type: ignore[arg-type]
            tuple(inputs[name] for name in names),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    if program is None:
        raise ConfigurationError("torch.onnx.export returned no program")
    if size > _PROTOBUF_LIMIT:
        program.save(str(path), external_data=True)
        written = path.with_name(path.name + ".data")
        if written.exists():  # name it as the hub's large networks have it: model.onnx_data
            _rename_external_data(path, written.name, path.name + "_data")
    else:
        program.save(str(path))


def _rename_external_data(path: Path, old: str, new: str) -> None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location" and entry.value == old:
                entry.value = new
    (path.parent / old).rename(path.parent / new)
    onnx.save(model, str(path))


def _check(network: object, path: Path, inputs: dict[str, object]) -> float:
    import numpy as np
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {name: tensor.numpy() for name, tensor in inputs.items()})  # type: ignore[attr-defined]
    with torch.no_grad():
        expected = network(**inputs).logits.numpy()  # type: ignore[operator]
    difference = float(np.abs(logits - expected).max())
    if difference > 1e-3:
        raise ConfigurationError(f"the exported network differs from the torch model by {difference:.2g}")
    return difference


__all__ = ["FP32_FILE", "ExportReport", "export_onnx"]
