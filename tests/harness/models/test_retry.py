from __future__ import annotations

import asyncio
import json
import random
from email.utils import formatdate

import anthropic
import httpx2
import openai
import pytest

from tunegate.harness.errors import ConfigError
from tunegate.harness.retry import (
    MalformedReply,
    RetriesExhausted,
    RetryPolicy,
    RetryStats,
    Transient,
    aretry,
    is_transient_status,
    parse_retry_after,
    retry,
    sdk_classifier,
)


class Flaky:
    """Fails with the given exceptions, then returns 'ok'."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Boom(Exception):
    pass


def classify(exc: BaseException) -> Transient | None:
    return Transient("boom") if isinstance(exc, Boom) else None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    rng = random.Random(0)
    for attempt, cap in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 5.0), (10, 5.0)]:
        waits = [policy.delay(attempt, Transient("500"), rng) for _ in range(200)]
        assert all(w is not None and cap / 2 <= w <= cap for w in waits)
        assert len({round(w, 6) for w in waits if w is not None}) > 100  # jittered, not constant


def test_retry_after_replaces_the_backoff_and_an_excessive_one_gives_up() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, max_retry_after=10.0)
    rng = random.Random(0)
    wait = policy.delay(0, Transient("429", retry_after=7.0), rng)
    assert wait is not None and 7.0 <= wait <= 7.1
    assert policy.delay(0, Transient("429", retry_after=11.0), rng) is None


@pytest.mark.parametrize("field", ["base_delay", "max_delay", "max_retry_after"])
def test_policy_rejects_negative_or_nan_delays(field: str) -> None:
    with pytest.raises(ConfigError, match=rf"{field} must be a finite number >= 0 \(seconds\), got -1"):
        RetryPolicy(**{field: -1})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="got nan"):
        RetryPolicy(**{field: float("nan")})  # type: ignore[arg-type]


def test_sync_retry_retries_transient_failures_and_counts_them() -> None:
    call = Flaky(Boom(), Boom())
    slept: list[float] = []
    stats = RetryStats()
    assert (
        retry(call, policy=RetryPolicy(base_delay=0.5), classify=classify, stats=stats, sleep=slept.append)
        == "ok"
    )
    assert call.calls == 3
    assert len(slept) == 2 and 0.25 <= slept[0] <= 0.5 and 0.5 <= slept[1] <= 1.0
    assert stats.as_dict() == {
        "calls": 1,
        "attempts": 3,
        "retries": {"boom": 2},
        "waited_s": round(sum(slept), 3),
        "failed": 0,
    }


def test_permanent_failures_propagate_at_once() -> None:
    call = Flaky(KeyError("no"))
    stats = RetryStats()
    with pytest.raises(KeyError):
        retry(call, policy=RetryPolicy(), classify=classify, stats=stats, sleep=lambda s: None)
    assert call.calls == 1 and stats.failed == 1 and not stats.retries


def test_exhaustion_reports_attempts_and_the_last_failure() -> None:
    call = Flaky(*[Boom() for _ in range(10)])
    with pytest.raises(
        RetriesExhausted, match=r"gave up after 3 attempt\(s\); last failure: boom \(Boom\)"
    ) as info:
        retry(call, policy=RetryPolicy(max_retries=2), classify=classify, sleep=lambda s: None)
    assert info.value.attempts == 3 and isinstance(info.value.error, Boom)
    assert call.calls == 3


def test_async_retry_waits_between_attempts() -> None:
    errors = [Boom()]

    async def call() -> str:
        if errors:
            raise errors.pop()
        return "ok"

    stats = RetryStats()
    result = asyncio.run(aretry(call, policy=RetryPolicy(base_delay=0.02), classify=classify, stats=stats))
    assert result == "ok" and stats.attempts == 2 and 0.01 <= stats.waited_s <= 0.02


def test_parse_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    now = 1_800_000_000.0
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(
        30, abs=1
    )
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-3"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (503, True),
        (529, True),
        (400, False),
        (401, False),
        (404, False),
        (422, False),
    ],
)
def test_which_statuses_are_transient(status: int, transient: bool) -> None:
    assert is_transient_status(status) is transient


@pytest.mark.parametrize("sdk", [openai, anthropic], ids=["openai", "anthropic"])
def test_sdk_classifier_for_both_sdks(sdk: object) -> None:
    classify_sdk = sdk_classifier(sdk)  # type: ignore[arg-type]
    request = httpx2.Request("POST", "http://127.0.0.1/v1/x")

    def status_error(code: int, headers: dict[str, str] | None = None) -> BaseException:
        response = httpx2.Response(code, headers=headers or {}, request=request)
        return sdk.APIStatusError("err", response=response, body=None)  # type: ignore[attr-defined,no-any-return]

    assert classify_sdk(status_error(429, {"retry-after": "3"})) == Transient(
        "429", retry_after=3.0, status=429
    )
    assert classify_sdk(status_error(502)) == Transient("502", status=502)
    assert classify_sdk(status_error(400)) is None
    assert classify_sdk(sdk.APITimeoutError(request=request)) == Transient("timeout")  # type: ignore[attr-defined]
    assert classify_sdk(sdk.APIConnectionError(request=request)) == Transient("connection")  # type: ignore[attr-defined]
    assert classify_sdk(json.JSONDecodeError("bad", "{", 1)) == Transient(
        "malformed", detail="JSONDecodeError"
    )
    html = MalformedReply("a text/html body: '<html>Bad gateway</html>'")
    assert classify_sdk(html) == Transient("malformed", detail=html.detail)
    assert classify_sdk(ValueError("not ours")) is None


def test_exhaustion_message_carries_the_malformed_body_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-PLANTED-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    call = Flaky(
        *[MalformedReply(f"a text/html body: '<html>key {secret} rejected</html>'") for _ in range(3)]
    )

    def classify_malformed(exc: BaseException) -> Transient | None:
        return Transient("malformed", detail=exc.detail) if isinstance(exc, MalformedReply) else None

    with pytest.raises(RetriesExhausted) as info:
        retry(call, policy=RetryPolicy(max_retries=2), classify=classify_malformed, sleep=lambda s: None)
    assert "malformed: a text/html body: '<html>key *** rejected</html>'" in str(info.value)
    assert secret not in str(info.value)


def test_sync_and_async_forms_share_one_schedule() -> None:
    """The same failures give the same waits and counters from both forms (one loop decides)."""
    sync_stats, async_stats = RetryStats(), RetryStats()
    slept: list[float] = []
    policy = RetryPolicy(base_delay=0.001, max_delay=0.004)
    retry(
        Flaky(Boom(), Boom(), Boom()),
        policy=policy,
        classify=classify,
        rng=random.Random(3),
        stats=sync_stats,
        sleep=slept.append,
    )
    errors = [Boom(), Boom(), Boom()]

    async def call() -> str:
        if errors:
            raise errors.pop()
        return "ok"

    asyncio.run(aretry(call, policy=policy, classify=classify, rng=random.Random(3), stats=async_stats))
    assert sync_stats.as_dict() == async_stats.as_dict()
    assert sync_stats.as_dict()["waited_s"] == round(sum(slept), 3) and len(slept) == 3


def test_a_cancellation_is_not_classified_or_retried() -> None:
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise asyncio.CancelledError

    stats = RetryStats()
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(aretry(call, policy=RetryPolicy(), classify=lambda e: Transient("x"), stats=stats))
    assert calls == 1 and not stats.retries
