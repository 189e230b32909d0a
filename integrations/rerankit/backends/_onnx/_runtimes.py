"""The two runtimes that run an exported network on CPU: ONNX Runtime and OpenVINO.

Both read the same ONNX file (OpenVINO also its own ``.xml`` IR); each answers ``run(arrays)`` with
the logits as a float32 ``(pairs, labels)`` array. They are imported only when chosen, so each
environment needs just its own package: ``onnxruntime`` or ``openvino``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np

from rerankit._errors import ConfigurationError

#: runtime name -> (module, the package that ships it); ``rerankit[onnx]`` and ``rerankit[openvino]``
#: bring one each.
RUNTIME_PACKAGES = {"onnxruntime": ("onnxruntime", "onnxruntime"), "openvino": ("openvino", "openvino")}
#: The inputs an encoder cross-encoder's network may take; a network asking for others is refused.
KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Session(Protocol):
    """A loaded network: the inputs it takes and one forward pass."""

    input_names: list[str]

    def run(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """The logits, float32, one row per pair."""
        ...


def check_installed(runtime: str) -> None:
    """Refuse a runtime whose package is missing, naming the extra that brings it.

    Raises:
        ConfigurationError: naming the package and the extra (``pip install "rerankit[onnx]"``).
    """
    module, requirement = RUNTIME_PACKAGES[runtime]
    if importlib.util.find_spec(module) is None:
        extra = "onnx" if runtime == "onnxruntime" else "openvino"
        raise ConfigurationError(
            f'runtime={runtime!r} needs the {requirement} package: pip install "rerankit[{extra}]"'
        )


def _checked_inputs(names: list[str], path: Path) -> list[str]:
    unknown = [name for name in names if name not in KNOWN_INPUTS]
    if unknown or "input_ids" not in names:
        raise ConfigurationError(
            f"{path.name} takes inputs {names}; an encoder cross-encoder's network takes "
            f"{', '.join(KNOWN_INPUTS[:2])} and optionally token_type_ids"
        )
    return names


class OnnxRuntimeSession:
    """An ONNX Runtime ``InferenceSession`` on the CPU execution provider.

    Args:
        path: The ``.onnx`` file (external data beside it is found by ONNX Runtime).
        threads: Intra-op threads; ``None``: ONNX Runtime's default (one per physical core).
    """

    def __init__(self, path: Path, threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: no warnings about unused initializers
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise ConfigurationError(f"onnxruntime cannot load {path.name}: {exc}") from exc
        self.input_names = _checked_inputs([i.name for i in self._session.get_inputs()], path)
        self._output = _logits_name([o.name for o in self._session.get_outputs()])

    def run(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        (logits,) = self._session.run([self._output], arrays)
        return np.asarray(logits, dtype=np.float32)


class OpenVINOSession:
    """An OpenVINO model compiled for the CPU, read from the ONNX file (or an OpenVINO ``.xml`` IR).

    Inference runs in fp32 (``INFERENCE_PRECISION_HINT``): on CPUs with AVX512-BF16 or AMX OpenVINO
    would otherwise compute in bf16, and scores would move by about 1e-2. An int8 network keeps its
    int8 layers.

    Args:
        path: The ``.onnx`` or ``.xml`` file.
        threads: Inference threads; ``None``: OpenVINO's default.
    """

    def __init__(self, path: Path, threads: int | None) -> None:
        import openvino as ov

        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        try:
            model = core.read_model(str(path))
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # openvino raises RuntimeError subclasses of its own
            raise ConfigurationError(f"openvino cannot load {path.name}: {exc}") from exc
        self.input_names = _checked_inputs([port.any_name for port in self._compiled.inputs], path)
        names = [port.any_name for port in self._compiled.outputs]
        self._output = self._compiled.outputs[names.index(_logits_name(names))]
        self._request = self._compiled.create_infer_request()

    def run(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        result = self._request.infer(arrays)
        return np.asarray(result[self._output], dtype=np.float32)


def _logits_name(names: list[str]) -> str:
    """The output holding the logits: ``logits`` as every exporter names it, else the only one."""
    if "logits" in names:
        return "logits"
    if len(names) == 1:
        return names[0]
    raise ConfigurationError(f"the network has outputs {names} and none is named 'logits'")


def open_session(runtime: str, path: Path, threads: int | None) -> Session:
    """The network at ``path`` loaded on ``runtime`` (``"onnxruntime"`` or ``"openvino"``)."""
    if runtime == "openvino":
        return OpenVINOSession(path, threads)
    if path.suffix == ".xml":
        raise ConfigurationError(f"{path.name} is an OpenVINO IR; load it with runtime='openvino'")
    return OnnxRuntimeSession(path, threads)


__all__ = [
    "KNOWN_INPUTS",
    "OnnxRuntimeSession",
    "OpenVINOSession",
    "Session",
    "check_installed",
    "open_session",
]
