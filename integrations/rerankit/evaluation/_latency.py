"""Speed: per-query latency percentiles."""

from __future__ import annotations

from collections.abc import Sequence

from rerankit.evaluation._results import LatencyStats


def latency_stats(seconds: Sequence[float]) -> LatencyStats:
    """p50/p95/mean of per-query latencies given in seconds.

    Args:
        seconds: One latency per query, in seconds; at least one.

    Returns:
        The percentiles and mean in milliseconds, and the total in seconds.

    >>> latency_stats([0.010, 0.020, 0.030]).p50_ms
    20.0
    """
    import numpy as np

    values = np.asarray(seconds, dtype=float) * 1000.0
    return LatencyStats(
        p50_ms=float(np.percentile(values, 50)),
        p95_ms=float(np.percentile(values, 95)),
        mean_ms=float(values.mean()),
        total_s=float(values.sum() / 1000.0),
    )
