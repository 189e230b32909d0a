"""The torch-free CPU runtime: exported cross-encoders on ONNX Runtime or OpenVINO.

The modules each hold one concern: where a checkpoint's files are (``_files``), what its config
says (``_config``), its tokenizer (``_tokenizer``), the two runtimes (``_runtimes``), one loaded
model's forward passes (``_model``), the options (``_option_models``) and the backend (``_backend``).
Exporting and quantizing (``_export``, ``_quantize``) need torch and are imported only by
``rerankit export-onnx``.

Importing this package loads neither torch nor transformers (a test checks it with both blocked).
"""

from rerankit.backends._onnx._backend import OnnxCrossEncoder

__all__ = ["OnnxCrossEncoder"]
