"""``rerankit serve``: the core as an HTTP rerank server."""

from __future__ import annotations

from typing import Annotated

import typer

from rerankit._cli._app import OptionList, app
from rerankit._cli._backend_options import fail, options_for, parse_options, quiet_model_loading
from rerankit._errors import RerankError
from rerankit.serve._config import ServeConfig


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
    max_documents_per_request: Annotated[
        int,
        typer.Option("--max-documents-per-request", "--max-documents", help="Documents per request."),
    ] = ServeConfig.default("max_documents_per_request"),
    max_request_bytes: Annotated[
        int, typer.Option("--max-request-bytes", help="Bytes per request body.")
    ] = ServeConfig.default("max_request_bytes"),
    max_queue: Annotated[
        int,
        typer.Option(
            "--max-queue",
            help="Requests admitted at once; more (or more work than fits half the deadline) get 429.",
        ),
    ] = ServeConfig.default("max_queue"),
    request_timeout: Annotated[
        float, typer.Option("--request-timeout", help="Seconds per request before a 504.")
    ] = ServeConfig.default("request_timeout"),
    max_instructions: Annotated[
        int, typer.Option("--max-instructions", help="Distinct per-request instructions kept ready.")
    ] = ServeConfig.default("max_instructions"),
    read_timeout: Annotated[
        float,
        typer.Option(
            "--read-timeout",
            help="Seconds to send a request's headers, then each part of its body; then 408.",
        ),
    ] = ServeConfig.default("read_timeout"),
    access_log: Annotated[bool, typer.Option("--access-log", help="Log a line per request.")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve SPEC over HTTP: POST /v1/rerank, /rerank, /v2/rerank; GET /health, /info, /metrics."""
    try:
        from rerankit.serve import run_server
    except ImportError as exc:
        raise fail(str(exc)) from exc
    quiet_model_loading(spec)
    try:
        config = ServeConfig.validated(
            {
                "spec": spec,
                "options": options_for(spec, parse_options(option)),
                "served_model_name": served_model_name,
                "api_key": api_key,
                "max_documents_per_request": max_documents_per_request,
                "max_request_bytes": max_request_bytes,
                "max_queue": max_queue,
                "request_timeout": request_timeout,
                "max_instructions": max_instructions,
                "read_timeout": read_timeout,
            }
        )
    except RerankError as exc:
        raise fail(str(exc), code=2) from exc
    try:
        status = run_server(config, host=host, port=port, log_level=log_level, access_log=access_log)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc}") from exc
    if status:
        raise typer.Exit(status)
