"""``rerankit calibrate``: fit a map from a reranker's score to P(relevant) on labelled data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rerankit._cli._app import app
from rerankit._cli._backend_options import fail, options_for, parse_options, quiet_model_loading
from rerankit._errors import RerankError

#: BM25 candidates per query for BEIR data: the demo's first-stage depth.
DEFAULT_K = 30


@app.command()
def calibrate(
    spec: Annotated[
        str, typer.Argument(metavar="SPEC", help="Reranker spec, e.g. local/BAAI/bge-reranker-base.")
    ],
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="A BEIR directory (each judged query's BM25 top --k, labelled by qrels/<split>.tsv) or a "
            'JSON Lines file of {"query", "document", "label"} (optionally "query_id").',
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the calibration (a .json file).")
    ] = Path("calibration.json"),
    method: Annotated[
        str,
        typer.Option("--method", help="platt (a sigmoid of the score) or isotonic (a monotone step map)."),
    ] = "isotonic",
    holdout: Annotated[
        float, typer.Option("--holdout", help="Fraction of the queries held out to measure the ECE on.")
    ] = 0.3,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random split of the queries.")] = 0,
    k: Annotated[int, typer.Option("--k", min=1, help="BEIR: BM25 candidates per query.")] = DEFAULT_K,
    split: Annotated[str, typer.Option("--split", help="BEIR: which qrels/<split>.tsv.")] = "test",
    min_grade: Annotated[
        int, typer.Option("--min-grade", min=1, help="The lowest label grade counted relevant.")
    ] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the calibration file's report as JSON.")
    ] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            metavar="KEY=VALUE",
            help="Backend option, repeatable (-o is the output here, so the long form only).",
        ),
    ] = None,
) -> None:
    """Fit a map from SPEC's raw score to P(relevant) on labelled DATA: Platt or isotonic
    (scikit-learn), ECE (10 bins) before and after on held-out queries. Use it with
    Reranker(SPEC, calibration="calibration.json") or -o calibration=calibration.json."""
    from rerankit._calibration_fit import fit_calibration, read_labelled, reduction
    from rerankit._reranker import Reranker

    if output.suffix != ".json":
        hint = " (backend options are --option KEY=VALUE here)" if "=" in output.name else ""
        raise fail(f"--output must be a .json file, got {str(output)!r}{hint}", code=2)
    options = options_for(spec, parse_options(option))
    for key in ("normalize", "calibration"):
        if key in options:
            raise fail(f"calibrate fits the raw score: --option {key}=... does not apply", code=2)
    console = Console(highlight=False, stderr=as_json)
    try:
        queries = read_labelled(data, split=split, k=k, min_grade=min_grade)
        quiet_model_loading(spec)
        with Reranker(spec, **options) as reranker, console.status(f"scoring {len(queries)} queries"):
            calibration = fit_calibration(
                reranker, queries, method=method, holdout=holdout, seed=seed, data=str(data)
            )
    except RerankError as exc:
        raise fail(str(exc)) from exc
    calibration.save(output)
    report = calibration.report
    assert report is not None
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    table = Table(
        title=f"[bold]{escape(spec)}[/] on {escape(str(data))}: ECE ({report.bins} bins) on "
        f"{report.heldout_queries} held-out queries ({report.heldout_pairs} pairs, "
        f"{report.heldout_positives} relevant)",
        title_justify="left",
    )
    table.add_column("scores")
    table.add_column("ECE", justify="right")
    table.add_row(f"before: {escape(report.baseline)}", f"{report.ece_before:.4f}")
    for name, value in report.ece_by_method.items():
        mark = " [bold](written)[/]" if name == calibration.method else ""
        table.add_row(f"{name}{mark}", f"{value:.4f}")
    console.print(table)
    console.print(
        f"ECE {reduction(report):.0%} lower than before; fitted on {report.train_pairs} pairs "
        f"({report.train_positives} relevant). Wrote {escape(str(output))}: "
        f'Reranker("{escape(spec)}", calibration="{escape(str(output))}").'
    )
