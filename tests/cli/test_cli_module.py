"""``python -m rerankit`` runs the same command as the ``rerankit`` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"


def test_python_dash_m_rerankit_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rerankit", "rank", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(INTEGRATIONS), "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: rerankit rank [OPTIONS]" in result.stdout
    assert "Rerank documents from FILE or stdin" in result.stdout
