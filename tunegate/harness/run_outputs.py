"""What the models of a run said: generations (once per model and suite, through the response
cache), the suites as sampled, and the per-item rows of results.json (outputs, what each answer
cost, and scores). Outputs are ``tunegate.harness.usage.Answer`` values: text with its token
counts, so the cost metrics score the same generations as every other metric."""

from __future__ import annotations

from typing import Any

from tunegate.harness.cache import ResponseCache
from tunegate.harness.data import Suite
from tunegate.harness.generation import GenerationStats, generate_cached
from tunegate.harness.handles import ModelHandle
from tunegate.harness.metrics.base import MetricScores
from tunegate.harness.models.base import GenerationParams, GenerationRequest
from tunegate.harness.options import RunOptions
from tunegate.harness.run_models import RunModels
from tunegate.harness.usage import Answer


class RunOutputs:
    """Generations and item rows of a run; generation happens once per (model, suite) per session."""

    def __init__(self, options: RunOptions, models: RunModels) -> None:
        self.options = options
        self.models = models
        self.cache = ResponseCache(options.cache_path, enabled=not options.no_cache)
        self.stats = GenerationStats()
        self.suites: dict[str, Suite] = {}
        self.full_suites: dict[str, Suite] = {}
        self.items: dict[str, dict[str, dict[str, Any]]] = {}
        self._outputs: dict[tuple[str, str], list[str]] = {}

    def prepare(self, suite: Suite) -> Suite:
        """Apply --sample and register the suite for results.json."""
        sampled = suite.sample(self.options.sample or None, self.options.seed)
        self.suites.setdefault(sampled.name, sampled)
        self.full_suites.setdefault(suite.name, suite)
        return sampled

    def outputs(self, model: ModelHandle, suite: Suite) -> list[str]:
        suite = self.prepare(suite)
        key = (model.label, f"{suite.name}@{suite.version}:{','.join(suite.ids)}")
        if key not in self._outputs:
            params = GenerationParams(max_new_tokens=suite.max_new_tokens, stop=suite.stop)
            reqs = [GenerationRequest(it.id, it.messages, params) for it in suite.items]
            backend = model.backend
            if any(model is c for c in self.models.candidates):  # the reference is in production: no probe
                self.models.check_adapter(model, suite)
            done = generate_cached(backend, reqs, self.cache, stats=self.stats, label=model.label, suite=suite.name)
            answers = [Answer.of(c) for c in done]  # text, with what producing it cost
            self._outputs[key] = list(answers)
            rows = self.items.setdefault(suite.name, {})
            for it, answer in zip(suite.items, answers, strict=True):
                row = rows.setdefault(it.id, _item_row(it))
                row["outputs"][model.label] = str(answer)
                row.setdefault("usage", {})[model.label] = answer.usage()
        return self._outputs[key]

    def record_scores(
        self, suite: Suite, metric: str, base: MetricScores, cand: MetricScores, label: str, *, other: str = "base"
    ) -> None:
        """Per-item scores of a pair: ``base`` are the scores of ``other`` (the base, or the reference's label)."""
        self.record_side(suite, metric, base, other)
        self.record_side(suite, metric, cand, label)

    def record_side(self, suite: Suite, metric: str, scores: MetricScores, label: str) -> None:
        """One model's per-item scores (and a judge's rationales) in the item rows, under ``label``."""
        rows = self.items.setdefault(suite.name, {})
        for i, it in enumerate(suite.items):
            row = rows.setdefault(it.id, _item_row(it))
            row["scores"].setdefault(metric, {})[label] = _num(scores.values[i])
            why = _rationale(scores, i)
            if why:
                row.setdefault("rationales", {}).setdefault(metric, {})[label] = why


def _item_row(it: Any) -> dict[str, Any]:
    return {
        "id": it.id,
        "messages": it.chat(),
        "reference": it.reference,
        "tags": dict(it.tags),
        "group": it.group,
        "outputs": {},
        "scores": {},
    }


def _rationale(scores: MetricScores, i: int) -> str | None:
    """A judge's reasoning for item ``i`` (``MetricScores.extra["reasoning"]``), if it gave one."""
    texts = scores.extra.get("reasoning") if isinstance(scores.extra, dict) else None
    if isinstance(texts, list | tuple) and i < len(texts) and isinstance(texts[i], str) and texts[i].strip():
        return texts[i]
    return None


def _num(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if f != f else f
