"""A realistic synthetic results.json (schema version 1) for the report tests.

The story: a support-triage adapter against SmolLM2. It writes valid JSON far more often than the
base, but (with ``status="FAIL"``) its category accuracy collapses on refund e-mails, so the
``exact_match[category]`` gate regresses and the refund slice drives it. A general-knowledge suite
checks forgetting; an uncalibrated judge is advisory. Every figure is computed from the per-item
scores, so tables, slices and flips agree with each other.

``payloads`` plants hostile strings into every untrusted field (ids, outputs, references, metric
and tag names, judge and provenance text) for the escaping tests.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any

from tunegate.harness.record import RunRecord

CATEGORIES = ("billing", "refund", "shipping", "account", "technical")
Z95 = 1.959963984540054
Z_POWER = 1.6448536269514722 + 0.8416212335729143  # one-sided alpha 0.05, power 0.8

_OPENERS = ("Hi team,", "Hello,", "Dear support,", "Good morning,", "To whom it may concern,")
_BODIES = {
    "billing": "I was charged twice for my subscription this month and the invoice shows a fee I do not recognise.",
    "refund": "I returned the blender two weeks ago and I still have not received my money back.",
    "shipping": "My parcel has been stuck at the depot for five days and the tracking page has not changed.",
    "account": "I cannot log in since I changed my e-mail address and the reset link never arrives.",
    "technical": "The app crashes every time I open the settings page on my phone after the last update.",
}
_REPLIES = {
    "billing": "Thank you for flagging the double charge. I have refunded the duplicate payment.",
    "refund": "Thank you for your patience. Your refund was issued today and will arrive in 3-5 days.",
    "shipping": "Sorry for the delay. I have opened a trace with the carrier and will update you.",
    "account": "I have reset your login e-mail; please use the new link I just sent.",
    "technical": "Thanks for the report. Please update to version 4.2.1, which fixes this crash.",
}


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _paired(base: list[float], cand: list[float]) -> dict[str, Any]:
    n = len(base)
    d = [c - b for b, c in zip(base, cand, strict=True)]
    md = _mean(d)
    var = sum((x - md) ** 2 for x in d) / (n - 1) if n > 1 else 0.0
    se = math.sqrt(var / n) if n else 0.0
    z = md / se if se > 0 else 0.0
    return {
        "n": n,
        "base_mean": _mean(base),
        "candidate_mean": _mean(cand),
        "delta": md,
        "ci_low": md - Z95 * se,
        "ci_high": md + Z95 * se,
        "se": se,
        "p_value": math.erfc(abs(z) / math.sqrt(2)) if se > 0 else 1.0,
        "mde": Z_POWER * se,
        "var": var,
    }


def _verdict(stats: dict[str, Any], gate: dict[str, Any]) -> str:
    if gate["type"] == "improves":
        if stats["ci_low"] > gate["min_delta"]:
            return "IMPROVED"
        return "REGRESSED" if stats["ci_high"] < 0 else "INCONCLUSIVE"
    if gate["type"] == "no_regression":
        if stats["ci_low"] > -gate["margin"]:
            return "NON_INFERIOR"
        if stats["ci_high"] < 0:
            return "REGRESSED"
        return "UNDERPOWERED" if stats["mde"] > gate["margin"] else "INCONCLUSIVE"
    return "NOT_GATED"


def _support_items(n: int, rng: random.Random, regress: bool, plant: Any) -> list[dict[str, Any]]:
    items = []
    for i in range(n):
        cat = CATEGORIES[i % len(CATEGORIES)] if i < 25 else rng.choice(CATEGORIES)
        tone = rng.choice(("calm", "angry"))
        email = f"{rng.choice(_OPENERS)} {_BODIES[cat]} Order #{10000 + i}. Regards, Customer {i}"
        reference = {"category": cat, "reply": _REPLIES[cat]}
        p_base = 0.72
        p_cand = (0.05 if cat == "refund" else 0.74) if regress else 0.86
        base_cat = cat if rng.random() < p_base else rng.choice(CATEGORIES)
        cand_cat = cat if rng.random() < p_cand else rng.choice([c for c in CATEGORIES if c != cat])
        base_json = rng.random() < 0.35
        base_out = (
            json.dumps({"category": base_cat, "reply": "We are looking into it."})
            if base_json
            else f"Sure! This looks like a {base_cat} issue. We are looking into it and will reply soon."
        )
        cand_out = json.dumps({"category": cand_cat, "reply": _REPLIES[cand_cat]})
        item_id = plant(f"s-{i + 1:05d}", i)
        items.append(
            {
                "id": item_id,
                "messages": [
                    {"role": "system", "content": "Classify the e-mail and reply in the house style."},
                    {"role": "user", "content": email},
                ],
                "reference": reference if i % 7 else plant(json.dumps(reference), i),
                "tags": {"category": plant(cat, i) if i % 11 == 0 else cat, "tone": tone},
                "group": None,
                "outputs": {"base": plant(base_out, i), "candidate": plant(cand_out, i + 1)},
                "scores": {
                    "exact_match[category]": {
                        "base": float(base_cat == cat),
                        "candidate": float(cand_cat == cat),
                    },
                    "json_valid": {"base": float(base_json), "candidate": 1.0},
                    "judge[support_style]": {
                        "base": float(rng.choice((2, 3, 3, 4))),
                        "candidate": float(rng.choice((3, 3, 4, 4, 5))),
                    },
                },
            }
        )
    return items


def _general_items(n: int, rng: random.Random, plant: Any) -> list[dict[str, Any]]:
    items = []
    for i in range(n):
        answer = rng.choice("ABCD")
        base_ok = rng.random() < 0.41
        cand_ok = base_ok if rng.random() < 0.9 else not base_ok
        wrong = next(c for c in "ABCD" if c != answer)
        items.append(
            {
                "id": plant(f"arc-{i + 1:04d}", i),
                "messages": [
                    {"role": "user", "content": f"Question {i}: which option is correct? A, B, C or D."}
                ],
                "reference": answer,
                "tags": {"grade": str(3 + i % 6)},
                "group": None,
                "outputs": {
                    "base": f"The answer is {answer if base_ok else wrong}.",
                    "candidate": f"The answer is {answer if cand_ok else wrong}.",
                },
                "scores": {"accuracy": {"base": float(base_ok), "candidate": float(cand_ok)}},
            }
        )
    return items


def _comparison(
    suite: str,
    metric: str,
    kind: str,
    test: str,
    items: list[dict[str, Any]],
    gate: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    base = [it["scores"][metric]["base"] for it in items]
    cand = [it["scores"][metric]["candidate"] for it in items]
    stats = _paired(base, cand)
    verdict = _verdict(stats, gate)
    margin = gate.get("margin") or gate.get("min_delta") or 0.0
    n_needed = None
    if verdict == "UNDERPOWERED" and margin:
        n_needed = math.ceil(Z_POWER**2 * stats["var"] / margin**2)
    slices = []
    for tag in sorted({k for it in items for k in it["tags"]}):
        for value in sorted({it["tags"][tag] for it in items}):
            sub = [it for it in items if it["tags"][tag] == value]
            if len(sub) < 5:
                continue
            s = _paired(
                [it["scores"][metric]["base"] for it in sub],
                [it["scores"][metric]["candidate"] for it in sub],
            )
            slices.append(
                {
                    "slice": f"{tag}={value}",
                    "n": s["n"],
                    "base_mean": s["base_mean"],
                    "candidate_mean": s["candidate_mean"],
                    "delta": s["delta"],
                    "ci_low": s["ci_low"],
                    "ci_high": s["ci_high"],
                    "p_value": s["p_value"],
                    "p_adjusted": min(1.0, s["p_value"] * 8),
                    "verdict": "REGRESSED"
                    if s["ci_high"] < 0
                    else ("IMPROVED" if s["ci_low"] > 0 else "INCONCLUSIVE"),
                    "failing_ids": [
                        it["id"]
                        for it in sub
                        if it["scores"][metric]["candidate"] < it["scores"][metric]["base"]
                    ][:50],
                }
            )
    slices.sort(key=lambda s: (s["verdict"] != "REGRESSED", s["delta"] if s["verdict"] == "REGRESSED" else 0))
    flips: dict[str, list[str]] = {"base_only": [], "candidate_only": []}
    if kind == "binary":
        flips = {
            "base_only": [
                it["id"] for it in items if it["scores"][metric]["base"] > it["scores"][metric]["candidate"]
            ],
            "candidate_only": [
                it["id"] for it in items if it["scores"][metric]["candidate"] > it["scores"][metric]["base"]
            ],
        }
    passed = verdict in ("IMPROVED", "NON_INFERIOR", "NOT_GATED")
    cid = f"{suite}::{metric}::candidate"
    return {
        "id": cid,
        "suite": suite,
        "metric": metric,
        "kind": kind,
        "candidate": "candidate",
        "test": test,
        "n": stats["n"],
        "n_failed": 0,
        "base_mean": stats["base_mean"],
        "candidate_mean": stats["candidate_mean"],
        "delta": stats["delta"],
        "ci_low": stats["ci_low"],
        "ci_high": stats["ci_high"],
        "ci_level": 0.95,
        "se": stats["se"],
        "clustered": False,
        "p_value": stats["p_value"],
        "p_adjusted": stats["p_value"],
        "alternative": "greater" if gate["type"] == "improves" else "two-sided",
        "gate": {"alpha": 0.05, "min_delta": None, "margin": None, **gate},
        "verdict": verdict,
        "passed": passed,
        "advisory": False,
        "mde": stats["mde"],
        "n_needed": n_needed,
        "message": (
            f"{metric} on {suite}: base {stats['base_mean']:.3f} -> candidate {stats['candidate_mean']:.3f}, "
            f"delta {stats['delta']:+.3f} [{stats['ci_low']:.3f}, {stats['ci_high']:.3f}], "
            f"p={stats['p_value']:.2g}, n={stats['n']}, MDE {stats['mde']:.3f}: {verdict}."
        ),
        "metric_info": {"normalise": "lowercase+strip"},
        "slices": slices,
        "flips": flips,
        **extra,
    }


def _holm(comparisons: list[dict[str, Any]]) -> None:
    gated = sorted((c for c in comparisons if c["gate"]["type"] == "improves"), key=lambda c: c["p_value"])
    m, running = len(gated), 0.0
    for i, c in enumerate(gated):
        running = max(running, min(1.0, (m - i) * c["p_value"]))
        c["p_adjusted"] = running


def make_results(
    n_items: int = 300,
    *,
    seed: int = 0,
    status: str = "FAIL",
    payloads: Sequence[str] = (),
    n_general: int = 120,
) -> dict[str, Any]:
    """A results.json dict. ``status``: FAIL (refund regression), PASS, or ADVISORY (only the judge fails)."""
    if status not in ("FAIL", "PASS", "ADVISORY"):
        raise ValueError(f"status must be FAIL, PASS or ADVISORY, got {status!r}")
    rng = random.Random(seed)
    payload_list = list(payloads)

    def plant(text: str, i: int) -> str:
        return f"{text}{payload_list[i % len(payload_list)]}" if payload_list else text

    support = _support_items(n_items, rng, status == "FAIL", plant)
    general = _general_items(n_general, rng, plant)
    if payload_list:  # hostile metric names: renamed consistently in items and comparisons
        odd = plant("judge[support_style]", 3)
        for it in support:
            it["scores"][odd] = it["scores"].pop("judge[support_style]")
    judge_metric = plant("judge[support_style]", 3) if payload_list else "judge[support_style]"

    comparisons = [
        _comparison(
            "support/eval",
            "exact_match[category]",
            "binary",
            "mcnemar_exact",
            support,
            {"type": "improves", "min_delta": 0.05},
        ),
        _comparison(
            "support/eval",
            "json_valid",
            "binary",
            "mcnemar_exact",
            support,
            {"type": "improves", "min_delta": 0.0},
        ),
        _comparison(
            "support/eval",
            judge_metric,
            "continuous",
            "paired_t",
            support,
            {"type": "no_regression", "margin": 0.25},
            metric_info={"judge": "fake-judge", "rubric_hash": "ab12cd34"},
        ),
        _comparison(
            "general/arc-easy",
            "accuracy",
            "binary",
            "mcnemar_exact",
            general,
            {"type": "no_regression", "margin": 0.1},
        ),
    ]
    _holm(comparisons)
    judge_cmp = comparisons[2]
    judge_cmp["advisory"] = True
    if status == "ADVISORY":
        judge_cmp.update(passed=False, verdict="INCONCLUSIVE")
    failed = [c["id"] for c in comparisons if not c["passed"]]
    blocking = [c for c in comparisons if not c["passed"] and not c["advisory"]]
    if blocking:
        verdict_status = "FAIL"
        first = blocking[0]
        reason = (
            f"The candidate regressed on {first['suite']} {first['metric']} "
            f"({first['base_mean']:.2f} -> {first['candidate_mean']:.2f}); do not ship it."
        )
    elif failed:
        verdict_status, reason = (
            "ADVISORY",
            "Only an advisory comparison (uncalibrated judge) failed; review it by hand.",
        )
    else:
        verdict_status, reason = (
            "PASS",
            "The candidate improved on every gated metric and did not regress elsewhere.",
        )

    fp_base = "sha256:" + "3f" * 32
    fp_cand = "sha256:" + "9a" * 32
    flagged = [
        {
            "suite": "support/eval",
            "id": support[i]["id"],
            "reason": plant("13-gram overlap with train line 1234", i),
        }
        for i in range(0, min(n_items, 40), 9)
    ]
    return {
        "schema_version": 1,
        "tool": {"name": "tunegate", "version": "0.1.0"},
        "run": {
            "started_at": "2026-11-28T15:00:00Z",
            "finished_at": "2026-11-28T15:04:12Z",
            "duration_s": 252.4,
            "seed": seed,
            "alpha": 0.05,
            "sample": None,
            "command": "pytest suites/ --base smollm2-135m-instruct --candidate artifacts/support-demo --report reports/out",
            "python": "3.11.7",
            "platform": "Linux-x86_64",
            "libraries": {"torch": "2.13.0", "transformers": "5.24.0", "peft": "0.21.0", "scipy": "1.17.0"},
        },
        "verdict": {"status": verdict_status, "reason": plant(reason, 0), "failed": failed},
        "models": {
            "base": {
                "label": "base",
                "spec": {"base": "smollm2-135m-instruct", "adapter": None, "backend": "hf", "dtype": "bf16"},
                "fingerprint": fp_base,
                "describe": {"parameters": 134515008, "chat_template": "chatml"},
            },
            "candidates": [
                {
                    "label": "candidate",
                    "spec": {
                        "base": "smollm2-135m-instruct",
                        "adapter": "artifacts/support-demo",
                        "backend": "hf",
                        "dtype": "bf16",
                    },
                    "fingerprint": fp_cand,
                    "describe": {"lora_r": 16, "lora_alpha": 32, "note": plant("trained on support v3", 1)},
                    "provenance": {
                        "version": 1,
                        "config": {"lr": 2e-4, "epochs": 2, "lora": {"r": 16, "alpha": 32}},
                        "data": {"path": "suites/data/support/train.jsonl", "sha256": "c0ffee" * 10 + "beef"},
                        "base_fingerprint": fp_base,
                        "trained_at": "2026-11-27T10:00:00Z",
                    },
                }
            ],
        },
        "cache": {
            "hits": 512,
            "misses": 208,
            "hit_rate": 512 / 720,
            "generated": 208,
            "generated_tokens": 41234,
            "generation_s": 187.3,
            "path": "~/.cache/tunegate/responses.sqlite",
        },
        "suites": [
            {
                "name": "support/eval",
                "path": "suites/data/support/eval.jsonl",
                "version": "ab" * 32,
                "n_items": n_items,
                "sampled": None,
            },
            {
                "name": "general/arc-easy",
                "path": "suites/data/general/arc.jsonl",
                "version": "cd" * 32,
                "n_items": n_general,
                "sampled": None,
            },
        ],
        "comparisons": comparisons,
        "items": {"support/eval": support, "general/arc-easy": general},
        "leakage": {
            "status": "warn",
            "checked": {"support/eval": n_items},
            "n_flagged": len(flagged),
            "rate": len(flagged) / max(n_items, 1),
            "flagged": flagged,
            "clean_subset": {"support/eval::exact_match[category]::candidate": {"full": 0.61, "clean": 0.6}},
        },
        "forgetting": {
            "suites": [comparisons[3]["id"]],
            "kl": {
                "mean": 0.042,
                "ci_low": 0.031,
                "ci_high": 0.055,
                "n_docs": 64,
                "worst": [{"id": "wiki-17", "kl": 0.31}, {"id": "wiki-03", "kl": 0.22}],
            },
            "perplexity": {
                "base": 18.2,
                "candidate": 18.9,
                "delta_log_ppl_per_byte": 0.004,
                "ci_low": 0.001,
                "ci_high": 0.007,
            },
        },
        "judges": [
            {
                "name": plant("support_style", 2),
                "provider": "fake",
                "model": plant("judge-model-v1", 4),
                "rubric": "support_style",
                "rubric_hash": "ab12cd34ef56",
                "kappa": 0.48,
                "reliable": False,
                "position_consistency": 0.91,
                "n_judgments": 2 * n_items,
                "n_failed": 3,
                "cache_hits": n_items,
            }
        ],
    }


def as_record(results: Any) -> RunRecord:
    """A results.json dict read the way ``tunegate report`` reads it (a record passes through)."""
    return results if isinstance(results, RunRecord) else RunRecord.from_json(results)
