"""``python -m rerankit``: the ``rerankit`` command, for environments without the console script."""

from rerankit.cli import app

app(prog_name="rerankit")
