"""The ``rerankit`` command: ``demo``, ``rank``, ``eval``, ``calibrate``, ``serve`` and ``export-onnx``.

``rerankit demo`` shows two-stage retrieval on the shipped corpus, offline; ``rerankit rank`` reranks
documents from a file or stdin; ``rerankit eval`` compares rerankers on BEIR-format data; ``rerankit calibrate`` fits a map from a
reranker's score to P(relevant) on labelled data. Backend
options are given as ``--option key=value`` (repeatable; values are read as JSON when they parse,
so ``batch_size=16`` is a number and ``device=cpu`` a string).
"""

from rerankit._cli import _calibrate, _demo, _eval, _export_onnx, _rank, _serve  # noqa: F401  (each registers its command)
from rerankit._cli._app import app

__all__ = ["app"]
