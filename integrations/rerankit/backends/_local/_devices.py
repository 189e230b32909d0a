"""Where a local model runs: device and dtype resolution, and one lock per device."""

from __future__ import annotations

import importlib.util
import re
import threading

from rerankit._errors import ConfigurationError

DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
#: The runtimes a local model can run on.
RUNTIMES = ("torch", "onnx", "openvino")
#: The module each accelerated runtime needs, and the package that ships it.
RUNTIME_PACKAGES = {
    "onnx": ("optimum.onnxruntime", "optimum-onnx[onnxruntime]"),
    "openvino": ("optimum.intel.openvino", "optimum-intel[openvino]"),
}


def version_tuple(version: str) -> tuple[int, ...]:
    """The major and minor numbers of a package version (``"6.2.0.dev0"`` -> ``(6, 2)``).

    >>> version_tuple("5.4rc1")
    (5, 4)
    """
    parts = (re.match(r"\d*", part).group() for part in version.split(".")[:2])  # "4rc1" -> "4"
    return tuple(int(digits or 0) for digits in parts)


def check_runtime_installed(runtime: str) -> None:
    """Refuse an accelerated runtime whose package is missing, saying where it can be installed.

    optimum-onnx pins transformers<4.58, so it cannot share an environment with ``rerankit[local]``
    (transformers>=4.58): pip refuses ``rerankit[local,accel]`` rather than downgrading.

    Raises:
        ConfigurationError: naming the missing package and the separate environment it needs.
    """
    if runtime not in RUNTIME_PACKAGES:
        return
    module, package = RUNTIME_PACKAGES[runtime]
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # the parent package (optimum) is missing too
        found = False
    if found:
        return
    try:
        import transformers

        installed = f" (installed here: {transformers.__version__})"
    except ImportError:
        installed = ""
    raise ConfigurationError(
        f"backend={runtime!r} needs {package}, which is not installed. It pins transformers<4.58"
        f"{installed}, so it cannot share an environment with rerankit[local]; install it in a "
        "virtualenv of its own: pip install 'rerankit[accel]' (docs/performance.md#cpu-acceleration)"
    )


def resolve_device(device: str) -> str:
    """``"auto"`` picks cuda, then mps, then cpu; anything else is passed to torch as is."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    """``"auto"``: bf16 on GPUs that support it, else fp16 on GPU; fp32 on CPU."""
    import torch

    if dtype != "auto":
        if dtype not in DTYPES:
            raise ConfigurationError(
                f"unknown dtype {dtype!r}; valid dtypes: auto, {', '.join(sorted(DTYPES))}"
            )
        return DTYPES[dtype]
    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device.startswith("mps"):
        return "float16"
    return "float32"


_DEVICE_LOCKS: dict[str, threading.Lock] = {}
_DEVICE_LOCKS_GUARD = threading.Lock()


def device_lock(device: str) -> threading.Lock:
    """One lock per device: forward passes on one device run one at a time."""
    with _DEVICE_LOCKS_GUARD:
        return _DEVICE_LOCKS.setdefault(device, threading.Lock())
