"""Loopback servers for the remote backend tests: one per provider for the session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rerankit.testing.servers import PROVIDERS, RerankServer
from tests.loopback import ENV_VARS


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and addresses come only from what a test sets."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def shared_servers() -> Iterator[dict[str, RerankServer]]:
    servers = {provider: RerankServer(provider).start() for provider in PROVIDERS}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(params=PROVIDERS)
def server(request: pytest.FixtureRequest, shared_servers: dict[str, RerankServer]) -> RerankServer:
    """Each provider's server in turn, with no recorded requests, faults or latency."""
    server = shared_servers[request.param]
    server.latency = 0.0
    server.reset()
    return server


@pytest.fixture
def cohere_server(shared_servers: dict[str, RerankServer]) -> RerankServer:
    server = shared_servers["cohere"]
    server.latency = 0.0
    server.reset()
    return server
