"""The terminal summary: formats results.json as a table. No statistics happen here."""

from __future__ import annotations

from typing import Any

from tunegate.harness.compare.decision import claim_text
from tunegate.harness.numbers import fmt_p


def _f(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(float(x), spec)


def _p(c: dict[str, Any]) -> str:
    """The p of the claim that decided the verdict, with that claim in short form."""
    p = c.get("p_value")
    if p is None:
        return "-"
    g = c.get("gate") or {}
    if g.get("type") not in ("improves", "no_regression"):
        return f"{fmt_p(p)} (two-sided)"
    size = g.get("min_delta") if g["type"] == "improves" else g.get("margin")
    claim = claim_text(
        str(g["type"]),
        float(size or 0.0),
        str(c.get("verdict")),
        higher_is_better=bool(c.get("higher_is_better", True)),
        adjusted=c.get("p_adjusted") is not None,
        short=True,
    )
    return f"{fmt_p(p)} ({claim})"


def format_table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def _n(c: dict[str, Any]) -> str:
    cov = c.get("coverage") or {}
    n = str(c.get("n"))
    gaps = []
    if cov.get("unscored_candidate"):
        gaps.append(f"{cov['unscored_candidate']} cand. unscored")
    if cov.get("unscored_base"):
        gaps.append(f"{cov['unscored_base']} base unscored")
    if cov.get("infra"):
        gaps.append(f"{cov['infra']} not scored")
    return f"{n} ({', '.join(gaps)})" if gaps else n


def _gate(c: dict[str, Any]) -> str:
    g = c.get("gate") or {}
    if g.get("type") == "improves":
        return f">= +{float(g.get('min_delta') or 0):g}"
    if g.get("type") == "no_regression":
        return f"NI {float(g.get('margin') or 0):g}"
    return "-"


def format_summary(results: dict[str, Any], *, report_dir: str = "") -> list[str]:
    comps = results.get("comparisons", [])
    many = len({c.get("candidate") for c in comps}) > 1
    header = ["suite", "metric", *(["candidate"] if many else []), "gate", "n", "base", "cand", "delta [CI]", "p (claim)", "verdict"]
    rows = []
    for c in comps:
        verdict = str(c.get("verdict", "-")) + ("" if c.get("binding", True) else " (advisory)")
        rows.append(
            [
                str(c.get("suite")),
                str(c.get("metric")),
                *([str(c.get("candidate"))] if many else []),
                _gate(c),
                _n(c),
                _f(c.get("base_mean")),
                _f(c.get("candidate_mean")),
                f"{_f(c.get('delta'), '+.3f')} [{_f(c.get('ci_low'), '+.3f')}, {_f(c.get('ci_high'), '+.3f')}]",
                _p(c),
                verdict,
            ]
        )
    v = results.get("verdict", {})
    lines = ["", "tunegate: base vs candidate".center(60, "=")]
    lines += [f"!!! {note}" for note in v.get("notes", []) if note.startswith("ADAPTER HAS NO EFFECT")]
    lines += format_table(rows, header) if rows else ["(no comparisons)"]
    for t in results.get("tests", []):
        if t.get("outcome") in ("failed", "error") and not t.get("gate_failure"):
            why = " ".join(str(t.get("message", "")).split())
            lines.append(f"check {t.get('outcome').upper()}: {t.get('nodeid')}: {why}")
    cache = results.get("cache", {})
    lines.append(
        f"generations: {cache.get('generated', 0)} new ({cache.get('generated_tokens', 0)} tokens, "
        f"{_f(cache.get('generation_s'), '.1f')} s), {cache.get('hits', 0)} from cache "
        f"(hit rate {100 * float(cache.get('hit_rate') or 0):.0f}%)"
    )
    for cand in results.get("models", {}).get("candidates", []):
        prov = cand.get("provenance") or {}
        if prov.get("inputs_fingerprint"):
            lines.append(
                f"provenance {cand.get('label')}: trained from {((prov.get('data') or {}).get('train') or {}).get('path')} "
                f"(inputs {str(prov.get('inputs_fingerprint'))[:12]})"
            )
    for section in ("leakage", "forgetting"):
        sec = results.get(section)
        if isinstance(sec, dict) and sec.get("summary"):
            lines.append(f"{section}: {sec['summary']}")
    for j in results.get("judges", []):
        kappa = j.get("kappa")
        lines.append(
            f"judge {j.get('provider')}/{j.get('model')} [{j.get('rubric')}]: kappa "
            f"{_f(kappa, '.2f')} -> {'reliable' if j.get('reliable') else 'ADVISORY (cannot pass or fail a run alone)'}"
        )
    for note in v.get("notes", []):
        if not note.startswith("ADAPTER HAS NO EFFECT"):
            lines.append(f"note: {note}")
    per = v.get("candidates") or {}
    if len(per) > 1:
        for label, cv in per.items():
            lines.append(f"verdict {label}: {cv.get('status')} - {cv.get('reason')}")
    lines.append(f"verdict: {v.get('status')} - {v.get('reason')}")
    if report_dir:
        lines.append(f"report: {report_dir}/report.html  results: {report_dir}/results.json")
    return lines
