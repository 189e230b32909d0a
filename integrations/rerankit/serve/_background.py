"""A rerank server in a background thread of this process: for tests, notebooks and embedding."""

from __future__ import annotations

import threading
import time

import uvicorn

from rerankit.serve._app import RerankService, create_app
from rerankit.serve._config import ServeConfig
from rerankit.serve._protocol import header_timeout_protocol
from rerankit.serve._server import bind_socket


class BackgroundServer:
    """Serves ``config`` on ``127.0.0.1`` (a free port by default) from a background thread.

    Args:
        config: what to serve and the limits.
        host: the address to listen on. Defaults to ``127.0.0.1``.
        port: the TCP port; 0 lets the OS pick. Defaults to 0.
        wait_ready: on :meth:`start`, also wait until the model is loaded (``/health`` 200).
            Defaults to True.
        startup_timeout: seconds :meth:`start` waits. Defaults to 120.

    >>> from rerankit import Reranker
    >>> with BackgroundServer(ServeConfig(spec="local/BAAI/bge-reranker-base")) as server:  # doctest: +SKIP
    ...     client = Reranker("gateway/BAAI/bge-reranker-base", base_url=server.base_url)
    ...     client.rerank("what is bm25", ["a ranking function", "a fruit"]).results[0].index
    0
    """

    def __init__(
        self,
        config: ServeConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        wait_ready: bool = True,
        startup_timeout: float = 120.0,
    ) -> None:
        self.config = config
        self.app = create_app(config)
        self.host = host
        self.requested_port = port
        self.wait_ready = wait_ready
        self.startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def service(self) -> RerankService:
        """The app's state: config, served model, admission, metrics."""
        return self.app.state.service

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: what a client's ``base_url`` takes."""
        if self._port is None:
            raise RuntimeError("the server is not started; use it as a context manager or call start()")
        return f"http://{self.host}:{self._port}"

    def start(self) -> BackgroundServer:
        """Start serving; returns once it accepts connections (and, with ``wait_ready``, is loaded)."""
        if self._thread is not None:
            return self
        sock = bind_socket(self.host, self.requested_port)
        self._port = sock.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="on",
                http=header_timeout_protocol(self.config.read_timeout),
                timeout_graceful_shutdown=int(self.config.request_timeout + 5),
            )
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="rerankit-serve", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not (self._server.started and (self.service.model.ready or not self.wait_ready)):
            if self.service.model.load_error is not None:
                self.stop()
                raise RuntimeError(f"the model failed to load: {self.service.model.load_error}")
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the rerank server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving: in-flight requests finish, then the thread is joined."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self.config.request_timeout + 10)
        self._server = None
        self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.base_url if self._thread is not None else "stopped"
        return f"BackgroundServer({self.config.spec!r}, {state})"
