"""Where a local model runs: device and dtype resolution, and one lock per device."""

from __future__ import annotations

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
#: The runtimes a local model's ``runtime=`` knows: torch, and the two that moved to the ``onnx/``
#: backend (named to say so; see ``_option_models.MOVED_RUNTIMES``).
RUNTIMES = ("torch", "onnx", "openvino")


def version_tuple(version: str) -> tuple[int, ...]:
    """The major and minor numbers of a package version (``"6.2.0.dev0"`` -> ``(6, 2)``).

    >>> version_tuple("5.4rc1")
    (5, 4)
    """
    parts = (re.match(r"\d*", part).group() for part in version.split(".")[:2])  # "4rc1" -> "4"
    return tuple(int(digits or 0) for digits in parts)


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
