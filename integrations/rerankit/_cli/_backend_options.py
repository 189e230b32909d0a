"""Backend options from the command line (``-o key=value``), and how a command fails."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape


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


def quiet_model_loading(spec: str) -> None:
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


def fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)
