"""``rerankit demo``: two-stage retrieval on the shipped corpus, offline."""

from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rerankit._cli._app import OptionList, app
from rerankit._cli._backend_options import fail, options_for, parse_options, quiet_model_loading
from rerankit._demo_model import DEMO_MODEL, FALLBACK_MODEL, choose_demo_model, fallback_note
from rerankit._errors import ConfigurationError, RerankError
from rerankit.evaluation._metrics import metric_label

#: First-stage depth of the demo: BM25 candidates reranked per query.
DEMO_DEPTH = 30


def _relevance_mark(grade: int) -> str:
    return "[green]✓[/]" if grade >= 2 else "[yellow](✓)[/]" if grade > 0 else ""


def _side_by_side(result: Any, dataset: Any, query_id: str, reranked: Any, top: int = 5) -> Table:
    judged = dataset.qrels.get(query_id, {})
    first = result.first_stage.rankings[query_id][:top]
    second = reranked.rankings[query_id][:top]
    table = Table(
        title=f"[bold]{escape(dataset.queries[query_id])}[/]",
        title_justify="left",
        caption=f"nDCG@10: {result.first_stage.per_query[query_id]['ndcg@10']:.3f} -> "
        f"{reranked.per_query[query_id]['ndcg@10']:.3f}",
        caption_justify="left",
    )
    table.add_column("#", justify="right", style="dim")
    table.add_column(f"BM25 top {top}")
    table.add_column("BM25", justify="right")
    table.add_column(f"reranked top {top}")
    table.add_column("score", justify="right")

    def cell(ranked: Any) -> str:
        mark = _relevance_mark(judged.get(ranked.id, 0))
        return f"{escape(dataset.corpus[ranked.id].title or ranked.id)} {mark}".rstrip()

    for position in range(max(len(first), len(second))):
        left = first[position] if position < len(first) else None
        right = second[position] if position < len(second) else None
        table.add_row(
            str(position + 1),
            cell(left) if left else "",
            f"{left.score:.2f}" if left else "",
            cell(right) if right else "",
            f"{right.score:.3f}" if right else "",
        )
    return table


def _before_after(result: Any, reranked: Any) -> Table:
    table = Table(title="[bold]Quality over all queries[/]", title_justify="left")
    table.add_column("metric")
    table.add_column("BM25", justify="right")
    table.add_column("BM25 + rerank", justify="right")
    table.add_column("change", justify="right")
    for metric in result.metrics:
        before, after = result.first_stage.metrics[metric], reranked.metrics[metric]
        style = "green" if after > before + 1e-9 else "red" if after < before - 1e-9 else "dim"
        table.add_row(
            metric_label(metric), f"{before:.3f}", f"{after:.3f}", f"[{style}]{after - before:+.3f}[/]"
        )
    return table


@app.command()
def demo(
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help=f"Reranker spec; default {DEMO_MODEL} or, offline, {FALLBACK_MODEL}."
        ),
    ] = None,
    option: OptionList = None,
    k: Annotated[int, typer.Option("--k", min=1, help="BM25 candidates reranked per query.")] = DEMO_DEPTH,
    show: Annotated[int, typer.Option("--show", min=0, help="Queries to show side by side.")] = 3,
) -> None:
    """Two-stage retrieval on the shipped corpus: BM25 first, then a reranker; fully offline."""
    from rerankit._reranker import Reranker
    from rerankit.evaluation import DEMO_DATA, evaluate, load_beir

    console = Console(highlight=False)
    options = parse_options(option)
    spec, note = (model, None) if model else choose_demo_model()
    if note:
        console.print(Text(note, style="yellow"))
    try:
        dataset = load_beir(DEMO_DATA)
        quiet_model_loading(spec)
        started = time.perf_counter()
        downloading = spec == DEMO_MODEL and note is not None  # the hub's own progress bars show
        with nullcontext() if downloading else console.status(f"loading {spec}"):
            try:
                reranker = Reranker(spec, **options_for(spec, options))
            except ConfigurationError as exc:
                if model or spec == FALLBACK_MODEL:
                    raise
                console.print(Text(fallback_note(f"{spec} failed to load ({exc})"), style="yellow"))
                spec = FALLBACK_MODEL
                quiet_model_loading(spec)
                reranker = Reranker(spec, **options_for(spec, options))
        load_seconds = time.perf_counter() - started
        with reranker:
            result = evaluate([reranker], dataset, k=k, progress=True)
    except RerankError as exc:
        raise fail(str(exc)) from exc

    reranked = result.rerankers[0]
    console.print(
        f"[bold]rerankit demo[/]: {result.documents} passages, {result.queries} queries with relevance "
        f"labels; BM25 top {k}, reranked by [bold]{escape(spec)}[/]."
    )
    gains = sorted(
        result.first_stage.per_query,
        key=lambda qid: (
            -abs(reranked.per_query[qid]["ndcg@10"] - result.first_stage.per_query[qid]["ndcg@10"])
        ),
    )
    if show:
        console.print(
            f"\nThe {min(show, len(gains))} queries whose nDCG@10 changed most "
            "([green]✓[/] relevant, [yellow](✓)[/] partly relevant):"
        )
    for query_id in gains[:show]:
        console.print()
        console.print(_side_by_side(result, dataset, query_id, reranked))
    console.print()
    console.print(_before_after(result, reranked))
    latency = reranked.latency
    device = getattr(reranker.backend, "device", None)
    console.print(
        f"Rerank latency per query ({k} candidates): p50 {latency.p50_ms:.0f} ms, p95 {latency.p95_ms:.0f} ms; "
        f"{reranked.documents_per_second or 0:.0f} documents/s" + (f" on {device}" if device else "") + "; "
        f"model load {load_seconds:.1f} s."
    )
