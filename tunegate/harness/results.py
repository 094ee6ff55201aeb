"""Assemble results.json (schema in tunegate/reports/SCHEMA.md) from a run's records, and write it atomically.

The assembly works on plain dicts, so records from several pytest-xdist workers merge the same
way as those of a single process. Holm's correction across the run's improvement claims is
applied here, once every claim is known.
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

from tunegate.harness.compare.decision import apply_holm, claim_text, shown_p
from tunegate.harness.compare.messages import holm_sentence
from tunegate.harness.record import SCHEMA_VERSION, RunRecord

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


def holm_across_run(comparisons: list[dict[str, Any]]) -> list[str]:
    """Holm across every improvement claim of the run (every ``assert_improves`` call, whatever the
    order); re-decides each comparison from its gates. Returns the ids that lost IMPROVED."""
    gates = [g for c in comparisons for g in c.get("gates") or []]
    lost_gates = apply_holm(gates)
    lost_ids: list[str] = []
    for c in comparisons:
        for g in c.get("gates") or []:
            if any(g is lg for lg in lost_gates):
                g["message"] = _reword(
                    str(g.get("message", "")),
                    str(g["verdict"]),
                    holm_sentence(int(g.get("holm_family") or 0), float(g["p_adjusted"]), float(g["alpha"])),
                )
                if str(c.get("id")) not in lost_ids:
                    lost_ids.append(str(c.get("id")))
        _redecide(c)
    return lost_ids


def _reword(message: str, verdict: str, sentence: str) -> str:
    head, _, rest = message.partition(": ")
    return f"{verdict}: {rest} {sentence}" if head.isupper() else f"{message} {sentence}"


def _redecide(c: dict[str, Any]) -> None:
    """A comparison's top-level fields from its deciding gate: the first failing one, else the last."""
    gates = c.get("gates") or []
    if not gates:
        return
    failing = [g for g in gates if not g.get("passed")]
    g = failing[0] if failing else gates[-1]
    c.update(
        verdict=g["verdict"],
        passed=bool(g["passed"]),
        p_value=shown_p(g["verdict"], g.get("p_null"), g.get("p_drop"), g.get("p_adjusted")),
        p_claim=claim_text(
            g["type"],
            float(g["size"]),
            g["verdict"],
            higher_is_better=bool(c.get("higher_is_better", True)),
            adjusted=g.get("p_adjusted") is not None,
        ),
        p_adjusted=g.get("p_adjusted"),
        ci_low=g.get("ci_low"),
        ci_high=g.get("ci_high"),
        ci_level=g.get("ci_level"),
        mde=g.get("mde"),
        n_needed=g.get("n_needed"),
        message=g.get("message", ""),
        gate={"type": g["type"], "min_delta": g.get("min_delta"), "margin": g.get("margin"), "alpha": g["alpha"]},
    )
    g["p_value"] = c["p_value"]
    g["claim"] = c["p_claim"]


def no_effect_notes(candidates: list[dict[str, Any]]) -> list[str]:
    notes = []
    for cand in candidates:
        if (cand.get("adapter_effect") or {}).get("no_effect"):
            notes.append(
                f"ADAPTER HAS NO EFFECT: {cand.get('label')} ({(cand.get('spec') or {}).get('adapter')}) gives "
                "logits identical to the base: its LoRA weights are zero or were not applied, so every "
                "comparison measures the base against itself."
            )
    return notes


def _candidate_verdict(
    label: str, comps: list[dict[str, Any]], tests: list[dict[str, Any]], allow_advisory: bool, notes: list[str]
) -> dict[str, Any]:
    mine = [c for c in comps if c.get("candidate") == label]
    gated = [c for c in mine if c.get("gates")]
    binding = [c for c in gated if c.get("binding", not c.get("advisory"))]
    failed = [c for c in binding if not c.get("passed")]
    broken = [
        t for t in tests
        if t.get("candidate") in (label, None) and t.get("outcome") in ("failed", "error") and not t.get("gate_failure")
    ]
    lead = [n for n in notes if f" {label} (" in n]
    prefix = (lead[0] + " ") if lead else ""
    if failed:
        first = failed[0]
        reason = (
            f"{len(failed)} gate(s) failed; first: {first.get('suite')} {first.get('metric')} is "
            f"{first.get('verdict')} (delta {_fmt(first.get('delta'))} [{_fmt(first.get('ci_low'))}, "
            f"{_fmt(first.get('ci_high'))}])."
        )
        if broken:
            reason += f" Also {len(broken)} check(s) failed or errored; first: {broken[0]['nodeid']}."
        return {"status": "FAIL", "reason": prefix + reason, "failed": [c["id"] for c in failed] + [t["nodeid"] for t in broken]}
    if broken:
        t = broken[0]
        why = _clip(" ".join(str(t.get("message", "")).split()))
        return {
            "status": "FAIL",
            "reason": prefix + f"{len(broken)} check(s) failed or errored; first: {t['nodeid']} ({t['outcome']}): {why}",
            "failed": [x["nodeid"] for x in broken],
        }
    advisory_failed = [c for c in gated if not c.get("binding", True) and not c.get("passed")]
    if not binding:
        if gated and allow_advisory:
            return {
                "status": "PASS",
                "reason": prefix + f"only advisory gates ({len(gated)}), accepted by --allow-advisory; "
                f"{len(advisory_failed)} of them did not pass.",
                "failed": [],
            }
        if gated:
            return {
                "status": "NO_BINDING_GATES",
                "reason": prefix + f"all {len(gated)} gate(s) are advisory (an unreliable judge cannot pass or fail "
                "a run alone): there is no binding evidence to pass on. Calibrate the judge, add a binding "
                "gate, or pass --allow-advisory.",
                "failed": [],
            }
        ran = [t for t in tests if t.get("candidate") in (label, None) and t.get("outcome") == "passed"]
        if ran:
            return {"status": "PASS", "reason": prefix + f"all {len(ran)} check(s) passed (no comparison gates).", "failed": []}
        return {"status": "ERROR", "reason": prefix + "no gate was applied: the run has no evidence to pass on.", "failed": []}
    extra = f"; {len(advisory_failed)} advisory gate(s) did not pass" if advisory_failed else ""
    return {"status": "PASS", "reason": prefix + f"all {len(binding)} binding gate(s) passed{extra}.", "failed": []}


