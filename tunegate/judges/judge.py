"""``Judge``: the entry point suites and the pytest fixture use.

    judge = Judge("anthropic", "claude-sonnet-4-5", budget=Budget(max_cost_usd=2.0))
    scores = judge.rubric("support_style").score(items, outputs)        # continuous, 1-5
    base, cand = judge.pairwise("support_style").score_pair(items, b, c)  # binary wins
    judge.health("support_style").reliable                               # kappa >= 0.6?

Keys come from the environment only; they never reach the cache, results or logs.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import JudgeError
from tunegate.harness.models.resolve import default_cache_dir
from tunegate.harness.options import RunOptions
from tunegate.harness.redact import redact_text
from tunegate.harness.retry import RetryPolicy
from tunegate.harness.validation import pydantic_problems
from tunegate.judges.budget import Budget
from tunegate.judges.cache import JudgeCache, judgment_key
from tunegate.judges.engine import Engine, Judgment, Task
from tunegate.judges.health import MIN_KAPPA, JudgeHealth, assess, load_record
from tunegate.judges.metric import PairwiseJudgeMetric, RubricMetric
from tunegate.judges.prompts import PROMPT_VERSION, judged_text, pair_prompt, render_context, single_prompt
from tunegate.judges.providers import make_provider
from tunegate.judges.rubric import RUBRIC_DIR, Rubric, load_rubric


class EngineOptions(BaseModel):
    """Options every provider accepts, used by the engine rather than the provider."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    max_retries: int | None = Field(default=None, ge=0, le=100)
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    parse_retries: int | None = Field(default=None, ge=0, le=20)


def split_options(
    provider: str, options: Mapping[str, Any] | None, base_url: str | None
) -> tuple[dict[str, Any], EngineOptions]:
    """(the provider's own options, the engine's options) from one mapping, ``base_url`` merged in."""
    opts = dict(options or {})
    if base_url is not None:
        if opts.get("base_url") not in (None, base_url):
            raise JudgeError(
                redact_text(
                    f"the judge base URL is given twice ({base_url!r} and options base_url={opts['base_url']!r}); "
                    "give it once (--judge-base-url)"
                )
            )
        opts["base_url"] = base_url
    try:
        run = EngineOptions.model_validate(opts)
    except ValidationError as exc:
        where = f"invalid options for the {provider} judge"
        raise JudgeError(redact_text("; ".join(pydantic_problems(exc, where)))) from None
    return {k: v for k, v in opts.items() if k not in EngineOptions.model_fields}, run


@dataclass
class _Usage:
    n_judgments: int = 0
    n_failed: int = 0
    cache_hits: int = 0
    pairs_consistent: int = 0
    pairs_judged: int = 0


