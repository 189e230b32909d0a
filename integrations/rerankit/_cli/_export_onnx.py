"""``rerankit export-onnx``: a cross-encoder to the files the torch-free ``onnx/`` backend reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rerankit._cli._app import app
from rerankit._cli._backend_options import fail, quiet_model_loading
from rerankit._errors import RerankError


@app.command("export-onnx")
def export_onnx(
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL", help="Hub id or directory of a BERT, XLM-R or ModernBERT cross-encoder."
        ),
    ],
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where to write the ONNX checkpoint.")],
    quantize: Annotated[
        str | None,
        typer.Option(
            "--quantize",
            help="int8: also write onnx/model_qint8_static.onnx (static int8 with NNCF, the head kept in fp32).",
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            exists=True,
            dir_okay=False,
            help='JSON Lines of {"query": ..., "passage": ...} pairs to calibrate int8 on '
            "(default: the shipped demo collection's 220 pairs).",
        ),
    ] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="Hub revision to export.")] = None,
    opset: Annotated[int, typer.Option("--opset", min=17, help="ONNX opset.")] = 18,
) -> None:
    """Export MODEL to DIR for Reranker("onnx/DIR"): fp32 onnx/model.onnx, optionally static int8.

    Needs torch and transformers here (pip install torch "rerankit[local,export]"); serving DIR
    needs only pip install "rerankit[onnx]".
    """
    if quantize not in (None, "int8"):
        raise fail(f"--quantize must be int8, got {quantize!r}", code=2)
    if calibration is not None and quantize is None:
        raise fail("--calibration calibrates --quantize int8; give both", code=2)
    from rerankit.backends._onnx._export import export_onnx as export

    quiet_model_loading(f"local/{model}")
    try:
        report = export(
            model, directory, revision=revision, quantize=quantize, calibration=calibration, opset=opset
        )
    except RerankError as exc:
        raise fail(str(exc)) from exc
    console = Console()
    console.print(f"wrote {escape(str(report.directory))}: {', '.join(report.files)}")
    console.print(f"fp32 network vs torch: max logit difference {report.max_abs_diff:.1e}")
    for note in report.notes:
        console.print(escape(note))
    console.print(f'load it with: Reranker("onnx/{escape(str(report.directory))}")')
