"""Running the app under uvicorn: binding, the startup line, and graceful shutdown on SIGTERM."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable

import uvicorn

from rerankit.serve._app import create_app
from rerankit.serve._config import ServeConfig
from rerankit.serve._protocol import header_timeout_protocol

logger = logging.getLogger("rerankit.serve")

#: Seconds added to ``request_timeout`` for draining on shutdown: an in-flight request may run its
#: whole deadline and still be answered before the process exits.
DRAIN_MARGIN_S = 5.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``port`` 0: one the OS picks), IPv4 or IPv6 by ``host``."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


def run_server(
    config: ServeConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    access_log: bool = False,
    announce: Callable[[str], None] | None = None,
) -> int:
    """Serve ``config`` until SIGTERM or SIGINT; returns the process exit status.

    On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish (up to
    ``config.request_timeout`` plus :data:`DRAIN_MARGIN_S` seconds), then the app releases its
    backends. uvicorn (>= 0.29) then re-raises the signal, so the process ends as stopped by
    SIGTERM (status 143 in a shell), as a supervisor expects. If the model fails to load, the server
    stops and 1 is returned.

    Args:
        config: what to serve and the limits.
        host: the address to listen on. Defaults to ``127.0.0.1`` (``0.0.0.0`` in a container).
        port: the TCP port; 0 lets the OS pick a free one. Defaults to 8000.
        log_level: uvicorn's log level. Defaults to ``"info"``.
        access_log: log one line per request (method, path, status; never headers). Defaults to False.
        announce: called with ``http://HOST:PORT`` once the socket is bound (before the model loads).
            Defaults to printing ``rerankit serve: listening on http://HOST:PORT`` to stderr.

    Returns:
        0 after a clean stop that raised no signal (``should_exit`` set in-process), 1 when the model
        could not be loaded.
    """
    failed: list[BaseException] = []
    server: uvicorn.Server | None = None

    def stop_on_load_failure(error: BaseException) -> None:
        failed.append(error)
        if server is not None:
            server.should_exit = True

    app = create_app(config, on_load_failure=stop_on_load_failure)
    sock = bind_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    url = f"http://{shown_host}:{bound_port}"
    (announce or _announce)(url)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level=log_level,
            access_log=access_log,
            timeout_graceful_shutdown=int(config.request_timeout + DRAIN_MARGIN_S),
            lifespan="on",
            http=header_timeout_protocol(config.read_timeout),
        )
    )
    server.run(sockets=[sock])
    return 1 if failed else 0


def _announce(url: str) -> None:
    print(f"rerankit serve: listening on {url}", file=sys.stderr, flush=True)
