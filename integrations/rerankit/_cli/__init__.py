"""The ``rerankit`` command: ``demo``, ``rank``, ``eval`` and ``serve``.

``rerankit demo`` shows two-stage retrieval on the shipped corpus, offline; ``rerankit rank`` reranks
documents from a file or stdin; ``rerankit eval`` compares rerankers on BEIR-format data. Backend
options are given as ``--option key=value`` (repeatable; values are read as JSON when they parse,
so ``batch_size=16`` is a number and ``device=cpu`` a string).
"""

from rerankit._cli import _demo, _eval, _rank, _serve  # noqa: F401  (each registers its command)
from rerankit._cli._app import app

__all__ = ["app"]
