"""The ``rerankit`` Typer app and the option every command takes."""

from __future__ import annotations

from typing import Annotated

import typer

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
