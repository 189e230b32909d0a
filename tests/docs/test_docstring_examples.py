"""The ``>>>`` examples in the docstrings run and print what they show.

Examples that need a model from the Hugging Face hub or a GPU are marked ``# doctest: +SKIP``;
the others run here, the remote ones against the loopback servers of ``rerankit.testing.servers``.
"""

from __future__ import annotations

import doctest
import importlib
import logging
import pkgutil

import pytest

from rerankit.backends import RERANK_APIS

#: Every registered rerank API's backend module (``"module:Class"`` in the registry): each has an
#: example that runs against its loopback server, so a provider added there must have one.
PROVIDER_MODULES = {RERANK_APIS[name].partition(":")[0] for name in RERANK_APIS}
#: Modules whose examples all need the hub, a GPU or a Ray cluster (or that have none yet): they
#: are checked not to fail; every other module with examples must run at least one.
ONLY_SKIPPED_EXAMPLES = {
    "rerankit._errors",
    "rerankit.backends",
    "rerankit.backends._retries",
    "rerankit.evaluation",
    "rerankit.evaluation._plot",
    "rerankit.evaluation._progress",
    "rerankit.evaluation._results",
    "rerankit.testing",
    "rerankit.testing._family_models",
    "rerankit.testing.models",
}


def package_modules() -> list[str]:
    """Every module of the package (``rerankit.__main__`` runs the CLI when imported): a module is
    checked here because it exists, not because someone listed it."""
    import rerankit

    found = pkgutil.walk_packages(rerankit.__path__, "rerankit.")
    return ["rerankit", *sorted(info.name for info in found if not info.name.endswith("__main__"))]


MODULES = package_modules()


def test_every_registered_provider_module_is_checked() -> None:
    assert set(MODULES) >= PROVIDER_MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, caplog: pytest.LogCaptureFixture) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran, reports = 0, []
    with caplog.at_level(logging.WARNING, logger="rerankit"):  # fallbacks log a warning
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
            ran += runner.run(test, out=reports.append).attempted  # +SKIP examples are not attempted
    assert runner.failures == 0, "".join(reports)
    has_examples = any(test.examples for test in doctest.DocTestFinder(exclude_empty=True).find(module, name))
    if name in PROVIDER_MODULES or (has_examples and name not in ONLY_SKIPPED_EXAMPLES):
        assert ran > 0, f"{name} has no docstring example that runs"
