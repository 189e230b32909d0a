"""Python function calls per traced ``rerank`` call, counted by ``cProfile``: a measure of the
tracing hooks' work that a loaded machine does not blur (``tracing.py`` times them).

The loopback call of ``tracing.py`` (Cohere format, 20 documents), its answer served in process by
httpx's ``MockTransport`` so that only the client is counted. Each line is one process:

* ``installed, no provider``: the OpenTelemetry API without an SDK, calls over ``not installed``
  (rerankit's side unloaded in the same process);
* ``on``: an SDK with no-op exporters as in ``tracing.py``, calls over ``not installed`` and over
  ``not installed`` plus the SDK floor of ``tracing_floor.py`` (rerankit's own share).

Reproduce (a minute; ``--source`` counts another checkout's ``integrations/``)::

    python benchmarks/tracing_calls.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

WORKER = """
import cProfile, json, pstats, sys
SOURCE, SDK = sys.argv[1], sys.argv[2] == "sdk"
if SDK:
    import otel_noop

    otel_noop.install(60_000)
import httpx
import rerankit
assert rerankit.__file__.startswith(SOURCE), (rerankit.__file__, SOURCE)
import harness
import rerankit._tracing as tracing
from rerankit.backends import _clients

BODY = json.dumps({"id": "r", "results": [{"index": i, "relevance_score": 1 - i / 20} for i in range(20)],
                   "meta": {"billed_units": {"search_units": 1}}}).encode()
def answer(request):
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json", "x-request-id": "r1"})
options = _clients.EndpointClients._options
_clients.EndpointClients._options = lambda self, e, c: {**options(self, e, c), "transport": httpx.MockTransport(answer)}

documents = harness.mixed_documents(20, seed=3)
reranker = rerankit.Reranker("cohere/rerank-v3.5", base_url="http://loopback.invalid", api_key="test-key")
assert tracing.enabled()
loaded = tracing._otel

def count(function, calls=200):
    function()
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        function()
    profile.disable()
    return sum(row[1] for row in pstats.Stats(profile).stats.values()) / calls

call = lambda: reranker.rerank(harness.QUERY, documents)
tracing._otel = None
untraced = count(call)
tracing._otel = loaded
traced = count(call)
floor = 0.0
if SDK:
    from tracing_floor import floor_call
    floor = count(floor_call())
print(json.dumps([untraced, traced, floor]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--source", type=Path, default=here.parent / "integrations")
    args = parser.parse_args()
    source = args.source.resolve()
    environment = {"PYTHONPATH": f"{source}:{here}", "PATH": "", "HF_HUB_OFFLINE": "1"}
    for label, sdk in (("installed, no provider", "api"), ("on, no-op exporter", "sdk")):
        result = subprocess.run(
            [sys.executable, "-c", WORKER, str(source), sdk],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
        )
        untraced, traced, floor = (float(x) for x in result.stdout.strip().splitlines()[-1][1:-1].split(","))
        line = f"{label}: {traced - untraced:+.0f} calls over not installed ({untraced:,.0f} a call)"
        if sdk == "sdk":
            line += f", {traced - untraced - floor:+.0f} over it plus the SDK floor ({floor:,.0f})"
        print(line)


if __name__ == "__main__":
    main()
