"""The ``>>>`` examples in the docstrings run and print what they show.

Examples that need a model from the Hugging Face hub or a GPU are marked ``# doctest: +SKIP``;
the others run here, the remote ones against the loopback servers of ``rerankit.testing.servers``.
"""

from __future__ import annotations

import doctest
import importlib
import logging

import pytest

from rerankit.backends import RERANK_APIS

#: Every registered rerank API's backend module (``"module:Class"`` in the registry): each has an
#: example that runs against its loopback server, so a provider added there is checked here too.
PROVIDER_MODULES = {RERANK_APIS[name].partition(":")[0] for name in RERANK_APIS}
#: Modules whose docstrings hold examples that must actually run (not only be skipped); the errors'
#: examples run under ``rerankit``, which their classes name as their module.
WITH_RUNNING_EXAMPLES = PROVIDER_MODULES | {
    "rerankit",
    "rerankit._adapters",
    "rerankit._calibration",
    "rerankit._calibration_fit",
    "rerankit._cli._backend_options",
    "rerankit._cli._rank",
    "rerankit._flow",
    "rerankit._options_base",
    "rerankit._reranker",
    "rerankit._score_kinds",
    "rerankit._tracing._errors",
    "rerankit._tracing._names",
    "rerankit._types",
    "rerankit._validation",
    "rerankit.backends._breaker",
    "rerankit.backends._http",
    "rerankit.backends._listwise",
    "rerankit.backends._local._colbert",
    "rerankit.backends._local._cross_encoder",
    "rerankit.backends._local._devices",
    "rerankit.backends._local._embedding",
    "rerankit.backends._local._formats",
    "rerankit.backends._local._option_models",
    "rerankit.backends._local._prefix_reuse",
    "rerankit.backends._local._seq2seq",
    "rerankit.backends._local._seq2seq_formats",
    "rerankit.backends._provider",
    "rerankit.backends._registry",
    "rerankit.backends._remote",
    "rerankit.backends._responses",
    "rerankit.backends._score_scales",
    "rerankit.backends._settings",
    "rerankit.backends._splitting",
    "rerankit.evaluation._beir",
    "rerankit.evaluation._bm25",
    "rerankit.evaluation._evaluate",
    "rerankit.evaluation._latency",
    "rerankit.evaluation._metrics",
    "rerankit.evaluation._option_models",
    "rerankit.langchain",
    "rerankit.llama_index",
    "rerankit.ray",
    "rerankit.serve._config",
    "rerankit.testing._fake",
}
#: Modules whose examples all need the hub, a GPU or a Ray cluster (or that have none yet): they
#: are checked not to fail.
ONLY_SKIPPED_EXAMPLES = {
    "rerankit._errors",
    "rerankit.backends",
    "rerankit.backends._retries",
    "rerankit.evaluation",
    "rerankit.evaluation._plot",
    "rerankit.evaluation._progress",
    "rerankit.evaluation._results",
    "rerankit.testing",
}
MODULES = sorted(WITH_RUNNING_EXAMPLES | ONLY_SKIPPED_EXAMPLES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, caplog: pytest.LogCaptureFixture) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran, reports = 0, []
    with caplog.at_level(logging.WARNING, logger="rerankit"):  # fallbacks log a warning
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
            ran += runner.run(test, out=reports.append).attempted  # +SKIP examples are not attempted
    assert runner.failures == 0, "".join(reports)
    if name in WITH_RUNNING_EXAMPLES:
        assert ran > 0, f"{name} has no docstring example that runs"
