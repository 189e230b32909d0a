"""One flow for sync and async (rerankit._flow): the drivers, and the transport's one real
difference between its sync and async sides, kept explicit: only the async driver abandons a request
still in flight when the deadline passes."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from rerankit import RerankTimeoutError
from rerankit._flow import arun, run
from rerankit.backends._http import HTTPTransport
from rerankit.backends._settings import TransportSettings


def flow(log: list[str]):
    """Asks twice; a failure thrown in at the second question is answered with a fallback value."""
    try:
        first = yield "first"
        try:
            second = yield "second"
        except ValueError as error:
            second = f"recovered from {error}"
        return f"{first} / {second}"
    finally:
        log.append("cleaned up")


def answer(action: str) -> str:
    if action == "second":
        raise ValueError("no second answer")
    return f"{action} answer"


async def aanswer(action: str) -> str:
    await asyncio.sleep(0)
    return answer(action)


def test_both_drivers_drive_one_flow_the_same_way() -> None:
    log: list[str] = []
    assert run(flow(log), answer) == "first answer / recovered from no second answer"
    assert asyncio.run(arun(flow(log), aanswer)) == "first answer / recovered from no second answer"
    assert log == ["cleaned up", "cleaned up"]


def test_a_failure_the_flow_does_not_handle_is_raised_after_its_cleanup() -> None:
    log: list[str] = []

    def refuse(action: str) -> str:
        raise KeyError(action)

    with pytest.raises(KeyError, match="first"):
        run(flow(log), refuse)
    assert log == ["cleaned up"]


async def test_cancelling_the_async_driver_cancels_the_flow_too() -> None:
    log: list[str] = []

    async def hang(action: str) -> str:
        await asyncio.sleep(60)
        return action

    task = asyncio.ensure_future(arun(flow(log), hang))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["cleaned up"]


def transport(deadline: float) -> HTTPTransport:
    settings = TransportSettings(
        provider="test",
        base_url="http://127.0.0.1:9",
        deadline=deadline,
        max_retries=0,
    )
    return HTTPTransport(settings)


class SlowClient:
    """A sync client whose answer takes ``seconds``, past the deadline but within httpx's timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def request(self, *args, **kwargs) -> httpx.Response:
        time.sleep(self.seconds)
        return httpx.Response(200, json={"results": []})


def test_the_sync_side_lets_an_attempt_in_flight_finish_past_the_deadline(monkeypatch) -> None:
    slow = transport(deadline=0.1)
    monkeypatch.setattr(slow.clients, "sync_client", lambda endpoint: SlowClient(0.3))
    assert slow.post("/rerank", {}).payload == {"results": []}


async def test_the_async_side_abandons_an_attempt_in_flight_at_the_deadline(monkeypatch) -> None:
    slow = transport(deadline=0.1)

    async def asend(action):
        await asyncio.sleep(30)
        raise AssertionError("not abandoned at the deadline")

    monkeypatch.setattr(slow, "_asend", asend)
    with pytest.raises(RerankTimeoutError, match=r"did not finish within its deadline of 0\.1 s"):
        await slow.apost("/rerank", {})
    assert slow.endpoints[0].in_flight == 0 and slow.endpoints[0].failures == 1
