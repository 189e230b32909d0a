"""Where a local model runs: device and dtype resolution, and one lock per device."""

from __future__ import annotations

import threading

from rerankit.errors import ConfigurationError

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
