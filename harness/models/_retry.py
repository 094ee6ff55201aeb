"""Retries for remote calls: exponential backoff with jitter, honouring the server's retry-after.

Shared by every caller of an HTTP API (the openai-compatible backend, judge providers). It knows
no SDK: the caller passes a *classifier* that says whether a failure is transient and what the
server asked for. ``sdk_classifier(openai)`` / ``sdk_classifier(anthropic)`` build one for the
two SDKs, which share their exception names::

    import openai
    from harness.models._retry import RetryPolicy, aretry, sdk_classifier

    policy = RetryPolicy(max_retries=6)
    reply = await aretry(lambda: client.chat.completions.create(...), policy=policy,
                         classify=sdk_classifier(openai))

SDK-side retries should be switched off (``max_retries=0``) so this is the only retry loop, and
every retry shows up in ``RetryStats`` and the ``tunegate.retry`` log.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from harness.errors import ConfigError

T = TypeVar("T")
log = logging.getLogger("tunegate.retry")


@dataclass(frozen=True)
class Transient:
    """A failure worth retrying. ``reason`` is short ("429", "503", "timeout", "connection", "malformed")."""

    reason: str
    retry_after: float | None = None
    status: int | None = None


Classifier = Callable[[BaseException], Transient | None]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait.

    Attempt ``k`` (0-based) waits a uniform draw in ``[cap/2, cap]`` with
    ``cap = min(max_delay, base_delay * 2**k)`` ("equal jitter": clients that failed together
    spread out, yet none retries at once). A ``retry-after`` from the server replaces the backoff
    (plus up to ``base_delay`` of jitter), up to ``max_retry_after`` seconds; a server asking for
    longer than that is given up on rather than waited for silently.
    """

    max_retries: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        for name in ("base_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0 (seconds), got {value!r}")

    def delay(self, attempt: int, transient: Transient, rng: random.Random) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``; None: the server asks too much."""
        if transient.retry_after is not None:
            if transient.retry_after > self.max_retry_after:
                return None
            return max(0.0, transient.retry_after) + rng.uniform(0.0, self.base_delay)
        cap = min(self.max_delay, self.base_delay * (2.0**attempt))
        return rng.uniform(cap / 2.0, cap)


class RetriesExhausted(Exception):
    """The call kept failing transiently. The caller turns this into its domain error."""

    def __init__(self, attempts: int, last: Transient, error: BaseException, *, gave_up: str = "") -> None:
        self.attempts = attempts
        self.last = last
        self.error = error
        self.gave_up = gave_up or f"gave up after {attempts} attempt(s)"
        super().__init__(f"{self.gave_up}; last failure: {describe(last)} ({type(error).__name__})")


@dataclass
class RetryStats:
    """Counters shared by many concurrent calls (thread-safe). Read them after a run."""

    calls: int = 0
    attempts: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    waited_s: float = 0.0
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def _add(
        self, *, calls: int = 0, attempts: int = 0, reason: str = "", waited: float = 0.0, failed: int = 0
    ) -> None:
        with self._lock:
            self.calls += calls
            self.attempts += attempts
            if reason:
                self.retries[reason] += 1
            self.waited_s += waited
            self.failed += failed

    @property
    def n_retries(self) -> int:
        return sum(self.retries.values())

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": self.calls,
                "attempts": self.attempts,
                "retries": dict(sorted(self.retries.items())),
                "waited_s": round(self.waited_s, 3),
                "failed": self.failed,
            }


def describe(t: Transient) -> str:
    if t.status is not None:
        return f"HTTP {t.status}" + (
            f" (retry-after {t.retry_after:g}s)" if t.retry_after is not None else ""
        )
    return t.reason


def _next_wait(
    attempt: int,
    error: BaseException,
    transient: Transient,
    policy: RetryPolicy,
    rng: random.Random,
    what: str,
) -> float:
    """The wait before the next attempt, or raise RetriesExhausted."""
    if attempt >= policy.max_retries:
        raise RetriesExhausted(attempt + 1, transient, error) from error
    wait = policy.delay(attempt, transient, rng)
    if wait is None:
        raise RetriesExhausted(
            attempt + 1,
            transient,
            error,
            gave_up=f"the server asked to retry after {transient.retry_after:g}s, more than "
            f"max_retry_after={policy.max_retry_after:g}s",
        ) from error
    log.info(
        "%sretry %d/%d after %s: waiting %.3fs",
        f"{what}: " if what else "",
        attempt + 1,
        policy.max_retries,
        describe(transient),
        wait,
    )
    return wait


async def aretry(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    classify: Classifier,
    rng: random.Random | None = None,
    stats: RetryStats | None = None,
    what: str = "",
) -> T:
    """Await ``call()`` until it succeeds, retrying transient failures; others propagate at once."""
    rng = rng or random.Random()
    stats = stats if stats is not None else RetryStats()
    stats._add(calls=1)
    attempt = 0
    while True:
        stats._add(attempts=1)
        try:
            return await call()
        except Exception as exc:
            transient = classify(exc)
            if transient is None:
                stats._add(failed=1)
                raise
            try:
                wait = _next_wait(attempt, exc, transient, policy, rng, what)
            except RetriesExhausted:
                stats._add(failed=1)
                raise
        stats._add(reason=transient.reason, waited=wait)
        await asyncio.sleep(wait)
        attempt += 1


def retry(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    classify: Classifier,
    rng: random.Random | None = None,
    stats: RetryStats | None = None,
    what: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """The blocking twin of ``aretry`` (for sync SDK clients)."""
    rng = rng or random.Random()
    stats = stats if stats is not None else RetryStats()
    stats._add(calls=1)
    attempt = 0
    while True:
        stats._add(attempts=1)
        try:
            return call()
        except Exception as exc:
            transient = classify(exc)
            if transient is None:
                stats._add(failed=1)
                raise
            try:
                wait = _next_wait(attempt, exc, transient, policy, rng, what)
            except RetriesExhausted:
                stats._add(failed=1)
                raise
        stats._add(reason=transient.reason, waited=wait)
        sleep(wait)
        attempt += 1


def is_transient_status(status: int) -> bool:
    """408 timeout, 409 lock conflict, 429 rate limit and every 5xx (529: overloaded) are retried."""
    return status in (408, 409, 429) or status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lower.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / scale
        except ValueError:
            continue
        if math.isfinite(value) and value >= 0:
            return value
    raw = lower.get("retry-after")
    if raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return None


def sdk_classifier(sdk: ModuleType, *, extra: Classifier | None = None) -> Classifier:
    """A classifier for the ``openai`` or ``anthropic`` SDK (they share exception names).

    Transient: timeouts, connection errors, retryable HTTP statuses, and bodies that are not the
    JSON the SDK expected (a proxy's error page, a truncated reply). ``extra`` classifies the
    caller's own exceptions first (e.g. a reply whose content is missing).
    """
    timeout_error = sdk.APITimeoutError
    connection_error = sdk.APIConnectionError
    status_error = sdk.APIStatusError
    validation_error = sdk.APIResponseValidationError

    def classify(exc: BaseException) -> Transient | None:
        if extra is not None:
            found = extra(exc)
            if found is not None:
                return found
        if isinstance(exc, timeout_error):
            return Transient("timeout")
        if isinstance(exc, connection_error):
            return Transient("connection")
        if isinstance(exc, status_error):
            status = int(exc.status_code)
            if not is_transient_status(status):
                return None
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return Transient(str(status), retry_after=parse_retry_after(headers), status=status)
        if isinstance(exc, validation_error | json.JSONDecodeError):
            return Transient("malformed")
        return None

    return classify
