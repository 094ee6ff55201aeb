"""Runs judgments for any provider: cache, concurrency, retries, budget, strict verdicts.

One place does the hygiene every provider needs:

- cached judgments are served without a request; each new verdict is committed at once;
- at most ``concurrency`` provider calls are in flight (an asyncio semaphore);
- transient failures (429 honouring retry-after, 5xx, timeouts, malformed bodies) are retried
  with exponential backoff and jitter (tunegate.harness.retry);
- an answer that is not a valid verdict is asked again ``parse_retries`` times (unless the
  provider is deterministic), then recorded as a failure that carries the raw answer;
- a budget stops new requests cleanly: unfinished judgments fail with "budget exhausted".

Errors that retrying cannot fix (a rejected key, an unknown model) stop the run with a JudgeError.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tunegate.harness import progress, sides
from tunegate.harness.redact import redact_text
from tunegate.harness.retry import RetriesExhausted, RetryPolicy, RetryStats, aretry
from tunegate.judges.adaptive import AdaptiveLimit, Slot
from tunegate.judges.budget import Budget, BudgetMeter, estimate_tokens
from tunegate.judges.cache import CachedJudgment, JudgeCache
from tunegate.judges.prompts import JudgePrompt, VerdictError, check_verdict, parse_json_object
from tunegate.judges.providers.base import JudgeProvider, ProviderReply

log = logging.getLogger("tunegate.judge")
T = TypeVar("T")
RAW_LIMIT = 2000  # characters of a bad answer kept in a failure message


@dataclass(frozen=True)
class Task:
    """One judgment to make: its cache key, its rendered prompt and the rubric's hash."""

    key: str
    prompt: JudgePrompt
    rubric_hash: str = ""


@dataclass(frozen=True)
class Judgment:
    """The outcome of one task. ``value``: the score (single) or winner label (pair); None when
    ``failure`` says why there is none (with the raw answer where there was one). Every failure
    the engine records is ``infra``: the judge could not give a verdict (API error, timeout,
    budget, an answer that stayed malformed), which says nothing about the judged text."""

    value: float | str | None
    reasoning: str | None = None
    raw: str = ""
    failure: str | None = None
    cached: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    infra: bool = False

    @property
    def ok(self) -> bool:
        return self.failure is None


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code, also when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coro(make))
    # A notebook or an async test already runs a loop here: use a private loop in a thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _as_coro(make)).result()


