"""The documentation site builds with ``mkdocs build --strict`` and renders the pages it promises."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "mkdocs.yml"


def nav_pages(items: list) -> list[str]:
    """Every page path the nav names, in order."""
    pages = []
    for item in items:
        ((_, value),) = item.items()
        pages.extend(nav_pages(value) if isinstance(value, list) else [value])
    return pages


def load_config() -> dict:
    # mkdocs.yml may use !!python tags in the future; it uses none today, so safe_load suffices.
    return yaml.safe_load(CONFIG.read_text())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module with ``--strict`` (a warning fails the build)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(CONFIG),
            "--site-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=out,  # paths in mkdocs.yml must resolve relative to the config, not the caller
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr[-6000:]}"
    return out


def test_every_nav_entry_is_a_page_in_docs() -> None:
    missing = [page for page in nav_pages(load_config()["nav"]) if not (ROOT / "docs" / page).is_file()]
    assert not missing, f"nav names pages that do not exist under docs/: {missing}"


def test_the_build_needs_no_network() -> None:
    config = load_config()
    assert config["theme"]["font"] is False, "google fonts would be fetched at build and view time"
    plugins = {next(iter(p)) if isinstance(p, dict) else p for p in config["plugins"]}
    assert plugins <= {"search", "mkdocstrings"}, f"unexpected plugins (network, versioning?): {plugins}"


def test_every_nav_page_is_rendered(site: Path) -> None:
    for page in nav_pages(load_config()["nav"]):
        html = site / ("index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html")
        assert html.is_file(), f"{page} was not rendered to {html}"
        assert "<h1" in html.read_text(), f"{page} has no title"


def test_the_api_reference_is_generated_from_docstrings(site: Path) -> None:
    api = (site / "api" / "index.html").read_text()
    for anchor in (
        "rerankit.Reranker",
        "rerankit.Reranker.rerank",
        "rerankit.Reranker.arerank",
        "rerankit.RerankResponse",
        "rerankit.Usage",
        "rerankit.RerankError",
        "rerankit.RateLimitError",
        "rerankit.Backend",
        "rerankit.backends.LocalCrossEncoder",
    ):
        assert f'id="{anchor}"' in api, f"{anchor} is missing from the API reference"
    # A docstring sentence, so the page shows the docstrings and not only the signatures.
    assert "score_threshold" in api and "drops results scoring below it" in api
    # A backend's options are made from its options model at import: the page shows them, each with
    # its field's description (docs/griffe_generated_options.py), not the source's one placeholder.
    assert "made from its options model" not in api
    assert "reuse_prefix" in api and "once per query and let every" in api


def test_docstring_examples_render_as_code_not_block_quotes(site: Path) -> None:
    api = (site / "api" / "index.html").read_text()
    assert '<span class="gp">&gt;&gt;&gt; </span>' in api, "doctest prompts should be highlighted code"
    assert "<blockquote>" not in api, "a bare >>> example rendered as a block quote"
    assert "doctest: +SKIP" not in api
    assert ":class:`" not in api and ":meth:`" not in api, "a Sphinx role was left as literal text"


def test_docs_pages_link_to_each_other(site: Path) -> None:
    index = (site / "index.html").read_text()
    for target in ("quickstart/", "backends/local/", "architecture/", "api/"):
        assert f'href="{target}"' in index, f"the home page does not link to {target}"


def _extension_module():
    spec = importlib.util.spec_from_file_location(
        "griffe_doctest_fences", ROOT / "docs" / "griffe_doctest_fences.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doctest_fences_leave_fenced_code_and_examples_sections_alone() -> None:
    fences = _extension_module().fence_doctests
    fenced = "Text.\n\n```python\n>>> kept\n```"
    assert fences(fenced) == fenced
    examples = "Text.\n\nExamples:\n    >>> 1 + 1\n    2"
    assert fences(examples) == examples
    bare = "Text.\n\n>>> Reranker('local/x')  # doctest: +SKIP\n... # more\nout\n\nAfter."
    assert fences(bare).splitlines() == [
        "Text.",
        "",
        "```pycon",
        ">>> Reranker('local/x')",
        "... # more",
        "out",
        "```",
        "",
        "After.",
    ]


def test_roles_become_inline_code() -> None:
    roles = _extension_module().plain_roles
    assert roles(":class:`~rerankit.Reranker` and :meth:`rerankit.Reranker.arerank`") == (
        "`Reranker` and `rerankit.Reranker.arerank`"
    )
