"""Work for a client that has gone is cancelled: a request whose connection closed is not scored.

A plain ASGI response does not notice a client that hangs up while the server works (Starlette
only watches for it when streaming), so :func:`unless_disconnected` watches the request's
``receive`` channel: once the body has been read, the next message the server sends is
``http.disconnect``, when the connection closes (or when the response is complete, which comes
after the work). "Fail at Scale" (Maurer, ACM Queue 2015): cancel work whose client has gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client closed its connection before the answer was ready; its work was cancelled."""


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` (after the request body was read); cancel it if the client goes first.

    Raises:
        ClientDisconnected: the client hung up first; ``awaitable`` was cancelled and awaited.
    """
    work = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this task is cancelled (the deadline): nothing is left running
        for task in (work, watcher):
            if not task.done():
                task.cancel()
        await asyncio.gather(work, watcher, return_exceptions=True)
    if work.cancelled():
        raise ClientDisconnected
    return work.result()


__all__ = ["ClientDisconnected", "unless_disconnected"]
