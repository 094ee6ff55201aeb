"""The terminal summary: formats results.json as a table. No statistics happen here."""

from __future__ import annotations

from typing import Any


def _f(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(float(x), spec)


def _p(x: Any) -> str:
    if x is None:
        return "-"
    x = float(x)
    return "<1e-4" if x < 1e-4 else f"{x:.4f}"


def format_table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def format_summary(results: dict[str, Any], *, report_dir: str = "") -> list[str]:
    comps = results.get("comparisons", [])
    many = len({c.get("candidate") for c in comps}) > 1
    header = [
        "suite",
        "metric",
        *(["candidate"] if many else []),
        "n",
        "base",
        "cand",
        "delta [95% CI]",
        "p",
        "p_holm",
        "verdict",
    ]
    rows = []
    for c in comps:
        verdict = str(c.get("verdict", "-")) + (" (advisory)" if c.get("advisory") else "")
        rows.append(
            [
                str(c.get("suite")),
                str(c.get("metric")),
                *([str(c.get("candidate"))] if many else []),
                str(c.get("n")),
                _f(c.get("base_mean")),
                _f(c.get("candidate_mean")),
                f"{_f(c.get('delta'), '+.3f')} [{_f(c.get('ci_low'), '+.3f')}, {_f(c.get('ci_high'), '+.3f')}]",
                _p(c.get("p_value")),
                _p(c.get("p_adjusted")),
                verdict,
            ]
        )
    lines = ["", "tunegate: base vs candidate".center(60, "=")]
    lines += format_table(rows, header) if rows else ["(no comparisons)"]
    cache = results.get("cache", {})
    lines.append(
        f"generations: {cache.get('generated', 0)} new ({cache.get('generated_tokens', 0)} tokens, "
        f"{_f(cache.get('generation_s'), '.1f')} s), {cache.get('hits', 0)} from cache "
        f"(hit rate {100 * float(cache.get('hit_rate') or 0):.0f}%)"
    )
    for cand in results.get("models", {}).get("candidates", []):
        eff = cand.get("adapter_effect") or {}
        if eff.get("no_effect"):
            lines.append(
                f"!!! ADAPTER HAS NO EFFECT: {cand.get('label')} ({(cand.get('spec') or {}).get('adapter')}) "
                "gives logits identical to the base; its LoRA weights are zero or were not applied."
            )
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
            f"{_f(kappa, '.2f')} -> {'reliable' if j.get('reliable') else 'ADVISORY (cannot fail a gate alone)'}"
        )
    v = results.get("verdict", {})
    lines.append(f"verdict: {v.get('status')} - {v.get('reason')}")
    if report_dir:
        lines.append(f"report: {report_dir}/report.html  results: {report_dir}/results.json")
    return lines
