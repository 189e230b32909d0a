"""The server's measured throughput: pairs scored per second of busy time, over a recent window.

Admission (:mod:`rerankit.serve._admission`) estimates how long a request would wait from it. Busy
time is the time some request was being scored, so an idle server does not read as a slow one, and
the figure is whatever the model really does on this machine with this traffic (long documents
lower it, merged forward passes raise it); nothing is configured or assumed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

#: Busy seconds the throughput is averaged over: several forward passes, so one slow pass or one
#: long request moves it little, yet a change of traffic shows within seconds.
WINDOW_S = 20.0


class ThroughputMeter:
    """Pairs scored per busy second, over the last :data:`WINDOW_S` busy seconds.

    ``started()``/``finished()`` mark when work is in service (any amount, possibly overlapping);
    ``scored(pairs)`` counts pairs that were answered. One server's event loop drives it: no lock.

    >>> now = [0.0]
    >>> meter = ThroughputMeter(clock=lambda: now[0])
    >>> meter.rate is None
    True
    >>> meter.started(); now[0] = 2.0; meter.scored(100); meter.finished()
    >>> now[0] = 50.0  # idle time does not count
    >>> meter.rate
    50.0
    """

    def __init__(self, *, window: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._in_service = 0
        self._busy_before = 0.0  # busy seconds of the busy periods that ended
        self._busy_since: float | None = None
        self._pairs = 0
        #: (busy seconds, pairs scored) after each answer, the oldest first
        self._samples: deque[tuple[float, int]] = deque([(0.0, 0)])

    def busy_seconds(self) -> float:
        """Busy seconds since the start, the current busy period included."""
        ongoing = 0.0 if self._busy_since is None else self._clock() - self._busy_since
        return self._busy_before + ongoing

    def started(self) -> None:
        """Some work went into service."""
        if self._in_service == 0:
            self._busy_since = self._clock()
        self._in_service += 1

    def finished(self) -> None:
        """Work that :meth:`started` left service (answered, failed or cancelled)."""
        self._in_service -= 1
        if self._in_service == 0 and self._busy_since is not None:
            self._busy_before += self._clock() - self._busy_since
            self._busy_since = None

    def scored(self, pairs: int) -> None:
        """``pairs`` were scored and answered."""
        self._pairs += pairs
        busy = self.busy_seconds()
        self._samples.append((busy, self._pairs))
        while len(self._samples) > 2 and busy - self._samples[1][0] >= self.window:
            self._samples.popleft()

    @property
    def rate(self) -> float | None:
        """Pairs per busy second over the window; ``None`` until something was scored."""
        if self._pairs == 0:
            return None
        busy, pairs = self._samples[-1]
        then_busy, then_pairs = self._samples[0]
        if busy <= then_busy:
            return None
        return (pairs - then_pairs) / (busy - then_busy)


__all__ = ["WINDOW_S", "ThroughputMeter"]
