"""The ``rerankit`` command: ``demo``, ``rank``, ``eval`` and ``serve``.

``rerankit demo`` shows two-stage retrieval on the shipped corpus, offline; ``rerankit rank`` reranks
documents from a file or stdin; ``rerankit eval`` compares rerankers on BEIR-format data. Backend
options are given as ``--option key=value`` (repeatable; values are read as JSON when they parse,
so ``batch_size=16`` is a number and ``device=cpu`` a string).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rerankit._demo_model import DEMO_MODEL, FALLBACK_MODEL, choose_demo_model, fallback_note
from rerankit._errors import ConfigurationError, InvalidInputError, RerankError
from rerankit.evaluation._metrics import metric_label

#: First-stage depth of the demo: BM25 candidates reranked per query.
DEMO_DEPTH = 30
app = typer.Typer(
    name="rerankit",
    help="Rerank documents with local cross-encoders, embedding models or hosted rerank APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

OptionList = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        metavar="KEY=VALUE",
        help="Backend option, repeatable (e.g. -o device=cpu -o batch_size=16); values are read as "
        "JSON when they parse. BACKEND:KEY=VALUE (-o local:device=cpu) applies to that backend's specs only.",
    ),
]


# -- options -------------------------------------------------------------------------------------------


def parse_option_value(raw: str) -> Any:
    """A value as JSON when it parses (numbers, true/false, null, lists), else the string itself.

    Args:
        raw: What followed ``=`` on the command line.

    Returns:
        The parsed JSON value, or ``raw`` unchanged.

    >>> parse_option_value("16"), parse_option_value("cpu"), parse_option_value("[1, 2]")
    (16, 'cpu', [1, 2])
    """
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_options(values: Iterable[str] | None) -> list[tuple[str | None, str, Any]]:
    """Read ``--option`` values: ``[backend:]key=value`` strings -> (backend or None, key, value).

    Args:
        values: The ``--option`` strings, in order; ``None`` when none were given.

    Returns:
        One ``(scope, key, value)`` per string: ``scope`` is the backend prefix before ``:``, or
        ``None`` for an option that applies to every spec; ``value`` is read by
        :func:`parse_option_value`.

    Raises:
        typer.BadParameter: A string is not ``KEY=VALUE`` or ``BACKEND:KEY=VALUE``.

    >>> parse_options(["device=cpu", "local:batch_size=16"])
    [(None, 'device', 'cpu'), ('local', 'batch_size', 16)]
    """
    parsed = []
    for item in values or []:
        name, sep, raw = item.partition("=")
        scope, colon, key = name.rpartition(":")
        if not sep or not key.strip() or (colon and not scope):
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE or BACKEND:KEY=VALUE", param_hint="--option")
        parsed.append((scope or None, key.strip(), parse_option_value(raw)))
    return parsed


def options_for(spec: str, options: Sequence[tuple[str | None, str, Any]]) -> dict[str, Any]:
    """The options that apply to ``spec``: unscoped ones and those scoped to its backend prefix.

    Args:
        spec: A reranker spec, ``"<backend>/<model id>"``.
        options: What :func:`parse_options` returned.

    Returns:
        The keyword options to build ``spec``'s reranker with.

    >>> options = parse_options(["timeout=5", "local:device=cpu"])
    >>> options_for("local/BAAI/bge-reranker-base", options), options_for("cohere/rerank-v3.5", options)
    ({'timeout': 5, 'device': 'cpu'}, {'timeout': 5})
    """
    prefix = spec.partition("/")[0]
    return {key: value for scope, key, value in options if scope is None or scope == prefix}


def _quiet_model_loading(spec: str) -> None:
    """Hide transformers' per-load "Loading weights" bars (download bars stay) for in-process models."""
    if spec.partition("/")[0] not in ("local", "embedding", "colbert", "t5"):
        return
    try:
        import huggingface_hub.utils
        import transformers.utils.logging
    except ImportError:
        return
    hub_bars_were_on = not huggingface_hub.utils.are_progress_bars_disabled()
    transformers.utils.logging.disable_progress_bar()  # also turns the hub's bars off ...
    if hub_bars_were_on:
        huggingface_hub.utils.enable_progress_bars()  # ... which a download still wants


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


