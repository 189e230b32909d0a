"""A header-read timeout for uvicorn, so that half-sent requests cannot hold connections forever.

uvicorn (0.30 to 0.55 at least) has no such timeout: ``timeout_keep_alive`` is armed only after
a response, and any byte received cancels it, so a client that opens a connection and sends its
headers one byte a minute (slowloris), or nothing at all, keeps it open as long as it likes; h11's
``max_incomplete_event_size`` (16 KiB) bounds the headers' size, not their time; httptools has
neither. :func:`header_timeout_protocol` makes uvicorn's h11 protocol close a connection, after a
``408 Request Timeout``, when a request's headers are not complete within ``seconds`` of the
connection opening or of the previous response (Go's ``http.Server.ReadHeaderTimeout``; nginx's
``client_header_timeout``, 60 s by default, answers 408 too). A slow *body* is the app's to bound
(:meth:`rerankit.serve._app.RerankService` reads each chunk within the same time).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class _HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers take too long."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in: the app has the request
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:  # waiting for the next request's headers
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.our_state is h11.IDLE:  # nothing sent on this cycle yet: say why
            body = b'{"error": {"message": "request headers not received in time", "type": "timeout_error", "code": 408}}'
            response = h11.Response(
                status_code=408,
                headers=[
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            )
            with contextlib.suppress(h11.LocalProtocolError):  # the state changed under us
                self.transport.write(self.conn.send(response) + self.conn.send(h11.Data(data=body)))
        self.transport.close()


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with a header-read timeout of ``seconds`` (``uvicorn.Config(http=...)``)."""
    return type("HeaderTimeoutH11Protocol", (_HeaderTimeoutH11Protocol,), {"header_timeout": seconds})


__all__ = ["header_timeout_protocol"]