class Judge:
    """A judge provider with its cache, budget, retry policy and per-rubric health counters.

    ``provider``: a registered provider name (``local``, ``anthropic``, ``openai``,
    ``openai-compatible``); ``model``: its model (provider default when None); ``base_url``: the
    endpoint of an HTTP provider (same as ``options["base_url"]``); ``options``: provider options
    (``timeout``, ``api_key_env``, ``max_tokens``, ...) plus the run options ``max_retries``,
    ``concurrency`` and ``parse_retries``; values may be strings as typed on a command line
    (``--judge-option timeout=30``); ``cache_dir``: default ``TUNEGATE_CACHE_DIR``
    or ~/.cache/tunegate; ``use_cache=False`` judges everything afresh; ``concurrency``: provider
    calls in flight (provider default when None); ``parse_retries``: re-asks after an answer that
    is no valid verdict; ``rubric_dirs``: extra folders searched for rubric files.
    """

    def __init__(
        self,
        provider: str = "local",
        model: str | None = None,
        *,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        concurrency: int | None = None,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        parse_retries: int = 2,
        options: Mapping[str, Any] | None = None,
        rubric_dirs: Sequence[str | Path] = (),
        min_kappa: float = MIN_KAPPA,
        base_url: str | None = None,
    ) -> None:
        provider_options, run = split_options(provider, options, base_url)
        self.provider = make_provider(provider, model, provider_options)
        self._spec = (provider, model, provider_options)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.cache = JudgeCache(self.cache_dir if use_cache else None)
        if run.max_retries is not None:
            retry = replace(retry or RetryPolicy(), max_retries=run.max_retries)
        self.engine = Engine(
            self.provider,
            cache=self.cache,
            budget=budget,
            retry=retry,
            parse_retries=run.parse_retries if run.parse_retries is not None else parse_retries,
            concurrency=run.concurrency or concurrency,
        )
        self.rubric_dirs = tuple(rubric_dirs)
        self.min_kappa = min_kappa
        self._rubrics: dict[str, Rubric] = {}
        self._usage: dict[str, _Usage] = {}

    @classmethod
    def from_options(cls, options: RunOptions) -> Judge:
        """The judge a run's options name (``--judge``, ``--judge-model``, ``--judge-base-url``,
        ``--judge-option``, the cache dir): the one the ``judge`` fixture gives and preflight checks."""
        return cls(
            options.judge,
            options.judge_model or None,
            cache_dir=str(options.cache_path),
            base_url=options.judge_base_url or None,
            options=options.judge_options() or None,
        )

    # -- rubrics and metrics ----------------------------------------------------------------
    def load(self, name: str) -> Rubric:
        """The rubric ``name`` (or a path to a rubric file), loaded once."""
        if name not in self._rubrics:
            rubric = load_rubric(name, self.rubric_dirs)
            self._rubrics[name] = rubric
            self._rubrics.setdefault(rubric.name, rubric)
        return self._rubrics[name]

    def rubric(self, name: str) -> RubricMetric:
        return RubricMetric(self, self.load(name))

    def pairwise(self, name: str) -> PairwiseJudgeMetric:
        return PairwiseJudgeMetric(self, self.load(name))

    # -- tasks ------------------------------------------------------------------------------
    @staticmethod
    def judged(output: str, field: str | None) -> str:
        return judged_text(output, field)

    def _reference(self, rubric: Rubric, item: EvalItem) -> str | None:
        if not rubric.spec.show_reference or item.reference is None:
            return None
        field = rubric.spec.field
        if field and isinstance(item.reference, dict) and isinstance(item.reference.get(field), str):
            return str(item.reference[field])
        return item.reference_text()

    def single_task(self, rubric: Rubric, item: EvalItem, output: str) -> Task:
        text = judged_text(output, rubric.spec.field)
        reference = self._reference(rubric, item)
        prompt = single_prompt(
            rubric, context=item.messages, response=text, reference=reference, output=self.provider.output
        )
        key = judgment_key(
            provider_settings=self.provider.settings_key(),
            rubric_hash=rubric.hash,
            prompt_version=PROMPT_VERSION,
            mode=f"single:{self.provider.output}",
            context=render_context(item.messages),
            texts=[text],
            reference=reference,
        )
        return Task(key, prompt, rubric.hash)

    def pair_task(self, rubric: Rubric, item: EvalItem, first: str, second: str) -> Task:
        """Judge ``first`` as response A against ``second`` as response B."""
        a, b = judged_text(first, rubric.spec.field), judged_text(second, rubric.spec.field)
        reference = self._reference(rubric, item)
        prompt = pair_prompt(
            rubric, context=item.messages, first=a, second=b, reference=reference, output=self.provider.output
        )
        key = judgment_key(
            provider_settings=self.provider.settings_key(),
            rubric_hash=rubric.hash,
            prompt_version=PROMPT_VERSION,
            mode=f"pair:{self.provider.output}:A-then-B",
            context=render_context(item.messages),
            texts=[a, b],
            reference=reference,
        )
        return Task(key, prompt, rubric.hash)

    # -- bookkeeping and health -------------------------------------------------------------
    def record(self, rubric: Rubric, judgments: Sequence[Judgment]) -> None:
        u = self._usage.setdefault(rubric.name, _Usage())
        u.n_judgments += len(judgments)
        u.n_failed += sum(not j.ok for j in judgments)
        u.cache_hits += sum(j.cached for j in judgments)

    def record_consistency(self, rubric: Rubric, consistent: int, judged: int) -> None:
        u = self._usage.setdefault(rubric.name, _Usage())
        u.pairs_consistent += consistent
        u.pairs_judged += judged

    def health(self, rubric: str | None = None) -> JudgeHealth:
        """Health of this judge on ``rubric`` (default: the only, or last, rubric used)."""
        if rubric is None:
            if not self._rubrics:
                raise ValueError("this judge has used no rubric yet; pass the rubric name")
            rubric = list(self._rubrics)[-1]
        r = self.load(rubric)
        u = self._usage.get(r.name, _Usage())
        record = load_record(self.cache_dir, self.provider.settings_key(), r.hash, PROMPT_VERSION)
        kappa, reliable, reason = assess(record, self.min_kappa)
        if record is None:
            reason = f"never calibrated for this rubric and settings; run `{self.calibrate_command(r)}`"
        if u.pairs_judged:
            consistency: float | None = u.pairs_consistent / u.pairs_judged
        else:
            consistency = record.position_consistency if record is not None else None
        return JudgeHealth(
            provider=self.provider.name,
            model=self.provider.model,
            rubric=r.name,
            rubric_hash=r.hash,
            kappa=kappa,
            reliable=reliable,
            position_consistency=consistency,
            n_judgments=u.n_judgments,
            n_failed=u.n_failed,
            cache_hits=u.cache_hits,
            reason=reason,
            min_kappa=self.min_kappa,
        )

    def calibrate_command(self, rubric: Rubric) -> str:
        """The ``tunegate judge calibrate`` command that calibrates this judge on ``rubric``:
        the same provider, model, options (hence the same settings key) and cache dir."""
        name, model, options = self._spec
        argv = ["tunegate", "judge", "calibrate", "--provider", name]
        if model:
            argv += ["--model", model]
        builtin = Path(rubric.path).resolve().parent == RUBRIC_DIR.resolve()
        argv += ["--rubric", rubric.name if builtin else rubric.path, "--cache-dir", str(self.cache_dir)]
        for key, value in sorted(options.items()):
            if isinstance(value, str | int | float | bool):
                argv += ["--option", f"{key}={value}"]
        return redact_text(shlex.join(argv))

    def describe(self) -> dict[str, Any]:
        return {
            **self.provider.describe(),
            "prompt_version": PROMPT_VERSION,
            "cache": str(self.cache.path) if self.cache.path else None,
            "concurrency": self.engine.concurrency,
            "parse_retries": self.engine.parse_retries,
        }

    def stats(self) -> dict[str, Any]:
        """Requests, retries and budget spent so far (for logs and benchmarks)."""
        return {
            "requests": self.engine.requests,
            "retry": self.engine.retry_stats.as_dict(),
            "budget": self.engine.meter.as_dict(),
        }

    def close(self) -> None:
        self.cache.close()
