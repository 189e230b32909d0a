"""A BatchReranker whose worker process dies once, mid-run, as a lost node would take it."""

from __future__ import annotations

import os
from pathlib import Path

from rerankit.ray import BatchReranker


class DiesOnceBatchReranker(BatchReranker):
    """Kills its own process at its second call, the first time any actor gets there.

    ``marker`` (a file path) records that the crash happened, across processes and restarts.
    """

    def __init__(self, model: str, *, marker: str, **options) -> None:
        super().__init__(model, **options)
        self.marker = Path(marker)
        self.calls = 0

    def __call__(self, batch):
        self.calls += 1
        if self.calls == 2 and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)  # no exception, no cleanup: the actor is gone with its task
        return super().__call__(batch)
