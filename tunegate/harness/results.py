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
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from tunegate.harness.compare.decision import (
    blocks,
    candidate_verdict,
    finalise_holm,
    no_effect_text,
    run_verdict,
)
from tunegate.harness.compare.messages import Facts, gate_message
from tunegate.harness.compare.result import GateRecord
from tunegate.harness.record import SCHEMA_VERSION, ComparisonRecord, GateResult, RunRecord

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


def library_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ("tunegate", *LIBRARIES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def merge_partials(partials: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Union of worker records: comparisons appended, items merged field by field."""
    merged: dict[str, Any] = {
        "comparisons": [],
        "items": {},
        "models": {},
        "suites": {},
        "sections": {},
        "judges": {},
        "adapter_checks": {},
        "tests": [],
        "notes": [],
        "cache": {},
    }
    for part in partials:
        merged["comparisons"].extend(part.get("comparisons", []))
        for suite, rows in part.get("items", {}).items():
            target = merged["items"].setdefault(suite, {})
            for item_id, row in rows.items():
                cur = target.setdefault(item_id, {**row, "outputs": {}, "scores": {}})
                cur["outputs"].update(row.get("outputs", {}))
                for metric, cell in row.get("scores", {}).items():
                    cur["scores"].setdefault(metric, {}).update(cell)
        for label, rec in part.get("models", {}).items():
            if rec.get("fingerprint") or label not in merged["models"]:
                merged["models"][label] = rec
        merged["suites"].update(part.get("suites", {}))
        for name, sec in part.get("sections", {}).items():
            if isinstance(sec, dict):
                merged["sections"].setdefault(name, {}).update(sec)
            else:
                merged["sections"][name] = sec
        for j in part.get("judges", []):
            merged["judges"][j.get("rubric", j.get("name", ""))] = j
        merged["adapter_checks"].update(part.get("adapter_checks", {}))
        merged["tests"].extend(part.get("tests", []))
        for note in part.get("notes", []):
            if note not in merged["notes"]:
                merged["notes"].append(note)
        for k in ("hits", "misses", "generated", "generated_tokens", "generation_s"):
            v = part.get("cache", {}).get(k)
            if isinstance(v, (int, float)):
                merged["cache"][k] = merged["cache"].get(k, 0) + v
    return merged


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
    labels = list(by_label) or sorted({c.candidate for c in comparisons})
    per = {
        label: candidate_verdict(
            label, comparisons, record.tests, model=by_label.get(label), allow_advisory=allow_advisory
        )
        for label in labels
    }
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


def verdict_fails(record: RunRecord) -> bool:
    """Whether the run's verdict must make pytest exit non-zero."""
    return blocks(record.verdict.status)


def build_results(
    merged: dict[str, Any],
    *,
    options: dict[str, Any],
    started: float,
    exitstatus: int,
    command: str,
    extra_failures: list[str] | None = None,
) -> RunRecord:
    """The run record (tunegate/harness/record.py), validated once here, with every verdict decided."""
    comparisons = merged["comparisons"]
    models = merged["models"]
    base = models.get("base", {"label": "base"})
    candidates = [
        {**m, "adapter_effect": merged["adapter_checks"].get(label)} for label, m in models.items() if label != "base"
    ]
    items = {suite: [_clean(row) for row in rows.values()] for suite, rows in sorted(merged["items"].items())}
    add_clean_subsets(comparisons, items, merged["sections"].get("leakage"))
    cache = dict(merged["cache"])
    total = cache.get("hits", 0) + cache.get("misses", 0)
    cache["hit_rate"] = cache.get("hits", 0) / total if total else 0.0
    seconds = cache.get("generation_s") or 0.0
    cache["tokens_per_s"] = round(cache.get("generated_tokens", 0) / seconds, 1) if seconds else None
    finished = time.time()
    raw = _clean(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "tunegate", "version": library_versions().get("tunegate", "0")},
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
                "numerics": str((base.get("describe") or {}).get("numerics") or ""),
            },
            # decided below, on the validated record; the run's notes are redacted with the rest
            "verdict": {"status": "ERROR", "reason": "not decided", "notes": merged.get("notes", [])},
            "models": {"base": base, "candidates": candidates},
            "cache": cache,
            "suites": list(merged["suites"].values()),
            "comparisons": comparisons,
            "tests": list(merged.get("tests", [])),
            "items": items,
            "leakage": merged["sections"].get("leakage"),
            "forgetting": merged["sections"].get("forgetting"),
            "judges": list(merged["judges"].values()),
        }
    )
    record = RunRecord.from_json(_redact(raw), where="the run record")
    return decide_run(
        record, exitstatus, list(extra_failures or []), allow_advisory=bool(options.get("allow_advisory"))
    )


def _redact(obj: Any) -> Any:
    try:
        from tunegate.harness.redact import redact
    except ImportError:  # pragma: no cover - ships with tunegate
        return obj
    return redact(obj)


def add_clean_subsets(
    comparisons: list[dict[str, Any]], items: dict[str, list[dict[str, Any]]], leakage: dict[str, Any] | None
) -> None:
    """Re-report each comparison on the items the leakage check found clean (descriptive means)."""
    if not leakage or not leakage.get("items"):
        return
    flagged: dict[str, set[str]] = {}
    for flag in leakage["items"]:
        flagged.setdefault(str(flag.get("suite")), set()).add(str(flag.get("id")))
    for comp in comparisons:
        bad = flagged.get(str(comp.get("suite")))
        if not bad:
            continue
        metric, label = comp.get("metric"), comp.get("candidate")
        pairs = [
            (row["scores"][metric].get("base"), row["scores"][metric].get(label))
            for row in items.get(str(comp.get("suite")), [])
            if row["id"] not in bad and metric in row.get("scores", {})
        ]
        pairs = [(b, c) for b, c in pairs if b is not None and c is not None]
        if pairs:
            b_mean = sum(b for b, _ in pairs) / len(pairs)
            c_mean = sum(c for _, c in pairs) / len(pairs)
            comp["clean_subset"] = {
                "n": len(pairs), "n_flagged": len(bad), "base_mean": b_mean, "candidate_mean": c_mean,
                "delta": c_mean - b_mean,
            }


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def command_line() -> str:
    return " ".join(["pytest", *sys.argv[1:]])
