"""The ``scripted`` judge: free, no key, no model; verdicts from a declared rule, for testing suites
and gates offline.

Options (``--judge-option KEY=VALUE``; unknown keys are refused): ``contains`` (default
``ACCURATE``): a response containing it gets the rubric's top score (``high``, default the scale's
top), any other the bottom (``low``); in a pairwise comparison the response containing it wins,
a tie when both or neither do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunegate.harness.retry import Transient
from tunegate.judges.prompts import JudgePrompt, Output
from tunegate.judges.providers.base import (
    ProviderOptions,
    ProviderReply,
    parse_options,
    register_provider,
    settings_key,
)


class ScriptedJudgeOptions(ProviderOptions):
    contains: str = "ACCURATE"
    high: int | None = None
    low: int | None = None


class ScriptedJudge:
    name = "scripted"
    output: Output = "json"
    max_batch = 64
    default_concurrency = 1
    deterministic = True

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.model = model or "contains"
        self.options = parse_options(ScriptedJudgeOptions, options, self.name)

    def classify(self, exc: BaseException) -> Transient | None:
        return None

    def verdict(self, prompt: JudgePrompt) -> dict[str, Any]:
        needle = self.options.contains
        hits = [needle in t for t in prompt.texts]
        if prompt.mode == "single":
            lo, hi = prompt.scale
            score = (self.options.high or hi) if hits and hits[0] else (self.options.low or lo)
            return {"reasoning": f"{'contains' if score == (self.options.high or hi) else 'lacks'} {needle!r}", "score": score}
        a, b = (hits + [False, False])[:2]
        winner = "A" if a and not b else "B" if b and not a else "tie"
        return {"reasoning": f"A contains {needle!r}: {a}; B: {b}", "winner": winner}

    async def complete(self, prompts: Sequence[JudgePrompt]) -> list[ProviderReply]:
        out = []
        for p in prompts:
            v = self.verdict(p)
            out.append(ProviderReply(str(v), v))
        return out

    async def aclose(self) -> None:
        return None

    def settings_key(self) -> str:
        return settings_key(self.name, self.model, self.options.model_dump())

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.model, **self.options.model_dump()}


@register_provider("scripted", free=True)
def make_scripted(model: str | None = None, **options: Any) -> ScriptedJudge:
    return ScriptedJudge(model, **options)
