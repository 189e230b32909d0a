"""One local Ray cluster per test module, whose workers import this checkout's rerankit.

Named ``ray_data``, not ``ray``: pytest puts ``tests/`` on ``sys.path``, where a ``ray`` package would
shadow the real one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="rerankit.ray needs ray[data]: pip install 'rerankit[ray]'")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """``ray.init(num_cpus=2)``; its workers get this checkout's ``integrations/`` and ``tests/`` first
    on their path (``integrations/`` so they run the code under test, not an installed copy;
    the checkout's root so they can load the test helpers a task is given, ``tests.ray_data.flaky``)."""
    saved = os.environ.get("PYTHONPATH")
    paths = [str(ROOT / "integrations"), str(ROOT), *filter(None, [saved])]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)  # the raylet and its workers inherit it
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 2**20)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    try:
        yield
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
