"""The options of the ``onnx/`` backend: one pydantic model, checked as every backend's are."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from rerankit._options_base import Options
from rerankit.backends._local._option_models import BatchTokens

#: ``runtime=`` of the onnx backend: which package runs the network.
OnnxRuntime = Literal["onnxruntime", "openvino"]


def _model_file(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise ValueError("must be a non-blank path inside the model directory")


class OnnxOptions(Options):
    """The options of :class:`~rerankit.backends.OnnxCrossEncoder`.

    >>> OnnxOptions.validated({"runtime": "tensorrt"}, provider="onnx")
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: runtime must be one of 'onnxruntime', 'openvino', got 'tensorrt' (provider=onnx)
    """

    runtime: OnnxRuntime = Field(
        default="onnxruntime",
        description='``"onnxruntime"`` (``rerankit[onnx]``) or ``"openvino"`` (``rerankit[openvino]``), '
        "which reads the same ONNX file (or an OpenVINO ``.xml`` IR).",
    )
    model_file: Annotated[str | None, BeforeValidator(_model_file)] = Field(
        default=None,
        description="The network to load, relative to the model directory or repository: "
        '``"onnx/model_qint8_avx512_vnni.onnx"`` (sentence-transformers\' int8 exports), '
        '``"onnx/model_quantized.onnx"`` (transformers.js\'), ``"onnx/model_int8_static.onnx"`` '
        "(``rerankit export-onnx --quantize int8``). None: ``onnx/model.onnx``, else ``model.onnx``.",
    )
    batch_size: int = Field(default=32, ge=1, description="The most pairs per forward pass; at least 1.")
    max_batch_tokens: BatchTokens = Field(
        default="auto",
        description="The most padded tokens per forward pass (pairs x longest pair); pairs are sorted "
        'by token length and cut by this budget as well as by ``batch_size``. ``"auto"``: 4096; '
        "``None``: ``batch_size`` only.",
    )
    max_length: int | None = Field(
        default=None,
        ge=8,
        description="Tokens per pair, at least 8; the document is cut, never the query. None: the "
        "model's own limit, by sentence-transformers' rule.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads per forward pass. None: the runtime's default (one per core).",
    )
    revision: str | None = Field(default=None, description="A hub revision (branch, tag or commit) to pin.")


__all__ = ["OnnxOptions", "OnnxRuntime"]
