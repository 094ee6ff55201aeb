"""Concurrency that adapts to the judge server: additive increase, multiplicative decrease (AIMD).

A hosted API takes 16 requests at once; a local server that answers one request at a time
(``transformers serve``, a laptop llama.cpp) queues them, and every queued request's timeout runs
while it waits, so a fixed 16 turns into a wall of timeouts and retries that never finishes.
``AdaptiveLimit`` starts at the configured concurrency and:

- halves the number of requests in flight (down to 1) when a request times out or the server
  says it is overloaded (429, 503, 529): once per *window*, so a burst of failures of requests
  sent together counts as one signal, as in TCP congestion control;
- adds one request in flight per window of successes (``limit += 1/limit`` per success), back up
  to the configured concurrency.

Only attempts hold a slot: a request waiting out its backoff leaves room for others.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

OVERLOAD = frozenset({"timeout", "429", "503", "529"})
"""Failure reasons (``Transient.reason``) that mean the server has more than it can take."""


@dataclass
class Slot:
    """One attempt's hold on the limit; ``window`` is the limit's window when it was taken."""

    window: int


class AdaptiveLimit:
    """An asyncio limiter whose capacity follows the server (see the module docstring)."""

    def __init__(self, maximum: int, *, minimum: int = 1) -> None:
        self.maximum = max(1, int(maximum))
        self.minimum = max(1, min(int(minimum), self.maximum))
        self.limit = float(self.maximum)
        self.in_flight = 0
        self.window = 0
        self.decreases = 0
        self._cond: asyncio.Condition | None = None

    @property
    def current(self) -> int:
        """Requests allowed in flight now."""
        return max(self.minimum, int(self.limit))

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self.in_flight < self.current)
            self.in_flight += 1
        try:
            yield Slot(self.window)
        finally:
            async with cond:
                self.in_flight -= 1
                cond.notify_all()

    def succeeded(self) -> None:
        self.limit = min(float(self.maximum), self.limit + 1.0 / max(self.limit, 1.0))

    def failed(self, reason: str | None, slot: Slot) -> bool:
        """Record a failed attempt; True when it shrank the limit (an overload, first of its window)."""
        if reason not in OVERLOAD or slot.window != self.window:
            return False
        self.window += 1
        self.decreases += 1
        self.limit = max(float(self.minimum), self.limit / 2.0)
        return True
