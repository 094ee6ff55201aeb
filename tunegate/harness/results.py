"""Assemble the run record (tunegate/harness/record.py; results.json, schema in tunegate/reports/SCHEMA.md)
from a run's partial records, and write it atomically.

The workers' partials are plain JSON data, so records from several pytest-xdist workers merge the
same way as those of a single process. ``build_results`` validates the merged data once, as a
``RunRecord``, then applies Holm's correction across the run's improvement claims and decides every
verdict on the typed record (each step a new frozen record).
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from tunegate.harness.atomic import write_atomic
from tunegate.harness.compare.decision import (
    PASSING,
    blocks,
    candidate_verdict,
    deciding_gate,
    finalise_holm,
    no_effect_text,
    run_verdict,
)
from tunegate.harness.compare.messages import Facts, gate_message
from tunegate.harness.compare.result import GateRecord
from tunegate.harness.cost import cost_section
from tunegate.harness.partial import CACHE_COUNTS, RunPartial
from tunegate.harness.record import (
    SCHEMA_VERSION,
    CandidateVerdict,
    CleanSubset,
    ComparisonRecord,
    GateResult,
    ModelRecord,
    RunRecord,
    RunVerdict,
)
from tunegate.harness.redact import redact

LIBRARIES = (
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "accelerate",
    "sacrebleu",
    "bert-score",
    "numpy",
    "scipy",
)


def tool_version() -> str:
    """The installed tunegate's version, as a run record's ``tool.version`` gives it."""
    try:
        return metadata.version("tunegate")
    except metadata.PackageNotFoundError:
        return "0"


def library_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ("tunegate", *LIBRARIES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _gate_message(c: ComparisonRecord, g: GateResult) -> str:
    """A gate's paragraph written anew from its final (post-Holm) decision."""
    return gate_message(Facts.from_record(c), GateRecord.from_dict(g.model_dump()))


def decide_run(
    record: RunRecord, exitstatus: int, extra_failures: list[str], *, allow_advisory: bool = False
) -> RunRecord:
    """The record with Holm's correction applied across the run and every verdict decided: one per
    candidate (``decision.candidate_verdict``), then the run's. A new record (``model_copy``)."""
    comparisons, lost = finalise_holm(record.comparisons, _gate_message)
    by_label = {m.label: m for m in record.models.candidates}
    per = candidate_verdicts(record, comparisons, allow_advisory=allow_advisory)
    notes = [
        no_effect_text(label, by_label[label].spec.adapter if label in by_label else None)
        for label, v in per.items()
        if v.status == "NO_EFFECT"
    ]
    notes += record.verdict.notes
    if lost:
        notes.append(f"{len(lost)} improvement claim(s) lost significance after Holm's correction: {', '.join(lost)}")
    verdict = run_verdict(per, exitstatus, extra_failures, notes=notes, lost_after_holm=lost)
    return record.model_copy(update={"comparisons": comparisons, "verdict": verdict})


def candidate_verdicts(
    record: RunRecord, comparisons: Sequence[ComparisonRecord], *, allow_advisory: bool = False
) -> dict[str, CandidateVerdict]:
    """Each candidate's verdict (``decision.candidate_verdict``) from ``comparisons`` (Holm already
    applied) and the record's tests and models."""
    by_label = {m.label: m for m in record.models.candidates}
    labels = list(by_label) or sorted({c.candidate for c in comparisons})
    return {
        label: candidate_verdict(
            label, comparisons, record.tests, model=by_label.get(label), allow_advisory=allow_advisory
        )
        for label in labels
    }


def verdict_disagreement(record: RunRecord) -> str:
    """Why the verdict stored in ``record`` is not the one its comparisons and tests give ('' when it is).

    The verdicts are decided again by the rule :func:`decide_run` applied, on the stored
    comparisons (Holm's correction is already in them): each comparison's ``passed`` agrees with
    its verdict and its deciding gate's, each candidate's verdict is ``candidate_verdict``'s, and the
    run's is ``run_verdict``'s for a run that exited cleanly. What the record cannot show (pytest's
    exit status 1, a run that did not complete) may only have made the run FAIL or ERROR.

    Statuses are compared, not the reasons' wording (another version words them otherwise), so a
    PASS whose passing gates were all deleted from the file still reads as the PASS of its tests.
    """
    for c in record.comparisons:
        gate = deciding_gate(c.gates)
        if c.passed != (c.verdict in PASSING) or (gate is not None and (gate.verdict, gate.passed) != (c.verdict, c.passed)):
            said = f", and its deciding gate says {gate.verdict}" if gate is not None and gate.verdict != c.verdict else ""
            return f"gate {c.id!r} is {c.verdict} but marked {'passed' if c.passed else 'failed'}{said}"
    allow = bool(record.run.options.get("allow_advisory"))
    per = candidate_verdicts(record, record.comparisons, allow_advisory=allow)
    stored = record.verdict.candidates
    if stored and set(stored) != set(per):
        return f"the verdict names candidates {sorted(stored)} but the record holds {sorted(per)}"
    for label, again in per.items():
        mine = stored.get(label)
        if mine is not None and mine.status != again.status:
            return _disagreement(f"the verdict of candidate {label!r}", mine, again, record)
    best = run_verdict(per, 0, [])
    run = record.verdict
    if run.status == "ERROR" or (run.status == "FAIL" and best.status == "PASS"):
        return ""  # a run that did not complete, or pytest's exit status 1: not in the record
    return _disagreement("the verdict", run, best, record) if run.status != best.status else ""


