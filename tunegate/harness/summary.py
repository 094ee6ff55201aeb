"""The terminal summary: formats the run record as a table. No statistics happen here."""

from __future__ import annotations

from tunegate.harness.compare.decision import claim_text
from tunegate.harness.numbers import fmt_p
from tunegate.harness.record import ComparisonRecord, RunRecord


def _f(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(float(x), spec)


def _p(c: ComparisonRecord) -> str:
    """The p of the claim that decided the verdict, with that claim in short form."""
    if c.p_value is None:
        return "-"
    g = c.gate
    if g.type == "none":
        return f"{fmt_p(c.p_value)} (two-sided)"
    size = g.min_delta if g.type == "improves" else g.margin
    claim = claim_text(
        g.type, float(size or 0.0), c.verdict, higher_is_better=c.higher_is_better,
        adjusted=c.p_adjusted is not None, short=True, relative=g.relative_margin,
    )  # fmt: skip
    return f"{fmt_p(c.p_value)} ({claim})"


def format_table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return out


def _n(c: ComparisonRecord) -> str:
    cov = c.coverage
    gaps = []
    if cov is not None and cov.unscored_candidate:
        gaps.append(f"{cov.unscored_candidate} cand. unscored")
    if cov is not None and cov.unscored_base:
        gaps.append(f"{cov.unscored_base} {'ref.' if c.against == 'reference' else 'base'} unscored")
    if cov is not None and cov.infra:
        gaps.append(f"{cov.infra} not scored")
    return f"{c.n} ({', '.join(gaps)})" if gaps else str(c.n)


def _gate(c: ComparisonRecord) -> str:
    if c.gate.type == "improves":
        return f">= +{float(c.gate.min_delta or 0):g}"
    if c.gate.type == "no_regression" and c.gate.relative_margin is not None:
        return f"NI {100 * c.gate.relative_margin:g}%"
    if c.gate.type == "no_regression":
        return f"NI {float(c.gate.margin or 0):g}"
    return "-"


def format_summary(record: RunRecord, *, report_dir: str = "") -> list[str]:
    comps = record.comparisons
    many = len({c.candidate for c in comps}) > 1
    reference = record.reference_label
    ref_cols = ["vs", "base", "ref"] if reference else ["base"]
    header = ["suite", "metric", *(["candidate"] if many else []), "gate", "n", *ref_cols, "cand", "delta [CI]", "p (claim)", "verdict"]
    rows = [
        [
            c.suite,
            c.metric,
            *([c.candidate] if many else []),
            _gate(c),
            _n(c),
            *([c.against, _f(c.base_mean), _f(c.reference_mean)] if reference else [_f(c.base_mean)]),
            _f(c.candidate_mean),
            f"{_f(c.delta, '+.3f')} [{_f(c.ci_low, '+.3f')}, {_f(c.ci_high, '+.3f')}]",
            _p(c),
            c.verdict + ("" if c.binding else " (advisory)"),
        ]
        for c in comps
    ]
    v = record.verdict
    title = f"tunegate: candidate vs reference ({reference}) and base" if reference else "tunegate: base vs candidate"
    lines = ["", title.center(60, "=")]
    if reference:
        lines.append("vs: the pair each gate is about (delta = candidate minus it); the other mean is shown, not tested")
    lines += [f"!!! {note}" for note in v.notes if note.startswith("ADAPTER HAS NO EFFECT")]
    lines += format_table(rows, header) if rows else ["(no comparisons)"]
    for t in record.tests:
        if t.outcome in ("failed", "error") and not t.gate_failure:
            lines.append(f"check {t.outcome.upper()}: {t.nodeid}: {' '.join(t.message.split())}")
    cache = record.cache
    lines.append(
        f"generations: {cache.generated} new ({cache.generated_tokens} tokens, "
        f"{_f(cache.generation_s, '.1f')} s), {cache.hits} from cache (hit rate {100 * cache.hit_rate:.0f}%)"
    )
    for cand in record.models.candidates:
        prov = cand.provenance or {}
        if prov.get("inputs_fingerprint"):
            lines.append(
                f"provenance {cand.label}: trained from {((prov.get('data') or {}).get('train') or {}).get('path')} "
                f"(inputs {str(prov.get('inputs_fingerprint'))[:12]})"
            )
    for name, section in (("leakage", record.leakage), ("forgetting", record.forgetting)):
        if section is not None and section.summary:
            lines.append(f"{name}: {section.summary}")
    for j in record.judges:
        lines.append(
            f"judge {j.provider}/{j.model} [{j.rubric}]: kappa "
            f"{_f(j.kappa, '.2f')} -> {'reliable' if j.reliable else 'ADVISORY (cannot pass or fail a run alone)'}"
        )
    lines += [f"note: {note}" for note in v.notes if not note.startswith("ADAPTER HAS NO EFFECT")]
    if len(v.candidates) > 1:
        lines += [f"verdict {label}: {cv.status} - {cv.reason}" for label, cv in v.candidates.items()]
    lines.append(f"verdict: {v.status} - {v.reason}")
    if report_dir:
        lines.append(f"report: {report_dir}/report.html  results: {report_dir}/results.json")
    return lines
