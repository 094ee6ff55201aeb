"""Retries for remote calls: exponential backoff with jitter, honouring the server's retry-after.

Shared by every caller of an HTTP API (the openai-compatible backend, judge providers). It knows
no SDK: the caller passes a *classifier* that says whether a failure is transient and what the
server asked for. ``sdk_classifier(openai)`` / ``sdk_classifier(anthropic)`` build one for the
two SDKs, which share their exception names::

    import openai
    from tunegate.harness.retry import RetryPolicy, aretry, sdk_classifier

    policy = RetryPolicy(max_retries=6)
    reply = await aretry(lambda: client.chat.completions.create(...), policy=policy,
                         classify=sdk_classifier(openai))

SDK-side retries should be switched off (``max_retries=0``) so this is the only retry loop, and
every retry shows up in ``RetryStats`` and the ``tunegate.retry`` log.

There is one loop: ``Schedule`` decides, attempt by attempt, whether a failure is retried and
how long to wait; ``retry`` (blocking) and ``aretry`` (async) only call and sleep. A reply that
arrived but is not what the API promises (an HTML error page with status 200, truncated JSON)
is raised as ``MalformedReply`` and retried like a timeout.
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
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import Any, TypedDict, TypeVar, Unpack

from tunegate.harness.errors import ConfigError
from tunegate.harness.redact import redact_text

T = TypeVar("T")
log = logging.getLogger("tunegate.retry")

__all__ = [
    "Attempt",
    "Classifier",
    "MalformedReply",
    "ReplyDeadline",
    "RetriesExhausted",
    "RetryPolicy",
    "RetryStats",
    "Schedule",
    "ScheduleOptions",
    "Transient",
    "aretry",
    "body_excerpt",
    "deadline",
    "describe",
    "is_transient_status",
    "parse_retry_after",
    "retry",
    "sdk_classifier",
    "server_message",
]


@dataclass(frozen=True)
class Transient:
    """A failure worth retrying. ``reason`` is short ("429", "503", "timeout", "connection", "malformed");
    ``detail`` (redacted) says more, e.g. the first bytes of a malformed body."""

    reason: str
    retry_after: float | None = None
    status: int | None = None
    detail: str = ""


class MalformedReply(Exception):
    """The server answered, but not with the JSON the API promises (retried as "malformed")."""

    def __init__(self, detail: str) -> None:
        self.detail = redact_text(detail)
        super().__init__(self.detail)


class ReplyDeadline(TimeoutError):
    """The whole reply did not arrive within the attempt's deadline (retried as "timeout").

    An HTTP client's read timeout restarts with every byte, so a server that drips its reply one
    byte a second never trips it; ``deadline`` bounds the whole attempt instead."""


async def deadline(seconds: float, call: Awaitable[T]) -> T:
    """``await call``, cancelled after ``seconds`` in all (connect, send, every byte of the reply)."""
    try:
        return await asyncio.wait_for(call, timeout=seconds)
    except TimeoutError:
        raise ReplyDeadline(f"no complete reply within {seconds:g}s (options.timeout)") from None


def body_excerpt(body: str | bytes, limit: int = 200) -> str:
    """The first ``limit`` characters of a reply body, redacted, for an error message."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    return redact_text(repr(text[:limit]) + ("..." if len(text) > limit else ""))


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
        super().__init__(
            redact_text(f"{self.gave_up}; last failure: {describe(last)} ({type(error).__name__})")
        )


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
        text = f"HTTP {t.status}" + (
            f" (retry-after {t.retry_after:g}s)" if t.retry_after is not None else ""
        )
    else:
        text = t.reason
    return f"{text}: {redact_text(t.detail)}" if t.detail else text


class Attempt:
    """One try of a ``Schedule``: a context manager around the call.

    On a transient failure with retries left it swallows the exception and sets ``wait``; on a
    permanent one it lets it propagate; when retries run out it raises ``RetriesExhausted``.
    """

    def __init__(self, schedule: Schedule) -> None:
        self._schedule = schedule
        self.wait = 0.0

    def __enter__(self) -> Attempt:
        self._schedule.stats._add(attempts=1)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # success, or a cancellation / KeyboardInterrupt: not ours to handle
        wait = self._schedule.failed(exc)
        if wait is None:
            return False  # a permanent failure propagates as it is
        self.wait = wait
        return True


