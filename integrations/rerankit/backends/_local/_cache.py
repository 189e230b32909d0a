"""The bounded, process-wide cache of loaded models."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class ModelCache:
    """A bounded, thread-safe LRU of loaded models: one load per process per key.

    The key covers everything that changes the loaded weights or tokenizer: model id, revision,
    device, dtype, runtime, max length and ``trust_remote_code``.
    """

    def __init__(self, maxsize: int = 4) -> None:
        self.maxsize = maxsize
        self._models: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Any) -> Any:
        """Return the model under ``key``, calling ``load()`` once if it is not cached."""
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            model = load()
            self._models[key] = model
            while len(self._models) > self.maxsize:
                self._models.popitem(last=False)
            return model

    def clear(self) -> None:
        """Drop every cached model."""
        with self._lock:
            self._models.clear()

    def __len__(self) -> int:
        return len(self._models)


MODEL_CACHE = ModelCache()
