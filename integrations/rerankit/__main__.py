"""``python -m rerankit``: the ``rerankit`` command, for environments without the console script."""

from rerankit._cli import app

app(prog_name="rerankit")