class Schedule:
    """The retry loop's decisions, for one call: iterate it, wrap each try in the ``Attempt``::

    for attempt in Schedule(policy, classify):
        with attempt:
            return call()
        sleep(attempt.wait)
    """

    def __init__(
        self,
        policy: RetryPolicy,
        classify: Classifier,
        *,
        rng: random.Random | None = None,
        stats: RetryStats | None = None,
        what: str = "",
    ) -> None:
        self.policy = policy
        self.classify = classify
        self.rng = rng or random.Random()
        self.stats = stats if stats is not None else RetryStats()
        self.what = what
        self.attempt = 0

    def __iter__(self) -> Iterator[Attempt]:
        self.stats._add(calls=1)
        while True:
            yield Attempt(self)
            self.attempt += 1

    def failed(self, error: Exception) -> float | None:
        """Seconds to wait before the next try; None: ``error`` is permanent (not retried).

        Raises ``RetriesExhausted`` when the retries are spent or the server asks for too long."""
        transient = self.classify(error)
        if transient is None:
            self.stats._add(failed=1)
            return None
        policy, attempt = self.policy, self.attempt
        wait = policy.delay(attempt, transient, self.rng) if attempt < policy.max_retries else None
        if wait is None:
            self.stats._add(failed=1)
            gave_up = ""
            if attempt < policy.max_retries:
                gave_up = (
                    f"the server asked to retry after {transient.retry_after:g}s, more than "
                    f"max_retry_after={policy.max_retry_after:g}s"
                )
            raise RetriesExhausted(attempt + 1, transient, error, gave_up=gave_up) from error
        log.info(
            "%sretry %d/%d after %s: waiting %.3fs",
            f"{self.what}: " if self.what else "",
            attempt + 1,
            policy.max_retries,
            describe(transient),
            wait,
        )
        self.stats._add(reason=transient.reason, waited=wait)
        return wait


class ScheduleOptions(TypedDict, total=False):
    """Optional settings of a ``Schedule``, passed through by ``retry``/``aretry``."""

    rng: random.Random | None  # jitter source (seed it for repeatable waits)
    stats: RetryStats | None  # counters shared by many calls
    what: str  # names the call in the retry log


async def aretry(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    classify: Classifier,
    **options: Unpack[ScheduleOptions],
) -> T:
    """Await ``call()`` until it succeeds, retrying transient failures; others propagate at once."""
    for attempt in Schedule(policy, classify, **options):
        with attempt:
            return await call()
        await asyncio.sleep(attempt.wait)
    raise AssertionError("unreachable: a Schedule never ends")


def retry(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    classify: Classifier,
    sleep: Callable[[float], None] = time.sleep,
    **options: Unpack[ScheduleOptions],
) -> T:
    """The blocking form of ``aretry`` (for sync SDK clients); the same ``Schedule`` decides."""
    for attempt in Schedule(policy, classify, **options):
        with attempt:
            return call()
        sleep(attempt.wait)
    raise AssertionError("unreachable: a Schedule never ends")


def server_message(exc: BaseException, limit: int = 300) -> str:
    """What an SDK's HTTP error says the server said (its ``error.message``), redacted, then capped
    (capping first could cut a URL between its password and its ``@`` and defeat the redaction)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return redact_text(str(inner["message"]))[:limit]
        if isinstance(inner, str):
            return redact_text(inner)[:limit]
    return redact_text(str(getattr(exc, "message", "") or type(exc).__name__))[:limit]


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
    JSON the SDK expected (a proxy's error page, a truncated reply, ``MalformedReply``). ``extra``
    classifies the caller's own exceptions first.
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
        if isinstance(exc, timeout_error | ReplyDeadline):
            return Transient("timeout")
        if isinstance(exc, connection_error):
            return Transient("connection")
        if isinstance(exc, status_error):
            status = int(exc.status_code)
            if not is_transient_status(status):
                return None
            headers = getattr(getattr(exc, "response", None), "headers", None)
            return Transient(str(status), retry_after=parse_retry_after(headers), status=status)
        if isinstance(exc, MalformedReply):
            return Transient("malformed", detail=exc.detail)
        if isinstance(exc, validation_error | json.JSONDecodeError):
            return Transient("malformed", detail=type(exc).__name__)
        return None

    return classify
