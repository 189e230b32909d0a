"""The connections of one remote backend: per endpoint a pooled ``httpx.Client`` and, per event
loop, ``httpx.AsyncClient`` pools of at most :data:`POOL_SIZE` connections, made on first use."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from rerankit import __version__
from rerankit.backends._endpoints import Endpoint
from rerankit.backends._settings import TransportSettings

USER_AGENT = f"rerankit/{__version__} (+https://rerankit.readthedocs.io)"
#: The most connections in one async pool. httpcore's pool re-scans its queued requests against its
#: connections on every change, so its CPU cost grows with requests x connections; a larger
#: ``max_connections`` is split into several pools of this size (see docs/performance.md).
POOL_SIZE = 8


class LoopPools:
    """The async clients of one event loop: ``connections`` split into pools of at most
    :data:`POOL_SIZE`, each opened when the ones before it are full; a request goes to the least
    busy pool."""

    def __init__(self, make_client: Callable[[int], httpx.AsyncClient], connections: int) -> None:
        self.loop = asyncio.get_running_loop()
        self._make_client = make_client
        self._sizes = [min(POOL_SIZE, connections - start) for start in range(0, connections, POOL_SIZE)]
        self.clients: list[httpx.AsyncClient] = []
        self._busy: list[int] = []

    @property
    def is_closed(self) -> bool:
        return any(client.is_closed for client in self.clients)

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """The least busy client (relative to its size), counted busy while the request runs."""
        opened = len(self.clients)
        index = min(range(opened), key=lambda i: self._busy[i] / self._sizes[i], default=None)
        if index is None or (self._busy[index] >= self._sizes[index] and opened < len(self._sizes)):
            self.clients.append(self._make_client(self._sizes[opened]))
            self._busy.append(0)
            index = opened
        self._busy[index] += 1
        try:
            yield self.clients[index]
        finally:
            self._busy[index] -= 1

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


class EndpointClients:
    """Makes, hands out and closes the clients of each endpoint (``max_connections`` per endpoint)."""

    def __init__(self, settings: TransportSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def _options(self, endpoint: Endpoint, connections: int) -> dict[str, Any]:
        return {
            "base_url": endpoint.url,
            "timeout": self.settings.timeout,
            "follow_redirects": False,
            "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            "headers": {"user-agent": USER_AGENT, "accept": "application/json", **self.settings.headers},
        }

    def sync_client(self, endpoint: Endpoint) -> httpx.Client:
        with self._lock:
            if endpoint.client is None or endpoint.client.is_closed:
                endpoint.client = httpx.Client(**self._options(endpoint, self.settings.max_connections))
            return endpoint.client

    def loop_pools(self, endpoint: Endpoint) -> LoopPools:
        loop = asyncio.get_running_loop()
        pools = endpoint.pools
        if pools is None or pools.is_closed or pools.loop is not loop:
            # A client's connections belong to the loop that opened them.
            pools = endpoint.pools = LoopPools(
                lambda size: httpx.AsyncClient(**self._options(endpoint, size)),
                self.settings.max_connections,
            )
        return pools

    def close(self, endpoints: list[Endpoint]) -> None:
        """Close the pooled sync connections (the async clients are closed by :meth:`aclose`)."""
        with self._lock:
            clients = [endpoint.client for endpoint in endpoints if endpoint.client is not None]
            for endpoint in endpoints:
                endpoint.client = None
        for client in clients:
            client.close()

    async def aclose(self, endpoints: list[Endpoint]) -> None:
        """Close all pools (an async pool opened on another, finished event loop is just dropped)."""
        self.close(endpoints)
        loop = asyncio.get_running_loop()
        for endpoint in endpoints:
            pools, endpoint.pools = endpoint.pools, None
            if pools is not None and pools.loop is loop:
                await pools.aclose()


__all__ = ["POOL_SIZE", "USER_AGENT", "EndpointClients", "LoopPools"]