# -- demo ----------------------------------------------------------------------------------------------


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
        _quiet_model_loading(spec)
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
                _quiet_model_loading(spec)
                reranker = Reranker(spec, **options_for(spec, options))
        load_seconds = time.perf_counter() - started
        with reranker:
            result = evaluate([reranker], dataset, k=k, progress=True)
    except RerankError as exc:
        raise _fail(str(exc)) from exc

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


# -- rank ----------------------------------------------------------------------------------------------


def read_documents(lines: Iterable[str], text_field: str = "text") -> list[dict[str, Any]]:
    """Documents from lines of text or JSON Lines.

    JSON Lines is chosen when the first non-blank line starts with ``{``; every record must then be
    an object with a string ``text_field``. Blank lines separate nothing and are skipped. Each
    document keeps its 1-based ``line`` number for messages and output.

    Args:
        lines: The input, line by line (a file or stdin).
        text_field: The field of a JSON record that is ranked. Defaults to ``"text"``.

    Returns:
        ``{"line": number, "fields": record}`` per document; a line of plain text becomes the
        record ``{"text": line}``.

    Raises:
        InvalidInputError: The input is empty, a line is not valid JSON, or a record lacks a
            string ``text_field`` (the message names the line).

    >>> read_documents(["first\\n", "\\n", "second\\n"])
    [{'line': 1, 'fields': {'text': 'first'}}, {'line': 3, 'fields': {'text': 'second'}}]
    >>> read_documents(['{"body": "x", "id": 7}\\n'], text_field="body")
    [{'line': 1, 'fields': {'body': 'x', 'id': 7}}]
    """
    from rerankit.evaluation._beir import json_records

    lines = list(lines)
    first = next((line.strip() for line in lines if line.strip()), None)
    if first is None:
        raise InvalidInputError("no documents: the input is empty")
    if not first.startswith("{"):
        records = [
            {"line": number, "fields": {"text": line.rstrip("\r\n")}}
            for number, line in enumerate(lines, start=1)
            if line.strip()
        ]
        return records
    records = []
    for number, record in json_records(lines):
        if not isinstance(record.get(text_field), str):
            raise InvalidInputError(f"line {number}: field {text_field!r} must be a string")
        records.append({"line": number, "fields": record})
    return records