async def _as_coro(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def interpret(prompt: JudgePrompt, reply: ProviderReply) -> tuple[float | str, str | None, dict[str, Any]]:
    """(value, reasoning, verdict to cache) from a reply, or VerdictError."""
    if reply.problem:
        raise VerdictError(reply.problem, reply.text)
    obj = reply.verdict if reply.verdict is not None else parse_json_object(reply.text)
    value = check_verdict(prompt, obj, reply.text, weighted=reply.weighted)
    reasoning = obj.get("reasoning")
    verdict: dict[str, Any] = {"value": value, "reasoning": reasoning if isinstance(reasoning, str) else None}
    if isinstance(obj.get("probs"), dict):
        verdict["probs"] = obj["probs"]
    return value, verdict["reasoning"], verdict


class Engine:
    """Judges tasks with one provider. Counters accumulate over the engine's life."""

    def __init__(
        self,
        provider: JudgeProvider,
        *,
        cache: JudgeCache,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        parse_retries: int = 2,
        concurrency: int | None = None,
        seed: int = 0,
    ) -> None:
        self.provider = provider
        self.cache = cache
        self.budget = budget or Budget()
        self.meter = BudgetMeter(self.budget, provider.name, provider.model)
        self.retry = retry or RetryPolicy()
        self.parse_retries = max(0, parse_retries)
        self.concurrency = max(1, concurrency or provider.default_concurrency)
        self.retry_stats = RetryStats()
        self.requests = 0
        self._rng = random.Random(seed)
        self.limit: AdaptiveLimit | None = None
        self.failed_attempts: Counter[str] = Counter()
        """Attempts that failed transiently, by reason (each is retried while retries last)."""

    def run(self, tasks: Sequence[Task]) -> list[Judgment]:
        """One judgment per task, in order (blocking)."""
        return run_sync(lambda: self.arun(tasks))

    async def arun(self, tasks: Sequence[Task]) -> list[Judgment]:
        results: dict[str, Judgment] = {}
        hits = self.cache.get_many(sorted({t.key for t in tasks}))
        for key, c in hits.items():
            results[key] = Judgment(
                c.verdict.get("value"),
                c.verdict.get("reasoning"),
                c.raw,
                None,
                True,
                c.input_tokens,
                c.output_tokens,
            )
        todo: dict[str, Task] = {}
        for t in tasks:
            if t.key not in results:
                todo.setdefault(t.key, t)
        if todo:
            await self._judge_all(list(todo.values()), results)
        out: list[Judgment] = []
        served: set[str] = set()
        for t in tasks:
            j = results[t.key]
            # A key asked twice in one call is judged once; the repeat counts as a cache hit.
            out.append(j if t.key not in served or j.cached else replace(j, cached=True))
            served.add(t.key)
        return out

    async def _judge_all(self, tasks: list[Task], results: dict[str, Judgment]) -> None:
        limit = AdaptiveLimit(self.concurrency)
        self.limit = limit
        places = asyncio.Semaphore(self.concurrency)
        size = max(1, self.provider.max_batch)
        if size > 1:  # one system prompt and similar lengths per batch: a shared head, little padding
            tasks = sorted(tasks, key=lambda t: (t.prompt.system, len(t.prompt.user)))
        batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]

        side = sides.current()
        bar = progress.track("judge", f"{self.provider.name} ({side})" if side else self.provider.name, len(tasks))
        before = Counter(self.failed_attempts)

        def show(n: int = 0) -> None:
            """Advance the line by ``n`` and show its retries, timeouts and a shrunk concurrency."""
            fields: dict[str, Any] = {}
            now = Counter(self.failed_attempts)
            now.subtract(before)
            if now.total():
                fields["failed attempts"] = now.total()
            if now["timeout"]:
                fields["timeouts"] = now["timeout"]
            if limit.current < limit.maximum:
                fields["in flight"] = f"{limit.current}/{limit.maximum}"
            bar.advance(n, **fields)

        async def guarded(batch: list[Task]) -> None:
            # A batch holds a place from its budget reservation to its verdicts (as many as
            # ``concurrency``); each HTTP attempt also holds a slot of the adaptive limit, so
            # a server that cannot keep up sees fewer requests at once, backoffs waiting outside.
            async with places:
                await self._judge_batch(batch, results, functools.partial(self._attempt, limit=limit, show=show))
            show(len(batch))

        running = [asyncio.ensure_future(guarded(b)) for b in batches]
        try:
            await asyncio.gather(*running)
        except BaseException:
            for r in running:
                r.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        finally:
            bar.close()
            await self.provider.aclose()

    async def _attempt(
        self, prompts: list[JudgePrompt], *, limit: AdaptiveLimit, show: Callable[[], None]
    ) -> list[ProviderReply]:
        """One try of ``provider.complete`` in a slot of ``limit``; an overload shrinks the limit."""
        async with limit.slot() as slot:
            try:
                replies = await self.provider.complete(prompts)
            except Exception as exc:
                self._failed(exc, limit, slot)
                show()
                raise
            limit.succeeded()
            return replies

    def _failed(self, exc: BaseException, limit: AdaptiveLimit, slot: Slot) -> None:
        transient = self.provider.classify(exc)
        if transient is None:
            return
        self.failed_attempts[transient.reason] += 1
        if limit.failed(transient.reason, slot):
            log.info(
                "judge %s: the server is overloaded (%s); %d request(s) in flight from now on",
                self.provider.name,
                transient.reason,
                limit.current,
            )

    async def _judge_batch(
        self,
        batch: list[Task],
        results: dict[str, Judgment],
        ask: Callable[[list[JudgePrompt]], Awaitable[list[ProviderReply]]],
    ) -> None:
        pending = list(batch)
        last_bad: dict[str, VerdictError] = {}
        attempt = 0
        while pending:
            held_in = sum(estimate_tokens(t.prompt.system + t.prompt.user) for t in pending)
            held_out = _max_output_tokens(self.provider) * len(pending)
            if not self.meter.reserve(held_in, held_out):
                reason = f"budget exhausted: {self.meter.exhausted}; not judged"
                for t in pending:
                    bad = last_bad.get(t.key)
                    extra = (
                        f" (last answer was no valid verdict: {bad.reason}; raw: {bad.raw[:RAW_LIMIT]})"
                        if bad
                        else ""
                    )
                    results[t.key] = Judgment(None, failure=reason + extra, infra=True)
                return
            used_in = used_out = 0
            prompts = [t.prompt for t in pending]
            try:
                self.requests += 1
                replies = await aretry(
                    functools.partial(ask, prompts),
                    policy=self.retry,
                    classify=self.provider.classify,
                    rng=self._rng,
                    stats=self.retry_stats,
                    what=f"judge {self.provider.name}",
                )
            except RetriesExhausted as exc:
                self.meter.settle(held_in, held_out, 0, 0)
                for t in pending:
                    results[t.key] = Judgment(
                        None, failure=redact_text(f"{self.provider.name} request failed: {exc}"), infra=True
                    )
                return
            except BaseException:
                self.meter.settle(held_in, held_out, 0, 0)
                raise
            if len(replies) != len(pending):
                self.meter.settle(held_in, held_out, held_in, 0)
                raise RuntimeError(
                    f"provider {self.provider.name} returned {len(replies)} replies for {len(pending)} prompts"
                )
            retry_next: list[Task] = []
            for t, reply in zip(pending, replies, strict=True):
                used_in += reply.input_tokens
                used_out += reply.output_tokens
                try:
                    value, reasoning, verdict = interpret(t.prompt, reply)
                except VerdictError as exc:
                    last_bad[t.key] = exc
                    if attempt < self.parse_retries and not self.provider.deterministic:
                        retry_next.append(t)
                    else:
                        results[t.key] = Judgment(
                            None,
                            raw=exc.raw,
                            failure=f"no valid verdict after {attempt + 1} attempt(s): {exc.reason}; "
                            f"raw answer: {exc.raw[:RAW_LIMIT]!r}",
                            input_tokens=reply.input_tokens,
                            output_tokens=reply.output_tokens,
                            infra=True,
                        )
                    continue
                judgment = Judgment(
                    value, reasoning, reply.text, None, False, reply.input_tokens, reply.output_tokens
                )
                results[t.key] = judgment
                self.cache.put(
                    t.key,
                    provider=self.provider.name,
                    rubric_hash=t.rubric_hash,
                    judgment=CachedJudgment(verdict, reply.text, reply.input_tokens, reply.output_tokens),
                )
            if used_in == 0 and used_out == 0:  # the server reported no usage: count the estimate
                used_in = held_in
            self.meter.settle(held_in, held_out, used_in, used_out)
            if retry_next:
                log.info(
                    "judge %s: %d answer(s) were no valid verdict; asking again",
                    self.provider.name,
                    len(retry_next),
                )
            pending = retry_next
            attempt += 1


def _max_output_tokens(provider: JudgeProvider) -> int:
    """The worst-case answer length the budget holds for: ``max_output_tokens`` or ``opts.max_tokens``."""
    value = getattr(provider, "max_output_tokens", None)
    if value is None:
        value = getattr(getattr(provider, "opts", None), "max_tokens", None)
    return int(value) if isinstance(value, int) else 1
