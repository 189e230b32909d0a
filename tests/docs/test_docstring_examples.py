"""The ``>>>`` examples in the docstrings run and print what they show.

Examples that need a model from the Hugging Face hub or a GPU are marked ``# doctest: +SKIP``;
the others run here, the remote ones against the loopback servers of ``rerankit.testing.servers``.
"""

from __future__ import annotations

import doctest
import importlib
import logging

import pytest

MODULES = [
    "rerankit",
    "rerankit._adapters",
    "rerankit.backends",
    "rerankit.backends._registry",
    "rerankit._cli._options",
    "rerankit._cli._rank",
    "rerankit.backends._cohere",
    "rerankit.backends._deepinfra",
    "rerankit.backends._gateway",
    "rerankit.backends._jina",
    "rerankit.backends._mixedbread",
    "rerankit.backends._pinecone",
    "rerankit.backends._responses",
    "rerankit.backends._settings",
    "rerankit.backends._tei",
    "rerankit.backends._voyage",
    "rerankit.backends._zeroentropy",
    "rerankit.backends._http",
    "rerankit.backends._retries",
    "rerankit.backends._listwise",
    "rerankit.backends._splitting",
    "rerankit._options",
    "rerankit.backends._remote",
    "rerankit._errors",
    "rerankit.evaluation",
    "rerankit.evaluation._beir",
    "rerankit.evaluation._bm25",
    "rerankit.evaluation._evaluate",
    "rerankit.evaluation._latency",
    "rerankit.evaluation._metrics",
    "rerankit.evaluation._plot",
    "rerankit.evaluation._progress",
    "rerankit.evaluation._results",
    "rerankit.langchain",
    "rerankit.llama_index",
    "rerankit._reranker",
    "rerankit.testing",
    "rerankit.testing._fake",
    "rerankit._types",
    "rerankit._validation",
    "rerankit.serve._config",
    "rerankit.backends._local._options",
    "rerankit.backends._local._cross_encoder",
    "rerankit.backends._local._colbert",
    "rerankit.backends._local._seq2seq",
    "rerankit.backends._local._seq2seq_formats",
    "rerankit.backends._local._embedding",
    "rerankit.evaluation._options",
    "rerankit.ray",
]
#: Modules whose docstrings hold examples that must actually run (not only be skipped).
WITH_RUNNING_EXAMPLES = {
    "rerankit",  # the errors' examples: their classes are shown (``__module__``) as rerankit's
    "rerankit._adapters",
    "rerankit.backends._registry",
    "rerankit._cli._options",
    "rerankit._cli._rank",
    "rerankit.backends._cohere",
    "rerankit.backends._deepinfra",
    "rerankit.backends._gateway",
    "rerankit.backends._jina",
    "rerankit.backends._mixedbread",
    "rerankit.backends._pinecone",
    "rerankit.backends._responses",
    "rerankit.backends._settings",
    "rerankit.backends._tei",
    "rerankit.backends._voyage",
    "rerankit.backends._zeroentropy",
    "rerankit.backends._http",
    "rerankit.backends._listwise",
    "rerankit.backends._splitting",
    "rerankit._options",
    "rerankit.backends._remote",
    "rerankit.evaluation._beir",
    "rerankit.evaluation._bm25",
    "rerankit.evaluation._evaluate",
    "rerankit.evaluation._latency",
    "rerankit.evaluation._metrics",
    "rerankit.langchain",
    "rerankit.llama_index",
    "rerankit._reranker",
    "rerankit.testing._fake",
    "rerankit._types",
    "rerankit._validation",
    "rerankit.serve._config",
    "rerankit.backends._local._options",
    "rerankit.backends._local._cross_encoder",
    "rerankit.backends._local._colbert",
    "rerankit.backends._local._seq2seq",
    "rerankit.backends._local._seq2seq_formats",
    "rerankit.backends._local._embedding",
    "rerankit.evaluation._options",
    "rerankit.ray",
}


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