@app.command()
def rank(
    spec: Annotated[
        str, typer.Argument(metavar="SPEC", help="Reranker spec, e.g. local/BAAI/bge-reranker-base.")
    ],
    query: Annotated[str, typer.Option("--query", "-q", help="The query to rank the documents for.")],
    source: Annotated[
        str | None,
        typer.Argument(metavar="[FILE|-]", help="Documents, one per line or JSON Lines; '-' or none: stdin."),
    ] = None,
    top_n: Annotated[int | None, typer.Option("--top-n", "-n", min=1, help="Keep the best N.")] = None,
    score_threshold: Annotated[
        float | None, typer.Option("--score-threshold", help="Drop documents scoring below this.")
    ] = None,
    text_field: Annotated[str, typer.Option("--text-field", help="The JSON Lines field to rank.")] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    option: OptionList = None,
) -> None:
    """Rerank documents from FILE or stdin for a query and print them best first."""
    from rerankit._reranker import Reranker

    options = parse_options(option)
    try:
        if source in (None, "-"):
            if sys.stdin is None or (source is None and sys.stdin.isatty()):
                raise _fail("give a FILE, or pipe documents on stdin", code=2)
            records = read_documents(sys.stdin, text_field)
        else:
            path = Path(source)
            if not path.is_file():
                raise _fail(f"{source}: no such file", code=2)
            with path.open(encoding="utf-8") as lines:
                records = read_documents(lines, text_field)
        _quiet_model_loading(spec)
        texts = [record["fields"][text_field] for record in records]
        with Reranker(spec, **options_for(spec, options)) as reranker:
            response = reranker.rerank(query, texts, top_n=top_n, score_threshold=score_threshold)
    except RerankError as exc:
        raise _fail(str(exc)) from exc

    if as_json:
        payload = {
            "query": query,
            "model": response.model,
            "backend": response.backend,
            "usage": response.usage.model_dump(),
            "results": [
                {
                    "rank": position,
                    "index": result.index,
                    "line": records[result.index]["line"],
                    "relevance_score": result.relevance_score,
                    "document": records[result.index]["fields"],
                }
                for position, result in enumerate(response.results, start=1)
            ],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    table = Table(
        title=f"[bold]{escape(query)}[/] ({escape(response.backend)}/{escape(response.model)})",
        title_justify="left",
    )
    table.add_column("#", justify="right", style="dim")
    table.add_column("score", justify="right")
    table.add_column("line", justify="right", style="dim")
    table.add_column("document", overflow="fold")
    for position, result in enumerate(response.results, start=1):
        table.add_row(
            str(position),
            f"{result.relevance_score:.4f}",
            str(records[result.index]["line"]),
            Text(result.document),
        )
    Console(highlight=False).print(table)


# -- eval ----------------------------------------------------------------------------------------------


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
        _quiet_model_loading(spec)
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
        raise _fail(str(exc)) from exc
    if plot is not None:
        result.plot(plot)
        Console(stderr=True).print(Text(f"wrote {plot}"))
    if as_json:
        typer.echo(result.to_json(rankings=rankings))
    else:
        Console(highlight=False).print(eval_table(result))


# -- serve ---------------------------------------------------------------------------------------------


@app.command()
def serve(
    spec: Annotated[
        str,
        typer.Argument(metavar="SPEC", help="Reranker spec to serve, e.g. local/BAAI/bge-reranker-v2-m3."),
    ],
    option: OptionList = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port; 0 picks a free one.")
    ] = 8000,
    served_model_name: Annotated[
        str | None,
        typer.Option(
            "--served-model-name", help="The model name clients send (default: the spec's model id)."
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="RERANKIT_SERVE_API_KEY",
            show_default=False,
            help="Key clients must send as 'Authorization: Bearer KEY' (prefer the environment variable).",
        ),
    ] = None,
    max_documents: Annotated[
        int, typer.Option("--max-documents", min=1, help="Documents per request.")
    ] = 1000,
    max_request_bytes: Annotated[
        int, typer.Option("--max-request-bytes", min=1, help="Bytes per request body.")
    ] = 2_000_000,
    max_queue: Annotated[
        int, typer.Option("--max-queue", min=1, help="Requests admitted at once; more get 429.")
    ] = 256,
    request_timeout: Annotated[
        float, typer.Option("--request-timeout", min=0.001, help="Seconds per request before a 504.")
    ] = 30.0,
    max_instructions: Annotated[
        int, typer.Option("--max-instructions", min=1, help="Distinct per-request instructions kept ready.")
    ] = 16,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log a line per request.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve SPEC over HTTP: POST /v1/rerank, /rerank, /v2/rerank; GET /health, /info, /metrics."""
    try:
        from rerankit.serve import ServeConfig, run_server
    except ImportError as exc:
        raise _fail(
            f"rerankit serve needs starlette, uvicorn and prometheus-client ({exc.name}): "
            "pip install 'rerankit[serve]'"
        ) from exc
    from pydantic import ValidationError

    _quiet_model_loading(spec)
    try:
        config = ServeConfig(
            spec=spec,
            options=options_for(spec, parse_options(option)),
            served_model_name=served_model_name,
            api_key=api_key,
            max_documents=max_documents,
            max_request_bytes=max_request_bytes,
            max_queue=max_queue,
            request_timeout=request_timeout,
            max_instructions=max_instructions,
        )
    except (ValidationError, RerankError) as exc:
        raise _fail(str(exc), code=2) from exc
    try:
        status = run_server(config, host=host, port=port, log_level=log_level, access_log=access_log)
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc}") from exc
    if status:
        raise typer.Exit(status)