def _disagreement(
    what: str, stored: CandidateVerdict | RunVerdict, again: CandidateVerdict | RunVerdict, record: RunRecord
) -> str:
    """``the verdict is PASS but gate 'general/qa::accuracy::task' is REGRESSED (binding)``: the first check that decides
    otherwise, else both verdicts with their reasons."""
    comparisons = {c.id: c for c in record.comparisons}
    tests = {t.nodeid: t for t in record.tests}
    for failed in again.failed if stored.status != again.status else []:
        if failed in comparisons:
            c = comparisons[failed]
            return f"{what} is {stored.status} but gate {c.id!r} is {c.verdict} ({'binding' if c.binding else 'advisory'})"
        if failed in tests:
            return f"{what} is {stored.status} but test {failed!r} {tests[failed].outcome}"
    return f"{what} is {stored.status} ({stored.reason!r}) but its comparisons and tests give {again.status} ({again.reason!r})"


def verdict_fails(record: RunRecord) -> bool:
    """Whether the run's verdict must make pytest exit non-zero."""
    return blocks(record.verdict.status)


def build_results(
    merged: RunPartial,
    *,
    options: dict[str, Any],
    started: float,
    exitstatus: int,
    command: str,
    extra_failures: list[str] | None = None,
) -> RunRecord:
    """The run record (tunegate/harness/record.py) from the processes' merged records
    (``tunegate.harness.partial.merge_partials``): validated once, here, then every verdict decided."""
    base = merged.models.get("base") or ModelRecord(label="base")
    candidates = [
        {**m.model_dump(), "adapter_effect": merged.adapter_checks.get(label)}
        for label, m in merged.models.items()
        if label not in ("base", merged.reference)
    ]
    reference = merged.models.get(merged.reference) if merged.reference else None
    reference_info = (
        {
            "path": reference.spec.adapter or "",
            "label": reference.label,
            "fingerprint": reference.content_fingerprint or reference.fingerprint,
        }
        if reference is not None
        else None
    )
    items = {suite: [_clean(row) for row in rows.values()] for suite, rows in sorted(merged.items.items())}
    counts = {k: merged.cache.get(k) or 0 for k in CACHE_COUNTS}
    total = counts["hits"] + counts["misses"]
    seconds = counts["generation_s"]
    cache = {
        **counts,
        "hit_rate": counts["hits"] / total if total else 0.0,
        "tokens_per_s": round(counts["generated_tokens"] / seconds, 1) if seconds else None,
    }
    finished = time.time()
    raw = _clean(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "tunegate", "version": tool_version()},
            "run": {
                "started_at": _iso(started),
                "finished_at": _iso(finished),
                "duration_s": round(finished - started, 3),
                "seed": options.get("seed"),
                "alpha": options.get("alpha"),
                "sample": options.get("sample") or None,
                "command": command,
                "options": options,
                "python": platform.python_version(),
                "platform": f"{platform.system()}-{platform.machine()}",
                "libraries": library_versions(),
                "numerics": str((base.describe or {}).get("numerics") or ""),
                "reference": reference_info,
            },
            # decided below, on the validated record; the run's notes are redacted with the rest
            "verdict": {"status": "ERROR", "reason": "not decided", "notes": merged.notes},
            "models": {
                "base": base.model_dump(),
                "candidates": candidates,
                "reference": reference.model_dump() if reference is not None else None,
            },
            "cache": cache,
            "suites": [s.model_dump() for s in merged.suites.values()],
            "comparisons": merged.comparisons,
            "tests": [t.model_dump() for t in merged.tests],
            "items": items,
            "leakage": merged.sections.get("leakage"),
            "forgetting": merged.sections.get("forgetting"),
            "judges": [j.model_dump() for j in merged.judges],
        }
    )
    record = RunRecord.from_json(redact(raw), where="the run record")
    record = record.model_copy(update={"cost": cost_section(record)})
    return decide_run(
        with_clean_subsets(record), exitstatus, list(extra_failures or []), allow_advisory=bool(options.get("allow_advisory"))
    )


def with_clean_subsets(record: RunRecord) -> RunRecord:
    """Each comparison re-reported on the items the leakage check found clean (descriptive means);
    a new record."""
    if record.leakage is None or not record.leakage.items:
        return record
    flagged: dict[str, set[str]] = {}
    for flag in record.leakage.items:
        flagged.setdefault(flag.suite, set()).add(flag.id)
    comparisons = []
    for comp in record.comparisons:
        bad = flagged.get(comp.suite, set())
        other = comp.reference if comp.against == "reference" and comp.reference else "base"
        rows = [row.scores[comp.metric] for row in record.items.get(comp.suite, []) if row.id not in bad and comp.metric in row.scores]
        pairs = [(cell[other], cell[comp.candidate]) for cell in rows if cell.get(other) is not None and cell.get(comp.candidate) is not None]
        if bad and pairs:
            b_mean = sum(b for b, _ in pairs if b is not None) / len(pairs)
            c_mean = sum(c for _, c in pairs if c is not None) / len(pairs)
            subset = CleanSubset(n=len(pairs), n_flagged=len(bad), base_mean=b_mean, candidate_mean=c_mean, delta=c_mean - b_mean)
            comp = comp.model_copy(update={"clean_subset": subset})
        comparisons.append(comp)
    return record.model_copy(update={"comparisons": comparisons})


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _clean(obj: Any) -> Any:
    """Replace NaN/inf by None and numpy scalars by Python numbers, recursively."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item) and not isinstance(obj, (str, bytes)):
        try:
            return _clean(obj.item())
        except (TypeError, ValueError):
            return str(obj)
    return obj


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as results.json writes it (UTF-8, indent 1, no NaN), through the one atomic writer."""
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False) + "\n")


def command_line() -> str:
    return " ".join(["pytest", *sys.argv[1:]])
