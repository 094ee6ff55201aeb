"""The state of one tunegate run, in three parts the plugin owns through it: the models (checked
once, ``tunegate.harness.run_models``), what they said (``tunegate.harness.run_outputs``: generations,
cache, item rows) and the recorder of every comparison and check (``tunegate.harness.recorder``).
The run's actions (compare, drift, leakage) use the three; results.json is built from the
recorder's partial at the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tunegate.harness import sides
from tunegate.harness.data import Suite
from tunegate.harness.errors import ConfigError, TunegateError
from tunegate.harness.handles import ModelHandle
from tunegate.harness.metrics.base import Metric, PairwiseMetric
from tunegate.harness.models.base import require
from tunegate.harness.options import RunOptions
from tunegate.harness.record_sections import Against
from tunegate.harness.recorder import RunRecorder
from tunegate.harness.run_models import RunModels
from tunegate.harness.run_outputs import RunOutputs

if TYPE_CHECKING:
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.compare import Comparison


class RunState:
    """``tunegate_run``: the options, the models, and the run's actions on them."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.started = time.time()
        self.models = RunModels(options, outputs=self._outputs)
        self.store = RunOutputs(options, self.models)
        self.recorder = RunRecorder(options)

    def _outputs(self, model: ModelHandle, suite: Suite) -> list[str]:
        return self.store.outputs(model, suite)

    @property
    def base(self) -> ModelHandle:
        return self.models.base

    @property
    def candidates(self) -> list[ModelHandle]:
        return self.models.candidates

    @property
    def reference(self) -> ModelHandle | None:
        """The reference in production (``--reference``), or None."""
        return self.models.reference

    def pair(self, against: str | None = None, *, where: str = "compare(...)") -> Against:
        """The pair a comparison is about: ``against`` checked, or the default (the reference when
        the run has one, else the base)."""
        from tunegate.harness.compare.result import check_against

        reference = self.reference.label if self.reference is not None else None
        if against is None:
            return "reference" if reference else "base"
        return check_against(against, reference=reference, where=where)

    @property
    def cache(self) -> ResponseCache:
        return self.store.cache

    @property
    def notes(self) -> list[str]:
        """Notes of the run's configuration (base checks, quantization) and of its gating."""
        return [*self.models.notes, *self.recorder.notes]

    def outputs(self, model: ModelHandle, suite: Suite) -> list[str]:
        """Greedy outputs of ``model`` for every item of ``suite`` (after ``--sample``)."""
        return self.store.outputs(model, suite)

    def mark_forgetting(self, comparison: Comparison) -> Comparison:
        """List ``comparison`` in the forgetting section of results.json (a general-capability gate)."""
        return self.recorder.mark_forgetting(comparison)

    def add_section(self, name: str, value: Any) -> None:
        self.recorder.add_section(name, value)

    def partial(self) -> dict[str, Any]:
        """This process's records as plain data (merged across pytest-xdist workers)."""
        return self.recorder.partial(self.models, self.store)

    # -- the run's actions -------------------------------------------------------------------
    def compare(
        self, suite: Suite, metric: Any, candidate: ModelHandle, *, nodeid: str = "", against: str | None = None
    ) -> Comparison:
        """``candidate`` paired with the base or the reference (``against``; default: the reference
        when the run has one, else the base) on ``suite``, scored with ``metric``. In a run with a
        reference, the third model is scored too (a plain metric), for the report's three columns."""
        from tunegate.harness.compare import DEFAULT_COVERAGE_FLOOR, compare_scores
        from tunegate.harness.compare.scoring import side_mean

        pair = self.pair(against)
        self.recorder.doing("gate")
        suite = self.store.prepare(suite)
        other = self.reference if pair == "reference" and self.reference is not None else self.base
        third = self.base if other is not self.base else self.reference
        other_out = self.store.outputs(other, suite)
        cand_out = self.store.outputs(candidate, suite)
        items = list(suite.items)
        third_scores = None
        if isinstance(metric, PairwiseMetric):
            with sides.scoring(f"{other.label} vs {candidate.label}"):
                base_scores, cand_scores = metric.score_pair(items, other_out, cand_out)
        elif isinstance(metric, Metric):
            with sides.scoring(other.label):  # named in a judge's progress line
                base_scores = metric.score(items, other_out)
            with sides.scoring(candidate.label):
                cand_scores = metric.score(items, cand_out)
            if third is not None:
                third_out = self.store.outputs(third, suite)
                with sides.scoring(third.label):
                    third_scores = metric.score(items, third_out)
        else:
            raise ConfigError(
                f"{metric!r} is not a metric: it needs name, kind, higher_is_better and score(items, outputs) "
                "(see tunegate.harness.metrics.base.Metric)"
            )
        advisory = False
        health = getattr(metric, "health", None)
        if callable(health):
            h = health()
            info = h.to_dict() if hasattr(h, "to_dict") else dict(h)
            advisory = not info.get("reliable", True)
            self.recorder.record_judge(info)
        comparison = compare_scores(
            suite=suite.name,
            metric_name=metric.name,
            kind=metric.kind,
            ids=suite.ids,
            base=base_scores,
            candidate=cand_scores,
            candidate_label=candidate.label,
            groups=[it.group for it in items],
            tags=[dict(it.tags) for it in items],
            metric_info=_describe(metric),
            alpha=self.options.alpha,
            seed=self.options.seed,
            higher_is_better=getattr(metric, "higher_is_better", True),
            worst=getattr(metric, "worst_score", None),
            coverage_floor=getattr(self.options, "coverage_floor", DEFAULT_COVERAGE_FLOOR),
            advisory=advisory,
            against=pair,
            reference=self.reference.label if pair == "reference" and self.reference is not None else None,
        )
        if third is not None and third_scores is not None:
            key = "base" if third is self.base else "reference"
            mean = side_mean(
                third_scores, suite.ids, comparison.ids, kind=metric.kind, worst=comparison.coverage.worst
            )
            comparison = replace(comparison, means={key: mean})
        self.store.record_scores(suite, metric.name, base_scores, cand_scores, candidate.label, other=other.label)
        if third is not None and third_scores is not None:
            self.store.record_side(suite, metric.name, third_scores, third.label)
        self.recorder.comparisons.append((nodeid, comparison))
        self.recorder.note_selection(candidate, suite)
        return comparison

    def drift(
        self, candidate: ModelHandle, texts: Sequence[str], *, max_length: int = 512, max_kl: float | None = None
    ) -> Any:
        """KL drift and perplexity shift of ``candidate`` against the base on general ``texts``.

        For a peft adapter the base distribution comes from the same weights with the adapter
        disabled (so a QLoRA adapter is compared with the same 4-bit base). With ``max_kl`` the
        gate's verdict (``tunegate.harness.forgetting.drift_gate``) is recorded beside the measurement; the
        caller asserts it (``assert_drift_within``), so a failing drift gate fails its test.
        """
        from tunegate.harness.forgetting import drift_gate_record, kl_drift

        self.recorder.doing("drift")
        backend = require(candidate.backend, "drift", candidate.spec.backend)
        with backend.scoring_model() as (model, tokenizer, is_adapter):
            reference = None
            if not is_adapter:
                # A full fine-tune: the base's distribution comes from the base model itself.
                base = require(self.base.backend, "drift", self.base.spec.backend)
                with base.scoring_model() as (base_model, _, _):
                    reference = base_model
                    report = kl_drift(
                        model, tokenizer, texts, seed=self.options.seed, max_length=max_length,
                        reference_model=reference,
                    )
            else:
                report = kl_drift(model, tokenizer, texts, seed=self.options.seed, max_length=max_length)
        low, high = report.kl_ci
        section: dict[str, Any] = {
            f"kl[{candidate.label}]": report.to_dict(),
            "summary": f"KL drift {report.kl_mean:.4f} nats/token [{low:.4f}, {high:.4f}] on {report.n_docs} documents",
        }
        if len(self.candidates) > 1:
            section["summary"] = f"{candidate.label}: {section['summary']}"
        if max_kl is not None:
            gate = drift_gate_record(report, max_kl=max_kl)
            section[f"kl_gate[{candidate.label}]"] = gate
            section["summary"] += f" (limit {max_kl:g}: {'pass' if gate.get('passed') else 'FAIL'})"
        earlier = (self.recorder.sections.get("forgetting") or {}).get("summary")
        if earlier and len(self.candidates) > 1 and not earlier.startswith(f"{candidate.label}: "):
            section["summary"] = f"{earlier}; {section['summary']}"
        self.recorder.add_section("forgetting", section)
        return report

    def leakage(self, candidate: ModelHandle, *, suites: Sequence[Suite] | None = None, config: Any = None) -> Any:
        """The leakage check of ``candidate``'s training data against ``suites`` (default: every suite
        of this run, plus the packaged general suites with ``--forgetting``); None when no training
        data is known (no ``--train-data``, no tunegate.json beside the adapter).

        The section goes into results.json; the memorisation probe generates through the cache,
        loading the candidate only if something was flagged. The caller asserts the result.
        """
        from tunegate.harness.leakage import (
            chat_generator,
            probe_params,
            resolve_training_files,
            run_leakage_check,
        )

        self.recorder.doing("leakage")
        files = resolve_training_files(self.options.train_data, candidate.spec.adapter)
        self.recorder.leakage_checked.add(candidate.label)
        if files is None:
            return None
        if suites is None:
            # Every item of every suite of the run, not only a --sample of them: a leak is a leak.
            suites = list(self.store.full_suites.values())
            if getattr(self.options, "forgetting", False):
                from tunegate.harness import general

                names = {s.name for s in suites}
                suites += [s for s in general.suites() if s.name not in names]
        suites = list(suites)
        if not suites:
            return None
        params = probe_params(suites)

        def generate(chats: list[list[dict[str, str]]]) -> list[str]:
            return chat_generator(candidate.backend, self.store.cache, params, stats=self.store.stats, label=candidate.label)(chats)

        section = run_leakage_check(training_files=files, suites=suites, generate=generate, config=config)
        data = section.to_dict()
        current = self.recorder.sections.get("leakage")
        by_candidate = dict((current or {}).get("candidates") or {})
        by_candidate[candidate.label] = data
        failing = [d for d in by_candidate.values() if not d.get("passed", True)]
        self.recorder.sections["leakage"] = {**(failing[0] if failing else data), "candidates": by_candidate}
        return section

    def automatic_checks(self) -> None:
        """Checks that run whenever their inputs are known, for candidates no test checked:
        leakage when training data is known. Each is recorded as a test of the run verdict."""
        for cand in self.candidates:
            if cand.label in self.recorder.leakage_checked:
                continue
            nodeid = f"tunegate::leakage[{cand.label}]"
            try:
                section = self.leakage(cand)
            except TunegateError as exc:
                self.recorder.record_test(nodeid=nodeid, outcome="error", message=str(exc), candidate=cand.label, role="leakage")
                continue
            if section is None:
                continue
            self.recorder.record_test(
                nodeid=nodeid,
                outcome="passed" if section.passed else "failed",
                message=str(section.reason),
                candidate=cand.label,
                role="leakage",
            )


def _describe(metric: Any) -> dict[str, Any]:
    try:
        return dict(metric.describe())
    except (AttributeError, TypeError, TunegateError):
        return {}
