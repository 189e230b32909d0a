"""The picture: quality against latency, one point per system (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rerankit._errors import ConfigurationError
from rerankit.evaluation._metrics import metric_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rerankit.evaluation._results import EvalResult


def plot_quality_latency(
    result: EvalResult, path: str | Path | None = None, *, metric: str = "ndcg@10"
) -> Figure:
    """Draw ``metric`` against p50 rerank latency per query (log scale), one point per system.

    A bar from p50 to p95 shows the latency spread; BM25 is drawn as the dashed baseline.

    Args:
        result: What :func:`evaluate` returned.
        path: Where to save the picture: a PNG, or any format matplotlib knows by extension.
            Defaults to ``None``: not saved.
        metric: The quality metric on the y axis; one of ``result.metrics``. Defaults to
            ``"ndcg@10"``.

    Returns:
        The matplotlib figure (notebooks display it).

    Raises:
        ConfigurationError: ``metric`` was not computed.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    if metric not in result.metrics:
        raise ConfigurationError(
            f"metric {metric!r} was not computed; available: {', '.join(result.metrics)}"
        )
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.add_subplot()
    baseline = result.first_stage.metrics[metric]
    axes.axhline(baseline, linestyle="--", color="grey", linewidth=1)
    axes.annotate(
        f"BM25 alone: {baseline:.3f}",
        (0.01, baseline),
        xycoords=("axes fraction", "data"),
        textcoords="offset points",
        xytext=(0, 4),
        color="grey",
        fontsize=8,
    )
    for system in result.rerankers:
        quality, p50, p95 = system.metrics[metric], system.latency.p50_ms, system.latency.p95_ms
        axes.plot([p50, p95], [quality, quality], linewidth=3, alpha=0.35)
        color = axes.lines[-1].get_color()
        axes.scatter([p50], [quality], s=50, color=color, zorder=3)
        axes.annotate(system.name, (p50, quality), textcoords="offset points", xytext=(6, 6), fontsize=8)
    axes.set_xscale("log")
    axes.margins(x=0.15)
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axes.xaxis.set_major_formatter(plain)
    latencies = [ms for system in result.rerankers for ms in (system.latency.p50_ms, system.latency.p95_ms)]
    if latencies and min(latencies) > 0 and max(latencies) / min(latencies) < 10:
        axes.xaxis.set_minor_formatter(plain)  # less than a decade: label the minor ticks too
    label = metric_label(metric)
    axes.set_xlabel("rerank latency per query, ms (dot: p50, bar to p95; log scale)")
    axes.set_ylabel(label)
    axes.set_title(f"{label} against latency: {result.queries} queries, BM25 top {result.k}")
    axes.grid(True, which="both", alpha=0.2)
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure
