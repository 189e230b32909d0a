"""A ``rerankit.testing.servers.RerankServer`` in its own process, for the remote benchmarks.

In its own process the server's request handling does not take the client's GIL, as with a real
remote API. Run alone it prints its base URL, then answers ``stats`` (requests seen, peak in flight),
``reset``, ``faults <rate> <fault,...>`` (every request, at that rate, gets one of them), ``stop``
and ``start`` (stop serving, then serve again on the same port) on stdin until stdin closes::

    python benchmarks/loopback_server.py cohere --latency 0.02 --max-documents-per-request 1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import harness  # noqa: F401  (puts integrations/ on sys.path)


class ServerProcess:
    """Start ``loopback_server.py`` in a child process; a context manager exposing ``base_url``."""

    def __init__(
        self, provider: str, *, latency: float = 0.0, max_documents_per_request: int | None = None
    ) -> None:
        command = [sys.executable, str(Path(__file__)), provider, "--latency", str(latency)]
        if max_documents_per_request is not None:
            command += ["--max-documents-per-request", str(max_documents_per_request)]
        self._command = command
        self._process: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> ServerProcess:
        self._process = subprocess.Popen(
            self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.__exit__()
            raise RuntimeError(f"the loopback server did not start: {self.base_url!r}")
        return self

    def _ask(self, command: str) -> str:
        assert self._process is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        return self._process.stdout.readline().strip()

    def stats(self) -> dict[str, int]:
        """Requests received and the peak of concurrent requests since the last :meth:`reset`."""
        return json.loads(self._ask("stats"))

    def reset(self) -> None:
        """Forget recorded requests and the in-flight peak."""
        self._ask("reset")

    def faults(self, rate: float, *faults: str) -> None:
        """Answer that share of the requests with one of ``faults`` (``faults(0)``: heal)."""
        self._ask(f"faults {rate} {','.join(faults) or '503'}")

    def stop_serving(self) -> None:
        """Stop serving (connections refused) until :meth:`start_serving`."""
        self._ask("stop")

    def start_serving(self) -> None:
        """Serve again, on the same port."""
        self._ask("start")

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.stdin.close()
            self._process.wait(timeout=30)
            self._process = None


def main() -> None:
    from rerankit.testing.servers import RerankServer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("provider")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--max-documents-per-request", type=int, default=None)
    args = parser.parse_args()
    with RerankServer(
        args.provider, latency=args.latency, max_documents_per_request=args.max_documents_per_request
    ) as server:
        print(server.base_url, flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                stats = {"requests": len(server.requests), "max_in_flight": server.max_in_flight}
                print(json.dumps(stats), flush=True)
            elif line.strip() == "reset":
                server.reset()
                print("ok", flush=True)
            elif line.startswith("faults "):
                _, rate, faults = line.split()
                server.fault_rate, server.faults = float(rate), tuple(faults.split(","))
                print("ok", flush=True)
            elif line.strip() in ("stop", "start"):
                server.stop() if line.strip() == "stop" else server.start()
                print("ok", flush=True)


if __name__ == "__main__":
    main()
