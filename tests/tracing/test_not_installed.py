"""Without OpenTelemetry installed, rerankit imports nothing of it and its hooks do no work: each
decorator calls straight through, each context-manager hook is one shared no-op, and no call trace
is made (run in a fresh interpreter where ``opentelemetry`` cannot be imported)."""

from __future__ import annotations

import subprocess
import sys

from tests.test_optional_imports import INTEGRATIONS

WITHOUT_OPENTELEMETRY = """
import asyncio, importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())

import rerankit._tracing as tracing
from rerankit import Reranker
from rerankit.testing import FakeBackend
from rerankit.testing.servers import RerankServer

def no_trace(*args, **kwargs):
    raise AssertionError("a call trace was made")

tracing.CallTrace = no_trace  # the decorators reach it only when something is to be recorded

with RerankServer("cohere") as cohere:
    remote = Reranker("cohere/rerank-v3.5", base_url=cohere.base_url, api_key="test-key",
                      fallbacks=[Reranker(FakeBackend())], cache=True)
    cohere.fail_next("503")
    print(remote.rerank("q", ["a", "b"]).backend)
    print(asyncio.run(remote.arerank("q", ["a", "c"])).backend)
    print([r.backend for r in remote.rerank_batch(["q", "r"], [["a"], ["b"]])])

score = lambda query, texts: texts
print("decorators pass through:", tracing.part_scorer(score, [[]]) is score, tracing.apart_scorer(score, [[]]) is score)
print("hooks are one no-op:", tracing.forward_pass(8, 100) is tracing.NO_SPAN,
      tracing.http_attempt("cohere", None, False, 2, "POST", "/v2/rerank") is tracing.NO_SPAN)
print("loaded:", tracing._otel, tracing.enabled())
print("imported:", sorted(name for name in sys.modules if name.startswith(("opentelemetry", "openinference"))))
"""


def test_without_opentelemetry_nothing_is_imported_and_no_hook_does_work() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_OPENTELEMETRY],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(INTEGRATIONS), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "cohere",
        "cohere",
        "['cohere', 'cohere']",
        "decorators pass through: True True",
        "hooks are one no-op: True True",
        "loaded: None False",
        "imported: []",
    ], result.stdout + result.stderr
