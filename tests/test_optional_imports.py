"""A user without an extra gets an ImportError naming the extra to install, not a raw one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

INTEGRATIONS = Path(__file__).resolve().parents[1] / "integrations"

# Run in a fresh interpreter where the framework's package cannot be imported, as without the extra.
BLOCK_AND_IMPORT = """
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {blocked!r} or name.startswith({blocked!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Missing())
try:
    import {module}
except ImportError as exc:
    print(type(exc).__name__, exc, "| cause:", type(exc.__cause__).__name__)
else:
    print("imported")
"""


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("rerankit.llama_index", "llama_index", "rerankit[llama-index]"),
        ("rerankit.langchain", "langchain_core", "rerankit[langchain]"),
        ("rerankit.testing.servers", "uvicorn", "rerankit[serve]"),
        ("rerankit.testing.servers", "starlette", "rerankit[serve]"),
    ],
)
def test_an_adapter_without_its_framework_names_the_extra(module: str, blocked: str, extra: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_AND_IMPORT.format(module=module, blocked=blocked)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(INTEGRATIONS), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ImportError"), result.stdout
    assert f"pip install '{extra}'" in result.stdout
    assert "cause: ModuleNotFoundError" in result.stdout  # the original error is chained, not lost


def test_serve_names_its_extra_only_when_its_app_is_asked_for() -> None:
    code = BLOCK_AND_IMPORT.format(module="rerankit.serve", blocked="starlette") + (
        "\nfrom rerankit.serve import ServeConfig\nprint('config', ServeConfig.default('max_queue'))"
        "\ntry:\n    from rerankit.serve import create_app\nexcept ImportError as exc:\n"
        "    print(type(exc).__name__, exc, '| cause:', type(exc.__cause__).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(INTEGRATIONS), "PATH": ""},
    )
    imported, config, refused = result.stdout.splitlines()
    assert (imported, config) == ("imported", "config 256"), result.stdout + result.stderr
    assert refused.startswith("ImportError") and "pip install 'rerankit[serve]'" in refused
    assert "cause: ModuleNotFoundError" in refused


def test_the_test_kit_imports_without_servers_or_models_extras() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_AND_IMPORT.format(module="rerankit.testing", blocked="uvicorn")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(INTEGRATIONS), "PATH": ""},
    )
    assert result.stdout.strip() == "imported", result.stdout + result.stderr
