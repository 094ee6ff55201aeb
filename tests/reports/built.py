"""A results.json made the way a run makes it: compare_scores -> gates -> merge_partials -> build_results.

``built_results`` is the ONE place this construction lives (if the record API changes, adapt it
here). ``payload`` is appended to every string field a user, a suite file, a model or a judge can
put into the record: suite, metric and tag names, candidate labels, adapter paths, item ids,
prompts, outputs, references, judge names and rationales, test node ids and messages, leakage
reasons, the command line.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import warnings
from typing import Any

import numpy as np

from tunegate.harness.compare import AdvisoryGateWarning, compare_scores
from tunegate.harness.errors import GateFailure
from tunegate.harness.metrics.base import MetricScores
from tunegate.harness.partial import merge_partials
from tunegate.harness.record import RunRecord
from tunegate.harness.results import build_results

N_ITEMS = 40


def _binary(rng: np.random.Generator, p: float) -> np.ndarray:
    return (rng.random(N_ITEMS) < p).astype(float)


def built_results(
    payload: str = "",
    *,
    labels: tuple[str, ...] = ("task", "replay"),
    adapters: tuple[str, ...] | None = None,
    no_effect: bool = False,
    suite: str | None = None,
    passing: bool = False,
) -> RunRecord:
    """A run of ``labels`` (two by default): the first candidate regresses on the general suite and
    its leakage check errors, the others pass (with ``passing``, every candidate passes and pytest
    exits 0). A candidate's fingerprint is a hash of its adapter path (``adapters``, by default
    ``artifacts/<label>``), so two runs that name the same adapter share its fingerprint."""
    p = payload
    suite_task = suite if suite is not None else f"support/eval{p}"
    suite_general = f"general/qa{p}"
    paths = adapters or tuple(f"artifacts/{label}" for label in labels)
    labels = tuple(f"{label}{p}" for label in labels)
    rng = np.random.default_rng(0)
    ids = [f"item-{i:03d}{p}" for i in range(N_ITEMS)]
    tags = [{f"category{p}": f"{('refund', 'billing')[i % 2]}{p}"} for i in range(N_ITEMS)]
    base_task, base_general = _binary(rng, 0.3), _binary(rng, 0.6)
    lift = _binary(rng, 0.6)
    scores = {
        label: (np.clip(base_task + lift, 0, 1), base_general * _binary(rng, 0.5) if k == 0 and not passing else base_general.copy())
        for k, label in enumerate(labels)
    }
    judge_metric = f"judge[style]{p}"
    base_judge = rng.integers(2, 5, N_ITEMS).astype(float)

    comparisons: list[dict[str, Any]] = []
    items: dict[str, dict[str, dict[str, Any]]] = {suite_task: {}, suite_general: {}}
    for rows in items.values():
        for i, item_id in enumerate(ids):
            rows[item_id] = {
                "id": item_id,
                "messages": [{"role": "user", "content": f"question {i}{p}"}],
                "reference": f"reference {i}{p}",
                "tags": tags[i],
                "group": None,
                "outputs": {"base": f"base answer {i}{p}"},
                "scores": {},
            }

    def record(suite_name: str, metric: str, kind: str, base: np.ndarray, cand: np.ndarray, label: str,
               gate: str, threshold: float, *, judge: bool = False) -> None:
        infra = tuple(bool(judge and i < 3) for i in range(N_ITEMS))
        cand_values = cand.copy()
        if judge:
            cand_values[:3] = np.nan
        comp = compare_scores(
            suite=suite_name, metric_name=metric, kind=kind, ids=ids,  # type: ignore[arg-type]
            base=MetricScores(values=base), candidate=MetricScores(values=cand_values, infra=infra,
                                                                  failures=tuple(f"judge API failed{p}" if f else None for f in infra)),
            candidate_label=label, tags=tags, alpha=0.05, seed=0, n_resamples=500, advisory=judge,
        )
        # A failing gate is recorded on the comparison, as in a run; the advisory warning is expected.
        with contextlib.suppress(GateFailure), warnings.catch_warnings():
            warnings.simplefilter("ignore", AdvisoryGateWarning)
            comp.assert_improves(threshold) if gate == "improves" else comp.assert_no_regression(threshold)
        d = comp.to_dict()
        d["nodeid"] = f"suites/test_x.py::test_{metric}[{label}]"
        comparisons.append(d)
        for i, item_id in enumerate(ids):
            row = items[suite_name][item_id]
            row["outputs"][label] = f"{label} answer {i}{p}"
            cell = row["scores"].setdefault(metric, {})
            cell["base"] = float(base[i])
            cell[label] = None if np.isnan(cand_values[i]) else float(cand_values[i])
            if judge:
                row.setdefault("rationales", {}).setdefault(metric, {})[label] = f"rationale {i}{p}"

    for label in labels:
        task, general = scores[label]
        record(suite_task, f"exact_match{p}", "binary", base_task, task, label, "improves", 0.05)
        record(suite_general, f"accuracy{p}", "binary", base_general, general, label, "no_regression", 0.1)
    record(suite_task, judge_metric, "continuous", base_judge, base_judge + 0.5, labels[-1], "no_regression", 0.5,
           judge=True)

    def model(label: str, adapter: str | None, fp: str) -> dict[str, Any]:
        return {
            "label": label,
            "spec": {"base": f"tiny-base{p}", "adapter": adapter, "backend": "hf", "dtype": "fp32"},
            "fingerprint": fp,
            "describe": {"note": f"describe{p}"},
        }

    models = {"base": model("base", None, "sha256:" + "3f" * 32)}
    for label, path in zip(labels, paths, strict=True):
        fp = "sha256:" + hashlib.sha256(path.encode()).hexdigest()
        models[label] = {**model(label, f"{path}{p}", fp), "provenance": None}
    partial = {
        "comparisons": comparisons,
        "items": items,
        "models": models,
        "suites": {
            s: {"name": s, "path": f"suites/{s}.jsonl", "version": "ab" * 32, "n_items": N_ITEMS, "sampled": None}
            for s in (suite_task, suite_general)
        },
        "sections": {
            "leakage": {"status": "warn", "n_flagged": 1, "items": [{"suite": suite_task, "id": ids[0], "reason": f"13-gram{p}"}]}
        },
        "judges": [{"name": f"style{p}", "provider": "fake", "model": f"judge-model{p}", "rubric": f"style{p}",
                    "rubric_hash": "ab12", "kappa": 0.4, "reliable": False, "n_judgments": N_ITEMS, "n_failed": 3}],
        "adapter_checks": {label: {"checked": True, "no_effect": no_effect and k == 0} for k, label in enumerate(labels)},
        "tests": [
            {"nodeid": f"suites/test_leakage.py::test_no_leakage{p}", "outcome": "passed" if passing else "error",
             "kind": "leakage", "message": "" if passing else f"train file moved{p}", "candidate": labels[0],
             "gate_failure": False},
            {"nodeid": f"suites/test_drift.py::test_kl{p}", "outcome": "passed", "kind": "drift",
             "message": "", "candidate": labels[-1], "gate_failure": False},
        ],
        "cache": {"hits": 1, "misses": 2},
    }
    return build_results(
        merge_partials([partial]), options={"seed": 0, "alpha": 0.05}, started=time.time() - 3.0, exitstatus=0 if passing else 1,
        command=f"pytest suites/{p}",
    )
