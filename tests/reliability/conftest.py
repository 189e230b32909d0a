"""Reliability suite: soak runs are deselected unless asked for with ``-m soak`` (deselected,
not skipped, so they never count as passed); ``figures`` collects the numbers printed after the
run; ``serve`` hands out loopback servers shared by the tests.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``@pytest.mark.soak`` tests unless the ``-m`` expression names ``soak``."""
    if "soak" in (config.option.markexpr or ""):
        return
    soak = [item for item in items if item.get_closest_marker("soak")]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if not item.get_closest_marker("soak")]


#: Figures the reliability tests record (calls, faults, retries, lost), printed after the run.
FIGURES = pytest.StashKey[list]()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> list[str]:
    """Append a line of figures to print in the terminal summary."""
    return request.config.stash.setdefault(FIGURES, [])


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def _loopback_servers():
    """Loopback servers started once and shared by the tests that ask ``serve`` for them."""
    servers: dict[str, object] = {}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def serve(_loopback_servers):
    """``serve(provider, **settings)``: a running ``RerankServer`` for ``provider``, reset to a clean
    state (nothing recorded or queued, no faults, no latency) and then given ``settings``
    (``fault_rate``, ``faults``, ``latency``, ``stall_seconds``, ``retry_after``, ``api_key``)."""
    from rerankit.testing.servers import DEFAULT_RANDOM_FAULTS, RerankServer

    def serve(provider: str, **settings):
        server = _loopback_servers.get(provider)
        if server is None:
            server = _loopback_servers[provider] = RerankServer(provider).start()
        server.reset()
        clean = {
            "fault_rate": 0.0,
            "faults": DEFAULT_RANDOM_FAULTS,
            "latency": 0.0,
            "stall_seconds": 10.0,
            "retry_after": "1",
            "api_key": "test-key",
        }
        for name, value in {**clean, **settings}.items():
            setattr(server, name, tuple(value) if name == "faults" else value)
        return server

    return serve
