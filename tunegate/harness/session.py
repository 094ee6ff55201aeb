"""The state of one tunegate run: models, generations, comparisons. The pytest plugin owns one.

Generation happens once per (model, suite) per session and is shared by every test that scores
that suite; comparisons are recorded here and turned into results.json at the end.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunegate.harness.cache import ResponseCache
from tunegate.harness.data import Suite
from tunegate.harness.errors import ConfigError, TunegateError
from tunegate.harness.generation import GenerationStats, generate_cached
from tunegate.harness.handles import AdapterHasNoEffect, ModelHandle, candidate_labels, read_provenance
from tunegate.harness.metrics.base import Metric, MetricScores, PairwiseMetric
from tunegate.harness.models.base import (
    GenerationParams,
    GenerationRequest,
    ModelSpec,
    SupportsAdapterProbe,
    require,
)
from tunegate.harness.options import RunOptions

if TYPE_CHECKING:
    from tunegate.harness.compare import Comparison


@dataclass
class RunState:
    options: RunOptions
    started: float = field(default_factory=time.time)
    base: ModelHandle = field(init=False)
    candidates: list[ModelHandle] = field(init=False)
    cache: ResponseCache = field(init=False)
    stats: GenerationStats = field(default_factory=GenerationStats)
    comparisons: list[tuple[str, Comparison]] = field(default_factory=list)
    suites: dict[str, Suite] = field(default_factory=dict)
    items: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    adapter_checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    judges: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    leakage_checked: set[str] = field(default_factory=set)
    full_suites: dict[str, Suite] = field(default_factory=dict)
    _selection_seen: set[tuple[str, str]] = field(default_factory=set)
    _outputs: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        o = self.options
        quantization = self._check_candidates()
        extra: dict[str, Any] = o.backend_options()
        if o.batch_size:
            extra["batch_size"] = o.batch_size
        if getattr(o, "threads", 0):
            extra["threads"] = o.threads
        if o.base_url:
            extra["base_url"] = o.base_url
        if getattr(o, "allow_pickle", False):
            extra["allow_pickle"] = True
        self.base = ModelHandle(
            "base", ModelSpec(o.base, None, o.backend, o.dtype, quantization, "base", extra), self
        )
        labels = candidate_labels(o.candidate)
        self.candidates = [
            ModelHandle(lab, ModelSpec(o.base, c, o.backend, o.dtype, quantization, lab, extra), self)
            for lab, c in zip(labels, o.candidate, strict=True)
        ]
        self.cache = ResponseCache(o.cache_path, enabled=not o.no_cache)

    def _check_candidates(self) -> str:
        """Refuse adapters trained on another base; resolve ``--quantization auto``.

        Runs when the run is configured, before any model loads generation weights: an adapter
        whose recorded base (adapter_config.json, tunegate.json's base fingerprint) is not ``--base``
        is a ConfigError naming both (``--allow-base-mismatch`` overrides); a QLoRA adapter is gated
        against the NF4 base it was trained on unless ``--quantization none`` says otherwise.
        """
        o = self.options
        asked = getattr(o, "quantization", "none")
        if o.backend not in ("hf", "vllm") or not o.candidate:
            return "none" if asked == "auto" else asked
        from tunegate.harness.models.adapters import check_adapter_base, check_model_dir
        from tunegate.harness.models.resolve import resolve_base

        allow_pickle = bool(getattr(o, "allow_pickle", False))
        base_dir = resolve_base(o.base, o.cache_path)
        self.notes.extend(check_model_dir(base_dir, role="base", allow_pickle=allow_pickle))
        recommended: set[str] = set()
        for c in o.candidate:
            if not Path(c).is_dir():
                raise ConfigError(f"--candidate={c!r}: no such directory; pass an adapter dir (adapter_config.json) or a full model dir")
            self.notes.extend(check_model_dir(Path(c), role="candidate", allow_pickle=allow_pickle))
            check = check_adapter_base(
                Path(c),
                base_spec=o.base,
                base_dir=base_dir,
                quantization="none" if asked == "auto" else asked,
                allow_mismatch=bool(getattr(o, "allow_base_mismatch", False)),
            )
            self.notes.extend(n for n in check.notes if n.startswith(("BASE MISMATCH", "adapter")))
            recommended.add(check.recommended_quantization)
        if asked != "auto":
            return asked
        if len(recommended) > 1:
            raise ConfigError(
                "the candidates were trained on differently quantized bases (QLoRA on NF4 and LoRA on the "
                "full-precision base) and share one base here; gate them in two runs, or pick one with "
                "--quantization nf4 or --quantization none"
            )
        chosen = recommended.pop() if recommended else "none"
        if chosen == "nf4":
            self.notes.append("the QLoRA adapter is gated against the NF4 base it was trained on (--quantization auto)")
        return chosen

    # -- generation -------------------------------------------------------------------------
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
            if model is not self.base:
                self.check_adapter(model, suite)
            done = generate_cached(backend, reqs, self.cache, stats=self.stats, label=model.label, suite=suite.name)
            self._outputs[key] = [c.text for c in done]
            rows = self.items.setdefault(suite.name, {})
            for it, text in zip(suite.items, self._outputs[key], strict=True):
                row = rows.setdefault(it.id, _item_row(it))
                row["outputs"][model.label] = text
        return self._outputs[key]

    def check_adapter(self, model: ModelHandle, suite: Suite) -> None:
        if model.label in self.adapter_checks:
            return
        backend = model.backend
        if not isinstance(backend, SupportsAdapterProbe):
            self.adapter_checks[model.label] = {"checked": False, "reason": f"the {model.spec.backend!r} backend has no probe"}
            return
        result = backend.adapter_effect([it.messages for it in suite.items[:4]])
        self.adapter_checks[model.label] = result
        if result.get("no_effect"):
            warnings.warn(
                f"ADAPTER HAS NO EFFECT: candidate {model.label!r} ({model.spec.adapter}) gives logits identical "
                "to the base on a probe batch. Its LoRA weights are zero or were not applied; the comparison "
                "below measures the base against itself.",
                AdapterHasNoEffect,
                stacklevel=2,
            )

    # -- comparisons ------------------------------------------------------------------------
    def compare(self, suite: Suite, metric: Any, candidate: ModelHandle, *, nodeid: str = "") -> Comparison:
        from tunegate.harness.compare import DEFAULT_COVERAGE_FLOOR, compare_scores

        suite = self.prepare(suite)
        base_out = self.outputs(self.base, suite)
        cand_out = self.outputs(candidate, suite)
        items = list(suite.items)
        if isinstance(metric, PairwiseMetric):
            base_scores, cand_scores = metric.score_pair(items, base_out, cand_out)
        elif isinstance(metric, Metric):
            base_scores = metric.score(items, base_out)
            cand_scores = metric.score(items, cand_out)
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
            self.judges = [j for j in self.judges if j.get("rubric") != info.get("rubric")] + [info]
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
        )
        self._record_scores(suite, metric.name, base_scores, cand_scores, candidate.label)
        self.comparisons.append((nodeid, comparison))
        self._note_selection(candidate, suite)
        return comparison

    def _note_selection(self, candidate: ModelHandle, suite: Suite) -> None:
        """Ledger of which adapters of one lineage were gated on this suite version; warn when one
        eval suite has been used to choose among more than a few of them."""
        key = (candidate.label, suite.name)
        if key in self._selection_seen or not candidate.spec.adapter:
            return
        self._selection_seen.add(key)
        from tunegate.harness.ledger import lineage_from_manifest, record_gating, selection_warning

        lineage = lineage_from_manifest(read_provenance(candidate.spec.adapter))
        fingerprint = candidate.content_fingerprint
        if lineage is None or fingerprint is None:
            return
        count = record_gating(
            self.options.cache_path,
            suite_name=suite.name,
            suite_version=suite.version,
            adapter_fingerprint=fingerprint,
            lineage=lineage,
        )
        warning = selection_warning(count, suite.name)
        if warning and warning not in self.notes:
            self.notes.append(warning)

    def _record_scores(
        self, suite: Suite, metric: str, base: MetricScores, cand: MetricScores, label: str
    ) -> None:
        rows = self.items.setdefault(suite.name, {})
        for i, it in enumerate(suite.items):
            row = rows.setdefault(it.id, _item_row(it))
            cell = row["scores"].setdefault(metric, {})
            cell["base"] = _num(base.values[i])
            cell[label] = _num(cand.values[i])
            for who, scores in (("base", base), (label, cand)):
                why = _rationale(scores, i)
                if why:
                    row.setdefault("rationales", {}).setdefault(metric, {})[who] = why

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
        earlier = (self.sections.get("forgetting") or {}).get("summary")
        if earlier and len(self.candidates) > 1 and not earlier.startswith(f"{candidate.label}: "):
            section["summary"] = f"{earlier}; {section['summary']}"
        self.add_section("forgetting", section)
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

        files = resolve_training_files(self.options.train_data, candidate.spec.adapter)
        self.leakage_checked.add(candidate.label)
        if files is None:
            return None
        if suites is None:
            # Every item of every suite of the run, not only a --sample of them: a leak is a leak.
            suites = list(self.full_suites.values())
            if getattr(self.options, "forgetting", False):
                from tunegate.harness import general

                names = {s.name for s in suites}
                suites += [s for s in general.suites() if s.name not in names]
        suites = list(suites)
        if not suites:
            return None
        params = probe_params(suites)

        def generate(chats: list[list[dict[str, str]]]) -> list[str]:
            return chat_generator(candidate.backend, self.cache, params, stats=self.stats, label=candidate.label)(chats)

        section = run_leakage_check(training_files=files, suites=suites, generate=generate, config=config)
        data = section.to_dict()
        current = self.sections.get("leakage")
        by_candidate = dict((current or {}).get("candidates") or {})
        by_candidate[candidate.label] = data
        failing = [d for d in by_candidate.values() if not d.get("passed", True)]
        self.sections["leakage"] = {**(failing[0] if failing else data), "candidates": by_candidate}
        return section

    def automatic_checks(self) -> None:
        """Checks that run whenever their inputs are known, for candidates no test checked:
        leakage when training data is known. Each is recorded as a test of the run verdict."""
        for cand in self.candidates:
            if cand.label in self.leakage_checked:
                continue
            nodeid = f"tunegate::leakage[{cand.label}]"
            try:
                section = self.leakage(cand)
            except TunegateError as exc:
                self.record_test(nodeid=nodeid, outcome="error", message=str(exc), candidate=cand.label, kind="leakage")
                continue
            if section is None:
                continue
            self.record_test(
                nodeid=nodeid,
                outcome="passed" if section.passed else "failed",
                message=str(section.reason),
                candidate=cand.label,
                kind="leakage",
            )

    def mark_forgetting(self, comparison: Comparison) -> Comparison:
        """List ``comparison`` in the forgetting section of results.json (a general-capability gate)."""
        ids = self.sections.setdefault("forgetting", {}).setdefault("suites", [])
        if comparison.id not in ids:
            ids.append(comparison.id)
        return comparison

    def record_test(
        self,
        *,
        nodeid: str,
        outcome: str,
        message: str = "",
        candidate: str | None = None,
        gate_failure: bool = False,
        kind: str = "custom",
    ) -> None:
        """Record the outcome of one collected tunegate test (passed, failed, error, skipped).

        ``gate_failure``: the test failed through a gate (GateFailure); its comparison already
        carries the verdict. Every other failure or error is part of the run verdict by itself.
        """
        self.tests.append(
            {
                "nodeid": nodeid,
                "outcome": outcome,
                "message": message,
                "candidate": candidate,
                "gate_failure": gate_failure,
                "kind": kind,
            }
        )

    def partial(self) -> dict[str, Any]:
        """This process's records as plain data (merged across pytest-xdist workers by tunegate.harness.results)."""
        comparisons = []
        for nodeid, comp in self.comparisons:
            d = comp.to_dict()
            d["nodeid"] = nodeid
            comparisons.append(d)
        models = {m.label: m.record() for m in [self.base, *self.candidates] if m.loaded or m is self.base}
        for m in self.candidates:
            rec = models.setdefault(m.label, m.record())
            rec["provenance"] = read_provenance(m.spec.adapter)
        return {
            "comparisons": comparisons,
            "items": self.items,
            "models": models,
            "suites": {
                s.name: {
                    "name": s.name,
                    "path": s.path,
                    "version": s.version,
                    "n_items": len(s.items),
                    "sampled": self.options.sample or None,
                }
                for s in self.suites.values()
            },
            "sections": self.sections,
            "judges": self.judges,
            "adapter_checks": self.adapter_checks,
            "tests": self.tests,
            "notes": self.notes,
            "cache": {k: v for k, v in self.stats.to_dict().items() if k != "per_model"},
        }

    def add_section(self, name: str, value: Any) -> None:
        if name in ("leakage", "forgetting") and isinstance(value, dict):
            self.sections.setdefault(name, {}).update(value)
        else:
            self.sections[name] = value


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


def _describe(metric: Any) -> dict[str, Any]:
    try:
        return dict(metric.describe())
    except (AttributeError, TypeError, TunegateError):
        return {}
