"""``rerankit rank``: rerank documents from a file or stdin."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rerankit._cli._app import OptionList, app
from rerankit._cli._backend_options import fail, options_for, parse_options, quiet_model_loading
from rerankit._errors import InvalidInputError, RerankError


def read_documents(
    lines: Iterable[str], text_field: str = "text", image_field: str = "image"
) -> list[dict[str, Any]]:
    """Documents from lines of text or JSON Lines.

    JSON Lines is chosen when the first non-blank line starts with ``{``; every record must then be
    an object with a string ``text_field``, a string ``image_field`` (an image file's path or a
    ``data:image/...;base64,`` URL: an image document, for a backend that takes images), or both
    (text and image together). Blank lines separate nothing and are skipped. Each document keeps
    its 1-based ``line`` number for messages and output.

    Args:
        lines: The input, line by line (a file or stdin).
        text_field: The field of a JSON record that is ranked. Defaults to ``"text"``.
        image_field: The field of a JSON record holding an image. Defaults to ``"image"``.

    Returns:
        ``{"line": number, "fields": record}`` per document; a line of plain text becomes the
        record ``{"text": line}``.

    Raises:
        InvalidInputError: The input is empty, a line is not valid JSON, or a record has neither a
            string ``text_field`` nor a string ``image_field`` (the message names the line).

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
        text, image = record.get(text_field), record.get(image_field)
        if not isinstance(text, str) and not isinstance(image, str):
            raise InvalidInputError(
                f"line {number}: field {text_field!r} must be a string"
                + (f" (or {image_field!r}, an image path or data URL)" if image is None else "")
            )
        if image is not None and not isinstance(image, str):
            raise InvalidInputError(f"line {number}: field {image_field!r} must be an image path or data URL")
        records.append({"line": number, "fields": record})
    return records


def record_document(fields: dict[str, Any], text_field: str, image_field: str, base: Path) -> Any:
    """What a record ranks as: its text, its image (a path relative to ``base``, or a URL), or both."""
    from rerankit._images import Image

    text, image = fields.get(text_field), fields.get(image_field)
    if not isinstance(image, str):
        return text
    if image.startswith(("data:", "http://", "https://")):
        picture = Image.from_url(image)
    else:
        picture = Image.from_path(base / image)
    return [picture, text] if isinstance(text, str) and text.strip() else picture


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
        float | None,
        typer.Option(
            "--score-threshold", help="Drop documents scoring below this (after --normalize/--calibration)."
        ),
    ] = None,
    normalize: Annotated[
        bool,
        typer.Option("--normalize", help="Map scores to 0-1 by the model family's documented normalization."),
    ] = False,
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration", help="A calibration file from `rerankit calibrate`: scores become P(relevant)."
        ),
    ] = None,
    text_field: Annotated[str, typer.Option("--text-field", help="The JSON Lines field to rank.")] = "text",
    image_field: Annotated[
        str,
        typer.Option(
            "--image-field",
            help="The JSON Lines field holding an image (a path, relative to FILE, or a data URL), "
            "for backends that take images.",
        ),
    ] = "image",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    option: OptionList = None,
) -> None:
    """Rerank documents from FILE or stdin for a query and print them best first."""
    from rerankit._reranker import Reranker

    options = parse_options(option)
    try:
        if source in (None, "-"):
            if sys.stdin is None or (source is None and sys.stdin.isatty()):
                raise fail("give a FILE, or pipe documents on stdin", code=2)
            records = read_documents(sys.stdin, text_field, image_field)
            base = Path.cwd()
        else:
            path = Path(source)
            if not path.is_file():
                raise fail(f"{source}: no such file", code=2)
            with path.open(encoding="utf-8") as lines:
                records = read_documents(lines, text_field, image_field)
            base = path.parent
        quiet_model_loading(spec)
        texts = [record_document(record["fields"], text_field, image_field, base) for record in records]
        mapping = {"normalize": normalize} if normalize else {}
        if calibration is not None:
            mapping["calibration"] = calibration
        with Reranker(spec, **mapping, **options_for(spec, options)) as reranker:
            response = reranker.rerank(query, texts, top_n=top_n, score_threshold=score_threshold)
    except RerankError as exc:
        raise fail(str(exc)) from exc

    if as_json:
        payload = {
            "query": query,
            "model": response.model,
            "backend": response.backend,
            "score_kind": response.score_kind,
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
        title=f"[bold]{escape(query)}[/] ({escape(response.backend)}/{escape(response.model)}, "
        f"scores: {escape(str(response.score_kind))})",
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
            Text(_shown(records[result.index]["fields"], text_field, image_field)),
        )
    Console(highlight=False).print(table)


def _shown(fields: dict[str, Any], text_field: str, image_field: str) -> str:
    """A record as the table shows it: its text, after ``[image: <path>]`` for an image."""
    text, image = fields.get(text_field), fields.get(image_field)
    if not isinstance(image, str):
        return text
    label = image if not image.startswith("data:") else image[:30] + "..."
    return f"[image: {label}]" + (f" {text}" if isinstance(text, str) else "")
