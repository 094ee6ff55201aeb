"""Fixtures for the judge tests: a scripted test double, provider "script-double" (registered like any other; the shipped "scripted" judge is a different, user-facing one) and helpers."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tunegate.harness.data import EvalItem, Message  # noqa: E402
from tunegate.harness.retry import RetryPolicy, Transient  # noqa: E402
from tunegate.judges.fence import begin_line, end_line  # noqa: E402
from tunegate.judges.prompts import JudgePrompt, Output  # noqa: E402
from tunegate.judges.providers import PROVIDERS, ProviderReply  # noqa: E402

CALIBRATION = Path(__file__).resolve().parents[2] / "tunegate" / "judges" / "calibration" / "support_style.jsonl"
FAST_RETRY = RetryPolicy(max_retries=10, base_delay=0.002, max_delay=0.02, max_retry_after=1.0)

Script = Callable[[JudgePrompt, int], str | dict[str, Any]]


class ScriptedProvider:
    """Answers from a script ``(prompt, nth call for this prompt) -> text or verdict dict``."""

    name = "script-double"
    output: Output = "json"
    max_batch = 1
    default_concurrency = 4

    def __init__(
        self,
        model: str | None = None,
        *,
        script: Script,
        delay: float = 0.0,
        deterministic: bool = False,
        max_tokens: int = 50,
    ) -> None:
        self.model = model or "script"
        self.script = script
        self.delay = delay
        self.deterministic = deterministic
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        self.seen: dict[str, int] = {}
        self.max_output_tokens = max_tokens

    def classify(self, exc: BaseException) -> Transient | None:
        return Transient("script-double") if isinstance(exc, ConnectionError) else None

    async def complete(self, prompts: Sequence[JudgePrompt]) -> list[ProviderReply]:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            out = []
            for p in prompts:
                n = self.seen.get(p.user, 0)
                self.seen[p.user] = n + 1
                answer = self.script(p, n)
                if isinstance(answer, dict):
                    out.append(ProviderReply(json.dumps(answer), answer, input_tokens=100, output_tokens=10))
                else:
                    out.append(ProviderReply(answer, None, input_tokens=100, output_tokens=10))
            return out
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        return None

    def settings_key(self) -> str:
        return f"script-double:{self.model}"

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.model}


def _make_scripted(model: str | None = None, **options: Any) -> ScriptedProvider:
    return ScriptedProvider(model, **options)


PROVIDERS.register("script-double", _make_scripted, replace=True)


def unfence(prompt: str, label: str, tag: str) -> str | None:
    """The (escaped) text inside the ``label`` fence of a rendered prompt, or None if absent."""
    begin, end = begin_line(label, tag) + "\n", "\n" + end_line(label, tag)
    start = prompt.find(begin)
    if start < 0:
        return None
    start += len(begin)
    stop = prompt.find(end, start)
    return None if stop < 0 else prompt[start:stop]


def response_of(prompt: JudgePrompt, label: str = "RESPONSE") -> str:
    text = unfence(prompt.user, label, prompt.tag)
    assert text is not None, f"no {label} fence in the prompt"
    return text


def gold_by_output() -> dict[str, int]:
    rows = [json.loads(line) for line in CALIBRATION.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["output"]: r["gold"] for r in rows}


def oracle_script() -> Script:
    """A perfect judge on the calibration set: the gold score; pairwise, the higher gold wins."""
    gold = gold_by_output()

    def script(p: JudgePrompt, n: int) -> dict[str, Any]:
        if p.mode == "single":
            return {"reasoning": "gold", "score": gold[response_of(p)]}
        a, b = gold[response_of(p, "RESPONSE A")], gold[response_of(p, "RESPONSE B")]
        return {"reasoning": "gold", "winner": "A" if a > b else "B" if b > a else "tie"}

    return script


def make_items(n: int, prefix: str = "it") -> list[EvalItem]:
    return [
        EvalItem(
            id=f"{prefix}-{i}",
            messages=(Message("user", f"Email number {i}: I was charged twice."),),
            reference=f"reference {i}",
        )
        for i in range(n)
    ]


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def api_keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    keys = {
        "ANTHROPIC_API_KEY": "sk-ant-test-SECRET-0123456789",
        "OPENAI_API_KEY": "sk-test-SECRET-9876543210",
    }
    for k, v in keys.items():
        monkeypatch.setenv(k, v)
    return keys
