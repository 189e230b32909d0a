"""``rerankit eval``: compare rerankers on BEIR-format data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rerankit._cli._app import OptionList, app
from rerankit._cli._backend_options import fail, options_for, parse_options, quiet_model_loading
from rerankit._errors import RerankError
from rerankit.evaluation._metrics import metric_label

#: What a backend's ``search_units`` are called on its bill, where it is not "search units".
BILLED_UNIT_NAMES = {"pinecone": "rerank units"}


def _billed(usage: Any, backend: str = "") -> str:
    if usage is None:
        return "-"
    parts = []
    if usage.tokens is not None:
        parts.append(f"{usage.tokens:,} tokens")
    if usage.search_units is not None:
        parts.append(f"{usage.search_units:g} {BILLED_UNIT_NAMES.get(backend, 'search units')}")
    return ", ".join(parts) or "not billed"


def eval_table(result: Any) -> Table:
    """The side-by-side comparison: quality, latency and cost per system; best quality in bold."""
    table = Table(
        title=f"[bold]{escape(result.data)}[/]: {result.queries} queries, {result.documents} documents, BM25 top {result.k}",
        title_justify="left",
    )
    table.add_column("system")
    for metric in result.metrics:
        table.add_column(metric_label(metric), justify="right")
    for header in ("p50 ms", "p95 ms", "docs/s", "requests", "billed"):
        table.add_column(header, justify="right")
    best = {metric: max(system.metrics[metric] for system in result.systems) for metric in result.metrics}
    for system in result.systems:
        cells = [escape(system.name)]
        for metric in result.metrics:
            value = f"{system.metrics[metric]:.3f}"
            cells.append(f"[bold]{value}[/]" if abs(system.metrics[metric] - best[metric]) < 1e-9 else value)
        cells += [
            f"{system.latency.p50_ms:.1f}",
            f"{system.latency.p95_ms:.1f}",
            f"{system.documents_per_second:,.0f}" if system.documents_per_second else "-",
            f"{system.usage.requests:,}" if system.usage else "-",
            _billed(system.usage, system.backend),
        ]
        table.add_row(*cells)
    return table


@app.command("eval")
def eval_command(
    specs: Annotated[list[str], typer.Argument(metavar="SPEC", help="Reranker specs to compare.")],
    data: Annotated[
        Path,
        typer.Option("--data", "-d", help="BEIR directory: corpus.jsonl, queries.jsonl, qrels/<split>.tsv."),
    ],
    k: Annotated[int, typer.Option("--k", min=1, help="BM25 candidates reranked per query.")] = 100,
    split: Annotated[str, typer.Option("--split", help="Which qrels/<split>.tsv to use.")] = "test",
    max_queries: Annotated[
        int | None, typer.Option("--max-queries", min=1, help="Evaluate only the first N judged queries.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    rankings: Annotated[
        bool, typer.Option("--rankings", help="Include per-query rankings in --json.")
    ] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a quality-vs-latency chart (PNG).")
    ] = None,
    option: OptionList = None,
) -> None:
    """Compare rerankers on BEIR data: nDCG@10, MRR@10, Recall, latency, documents/s and billed usage."""
    from rerankit.evaluation import evaluate

    options = parse_options(option)
    for spec in specs:
        quiet_model_loading(spec)
    try:
        result = evaluate(
            [(spec, options_for(spec, options)) for spec in specs],
            data,
            k=k,
            split=split,
            max_queries=max_queries,
            progress=True,
        )
    except RerankError as exc:
        raise fail(str(exc)) from exc
    if plot is not None:
        result.plot(plot)
        Console(stderr=True).print(Text(f"wrote {plot}"))
    if as_json:
        typer.echo(result.to_json(rankings=rankings))
    else:
        Console(highlight=False).print(eval_table(result))
