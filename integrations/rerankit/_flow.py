"""One flow for sync and async: a generator of actions, driven from either side.

A flow is written once, as a generator that *yields* what it needs done (send this request, sleep
this long: an action) and is *sent* the result, or has the failure *thrown* in at the ``yield``, as
if it had done the work itself. :func:`run` drives it with a sync handler, :func:`arun` with an
async one; only the handlers do I/O, so the sync and async sides differ only where their handlers
do. This is how httpx drives one ``Auth.auth_flow`` generator from ``Auth.sync_auth_flow`` and
``Auth.async_auth_flow`` (httpx ``_auth.py``).

>>> def double_after_a_nap(value):
...     yield ("sleep", 0.0)
...     answer = yield ("ask", value)
...     return 2 * answer
>>> run(double_after_a_nap(21), lambda action: action[1])
42
>>> import asyncio
>>> async def handle(action):
...     await asyncio.sleep(0)
...     return action[1]
>>> asyncio.run(arun(double_after_a_nap(21), handle))
42
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

Action = TypeVar("Action")
Result = TypeVar("Result")

#: A flow: yields actions, is sent each one's result (or has its failure thrown in), returns ``Result``.
Flow = Generator[Action, Any, Result]


class _Outcome:
    """What handling one action gave: its result, or the exception it raised (thrown into the flow)."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error


class _Stepper(Generic[Action, Result]):
    """Steps a flow: the action it waits on, or (``done``) the value it returned."""

    def __init__(self, flow: Generator[Action, Any, Result]) -> None:
        self._flow = flow
        self.done = False
        self.value: Result | None = None
        self.action: Action | None = None
        self._advance(None)

    def resume(self, outcome: _Outcome | None) -> None:
        """Hand the flow the outcome of its action; it runs to its next action or its end."""
        self._advance(outcome)

    def _advance(self, outcome: _Outcome | None) -> None:
        try:
            if outcome is None:
                self.action = next(self._flow)
            elif outcome.error is not None:
                error, outcome.error = outcome.error, None  # no reference cycle through the traceback
                self.action = self._flow.throw(error)
            else:
                self.action = self._flow.send(outcome.value)
        except StopIteration as stop:
            self.done, self.value = True, stop.value


def _handled(handle: Callable[[Any], Any], action: Any) -> _Outcome:
    try:
        return _Outcome(handle(action))
    except BaseException as error:  # every failure goes back into the flow, which decides
        return _Outcome(error=error)


async def _ahandled(handle: Callable[[Any], Awaitable[Any]], action: Any) -> _Outcome:
    try:
        return _Outcome(await handle(action))
    except BaseException as error:  # cancellation too: the flow cleans up and re-raises it
        return _Outcome(error=error)


def run(flow: Generator[Action, Any, Result], handle: Callable[[Action], Any]) -> Result:
    """Drive ``flow`` to its end, doing each action with ``handle``; the flow's return value."""
    stepper = _Stepper(flow)
    while not stepper.done:
        stepper.resume(_handled(handle, stepper.action))
    return stepper.value  # type: ignore[return-value]  # set when done


async def arun(flow: Generator[Action, Any, Result], handle: Callable[[Action], Awaitable[Any]]) -> Result:
    """Drive ``flow`` to its end, doing each action with the async ``handle``; the flow's return value."""
    stepper = _Stepper(flow)
    while not stepper.done:
        stepper.resume(await _ahandled(handle, stepper.action))
    return stepper.value  # type: ignore[return-value]  # set when done


__all__ = ["Flow", "arun", "run"]
