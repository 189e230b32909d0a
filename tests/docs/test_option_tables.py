"""The option tables of the docs pages agree with the code: every option of a local backend (and of
``rerank_dataset``) is listed, with the default its signature (read from its options model) has."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from rerankit.backends import (
    EmbeddingBackend,
    LocalColBERT,
    LocalCrossEncoder,
    LocalSeq2Seq,
    OnnxCrossEncoder,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
_ROW = re.compile(r"^\|\s*(`[^|]+)\|\s*(`[^|]+)\|", re.MULTILINE)
_CODE = re.compile(r"`([^`]+)`")


def _rerank_dataset() -> Callable:
    pytest.importorskip("pyarrow", reason="rerankit.ray needs ray[data]: pip install 'rerankit[ray]'")
    from rerankit.ray import rerank_dataset

    return rerank_dataset


PAGES = [
    ("backends/local.md", lambda: LocalCrossEncoder.__init__),
    ("backends/colbert.md", lambda: LocalColBERT.__init__),
    ("backends/t5.md", lambda: LocalSeq2Seq.__init__),
    ("backends/embedding.md", lambda: EmbeddingBackend.__init__),
    ("backends/onnx.md", lambda: OnnxCrossEncoder.__init__),
    ("scale.md", _rerank_dataset),
]


def documented_defaults(page: str) -> dict[str, object]:
    """``{option: default}`` from the rows ``| `name` | `default` | ...`` of a page's tables
    (a row may name several options: ``| `a`, `b` | `False`, `None` |`` or one default for all)."""
    found: dict[str, object] = {}
    for names_cell, defaults_cell in _ROW.findall((DOCS / page).read_text(encoding="utf-8")):
        names, defaults = _CODE.findall(names_cell), _CODE.findall(defaults_cell)
        if len(defaults) == 1:
            defaults = defaults * len(names)
        if len(defaults) != len(names):
            continue
        for name, default in zip(names, defaults, strict=True):
            try:
                found[name] = ast.literal_eval(default)
            except (ValueError, SyntaxError):
                continue  # not a default (another table's cell)
    return found


@pytest.mark.parametrize(("page", "function"), PAGES, ids=[page for page, _ in PAGES])
def test_every_option_is_listed_with_its_default(page: str, function: Callable[[], Callable]) -> None:
    parameters = inspect.signature(function()).parameters.values()
    options = {
        p.name: p.default
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("model", "ds")
    }
    documented = documented_defaults(page)
    missing = sorted(set(options) - set(documented))
    assert not missing, f"docs/{page} lists no default for {missing}"
    wrong = {
        name: (documented[name], default) for name, default in options.items() if documented[name] != default
    }
    assert not wrong, f"docs/{page}: (documented, actual) defaults differ: {wrong}"