def decide_run(
    comparisons: list[dict[str, Any]],
    tests: list[dict[str, Any]],
    candidates: list[dict[str, Any]],
    exitstatus: int,
    extra_failures: list[str],
    *,
    allow_advisory: bool = False,
) -> dict[str, Any]:
    """The run verdict: one per candidate, then the run's (FAIL if any candidate fails)."""
    notes = no_effect_notes(candidates)
    labels = [str(c.get("label")) for c in candidates] or sorted({str(c.get("candidate")) for c in comparisons})
    per = {label: _candidate_verdict(label, comparisons, tests, allow_advisory, notes) for label in labels}
    prefix = (notes[0] + " ") if notes else ""
    failing = [(label, v) for label, v in per.items() if v["status"] == "FAIL"]

    def run(status: str, reason: str, failed: list[str]) -> dict[str, Any]:
        return {"status": status, "reason": reason, "failed": failed, "candidates": per, "notes": notes}

    if failing:
        label, v = failing[0]
        who = f"{label}: " if len(per) > 1 else ""
        others = f" ({len(failing)} of {len(per)} candidates fail)" if len(per) > 1 else ""
        reason = v["reason"] if v["reason"].startswith(prefix) and prefix else prefix + v["reason"]
        failed = list(dict.fromkeys(x for _, v2 in failing for x in v2["failed"]))
        return run("FAIL", who + reason + others, failed)
    if extra_failures:
        return run("FAIL", prefix + extra_failures[0], [])
    if exitstatus not in (0, 1):
        return run("ERROR", prefix + f"the run did not complete (pytest exit status {exitstatus}).", [])
    if exitstatus == 1:
        return run("FAIL", prefix + "some tests failed or errored; see the pytest output.", [])
    for status in ("ERROR", "NO_BINDING_GATES"):
        hit = [(label, v) for label, v in per.items() if v["status"] == status]
        if hit:
            label, v = hit[0]
            return run(status, (f"{label}: " if len(per) > 1 else "") + v["reason"], [])
    if not per:
        return run("ERROR", "no gate was applied: the run has no evidence to pass on.", [])
    if len(per) == 1:
        return run("PASS", next(iter(per.values()))["reason"], [])
    return run("PASS", f"all {len(per)} candidates passed every binding gate.", [])


def verdict_fails(results: dict[str, Any]) -> bool:
    """Whether the run's verdict must make pytest exit non-zero."""
    return (results.get("verdict") or {}).get("status") in ("FAIL", "NO_BINDING_GATES", "ERROR")


def _clip(text: str, limit: int = 600) -> str:
    """A check's message for the one-line reason: whole when it fits (it may end in a command to
    run, which must not be cut), else up to the last sentence that fits."""
    if len(text) <= limit:
        return text
    cut = text.rfind(". ", 0, limit)
    return text[: cut + 1] if cut > 0 else text[:limit] + "..."


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):+.3f}"


def build_results(
    merged: dict[str, Any],
    *,
    options: dict[str, Any],
    started: float,
    exitstatus: int,
    command: str,
    extra_failures: list[str] | None = None,
) -> dict[str, Any]:
    """The run record (tunegate/harness/record.py) as the dict written to results.json; decides every verdict once."""
    comparisons = merged["comparisons"]
    lost = holm_across_run(comparisons)
    failures = list(extra_failures or [])
    models = merged["models"]
    base = models.get("base", {"label": "base"})
    candidates = [m for label, m in models.items() if label != "base"]
    for cand in candidates:
        cand["adapter_effect"] = merged["adapter_checks"].get(cand["label"])
    items = {suite: [_clean(row) for row in rows.values()] for suite, rows in sorted(merged["items"].items())}
    add_clean_subsets(comparisons, items, merged["sections"].get("leakage"))
    cache = dict(merged["cache"])
    total = cache.get("hits", 0) + cache.get("misses", 0)
    cache["hit_rate"] = cache.get("hits", 0) / total if total else 0.0
    seconds = cache.get("generation_s") or 0.0
    cache["tokens_per_s"] = round(cache.get("generated_tokens", 0) / seconds, 1) if seconds else None
    tests = list(merged.get("tests", []))
    verdict = decide_run(
        comparisons,
        tests,
        candidates,
        exitstatus,
        failures,
        allow_advisory=bool(options.get("allow_advisory")),
    )
    verdict["notes"] = [*verdict["notes"], *merged.get("notes", [])]
    if lost:
        verdict["notes"] = [*verdict["notes"], f"{len(lost)} improvement claim(s) lost significance after Holm's correction: {', '.join(lost)}"]
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
            "verdict": verdict,
            "models": {"base": base, "candidates": candidates},
            "cache": cache,
            "suites": list(merged["suites"].values()),
            "comparisons": comparisons,
            "tests": tests,
            "items": items,
            "leakage": merged["sections"].get("leakage"),
            "forgetting": merged["sections"].get("forgetting"),
            "judges": list(merged["judges"].values()),
        }
    )
    return RunRecord.from_json(_redact(raw)).to_json()


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
