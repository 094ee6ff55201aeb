"""HTML for the secondary sections: leakage, forgetting, judge health, provenance.

These sections carry free-form dicts (the leakage report, the adapter's training manifest, a
backend's ``describe()``), so they go through one generic, escaping renderer rather than
templates that would silently drop fields they did not expect.
"""

from __future__ import annotations

from typing import Any

from reports.format import (
    DASH,
    VERDICT_COLOURS,
    as_float,
    comparison_label,
    delta_ci,
    esc,
    esc_label,
    num,
    obj,
    pct,
    short_hash,
)

MAX_ROWS = 200
"""Rows shown for a list inside a free-form section (the rest are counted, not rendered)."""
MAX_COLUMNS = 12


def scalar(value: object) -> str:
    """One escaped cell for a JSON scalar."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        x = as_float(value)
        if x is None:
            return DASH
        return f"{x:.3g}" if 0 < abs(x) < 0.001 else num(x)
    text = str(value)
    if len(text) == 64 and all(ch in "0123456789abcdef" for ch in text):
        return f'<code title="{esc(text)}">{esc(text[:16])}…</code>'
    return esc(text)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def render_value(value: object, depth: int = 0) -> str:
    """Any JSON value as escaped HTML: key/value tables, row tables for lists of objects."""
    if _is_scalar(value):
        return scalar(value)
    if isinstance(value, dict):
        return _render_dict(value, depth)
    if isinstance(value, list):
        return _render_list(value, depth)
    return esc(value)


def _render_dict(value: dict[Any, Any], depth: int) -> str:
    if not value:
        return '<span class="muted">(empty)</span>'
    flat: list[tuple[Any, Any]] = []
    nested: list[tuple[Any, Any]] = []
    for k, v in value.items():
        simple = _is_scalar(v) or (isinstance(v, list) and all(map(_is_scalar, v)))
        (flat if simple else nested).append((k, v))
    out = []
    if flat:
        rows = "".join(
            f"<tr><th>{esc_label(k)}</th><td>{render_value(v, depth + 1)}</td></tr>" for k, v in flat
        )
        out.append(f'<table class="kv">{rows}</table>')
    for k, v in nested:
        if depth >= 3:
            out.append(f"<h4>{esc_label(k)}</h4><code>{esc(v)}</code>")
        else:
            out.append(f"<h4>{esc_label(k)}</h4>{render_value(v, depth + 1)}")
    return "".join(out)


def _render_list(value: list[Any], depth: int) -> str:
    if not value:
        return '<span class="muted">none</span>'
    if all(_is_scalar(v) for v in value):
        shown = ", ".join(scalar(v) for v in value[:50])
        more = f' <span class="muted">… {len(value) - 50:,} more</span>' if len(value) > 50 else ""
        return shown + more
    if all(isinstance(v, dict) for v in value):
        columns: dict[str, None] = {}
        for row in value[:MAX_ROWS]:
            columns.update(dict.fromkeys(str(k) for k in row))
        cols = list(columns)[:MAX_COLUMNS]
        head = "".join(f"<th>{esc_label(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(row.get(c), depth)}</td>" for c in cols) + "</tr>"
            for row in value[:MAX_ROWS]
        )
        more = (
            f'<p class="note">{MAX_ROWS:,} of {len(value):,} rows shown; all are in results.json.</p>'
            if len(value) > MAX_ROWS
            else ""
        )
        return f'<div class="table-wrap"><table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}'
    return "<ul>" + "".join(f"<li>{render_value(v, depth + 1)}</li>" for v in value[:MAX_ROWS]) + "</ul>"


def _cell(value: object, depth: int) -> str:
    if _is_scalar(value):
        return scalar(value)
    return f'<span class="ids">{esc(value)}</span>'


def badge(text: str, colour: str) -> str:
    return f'<span class="badge" style="background:{colour}">{esc(text)}</span>'


def verdict_badge(verdict: object) -> str:
    text = str(verdict or DASH)
    return badge(text, VERDICT_COLOURS.get(text, "#6e7781"))


def leakage_section(leakage: object) -> str:
    intro = (
        '<p class="lead">Overlap between the adapter\'s training data and the eval items '
        "(exact duplicates, 13-gram overlap, near duplicates). A leaked item measures memory, not skill.</p>"
    )
    if leakage is None:
        return intro + '<p class="muted">No leakage check ran in this run (no training data was given).</p>'
    status = leakage.get("status") if isinstance(leakage, dict) else None
    head = ""
    if isinstance(status, str):
        colour = {"pass": "#1a7f37", "clean": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e"}.get(
            status.lower(), "#6e7781"
        )
        head = f"<p>Status: {badge(status.upper(), colour)}</p>"
    rest = (
        {k: v for k, v in leakage.items() if k != "status"} if head and isinstance(leakage, dict) else leakage
    )
    return intro + head + render_value(rest)


def forgetting_section(forgetting: object, comparisons: list[dict[str, Any]], *, with_candidate: bool) -> str:
    intro = (
        '<p class="lead">General capability the adapter was not trained for: paired non-inferiority on '
        "general suites, and drift of the next-token distribution (KL, perplexity) on general text.</p>"
    )
    if forgetting is None:
        return intro + '<p class="muted">No forgetting check ran in this run.</p>'
    if not isinstance(forgetting, dict):
        return intro + render_value(forgetting)
    out = [intro]
    ids = forgetting.get("suites") or []
    if ids:
        index = {str(c.get("id")): k for k, c in enumerate(comparisons)}
        rows = []
        for cid in ids:
            k = index.get(str(cid))
            if k is None:
                rows.append(
                    f'<tr><td colspan="3">{esc_label(cid)} <span class="muted">(not in comparisons)</span></td></tr>'
                )
                continue
            c = comparisons[k]
            rows.append(
                f'<tr><td><a href="#cmp-{k}">{comparison_label(c, with_candidate=with_candidate)}</a></td>'
                f'<td class="num">{esc(delta_ci(c))}</td><td>{verdict_badge(c.get("verdict"))}</td></tr>'
            )
        out.append(
            '<h3>General suites</h3><div class="table-wrap"><table class="data"><thead><tr><th>comparison</th>'
            f'<th class="num">delta [CI]</th><th>verdict</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
        )
    titles = {"kl": "KL divergence (base ‖ candidate) per token", "perplexity": "Perplexity shift"}
    for key, value in forgetting.items():
        if key == "suites":
            continue
        out.append(f"<h3>{esc(titles.get(str(key), str(key)))}</h3>{render_value(value)}")
    return "".join(out)


def judges_section(judges: object) -> str:
    if not judges:
        return '<p class="muted">No LLM judge was used in this run.</p>'
    if not isinstance(judges, list):
        return render_value(judges)
    rows = []
    for j in judges:
        if not isinstance(j, dict):
            continue
        reliable = j.get("reliable")
        health = (
            badge("reliable", "#1a7f37")
            if reliable
            else badge("advisory only", "#9a6700")
            if reliable is False
            else badge("not calibrated", "#6e7781")
        )
        rows.append(
            "<tr>"
            f"<td>{esc_label(j.get('name', DASH))}</td><td>{esc(j.get('provider', DASH))}</td>"
            f"<td>{esc(j.get('model', DASH))}</td>"
            f'<td>{esc(j.get("rubric", DASH))} <code title="{esc(j.get("rubric_hash") or "")}">{esc(short_hash(j.get("rubric_hash"), 8))}</code></td>'
            f'<td class="num">{num(j.get("kappa"))}</td><td>{health}</td>'
            f'<td class="num">{pct(j.get("position_consistency"))}</td>'
            f'<td class="num">{scalar(j.get("n_judgments"))}</td><td class="num">{scalar(j.get("n_failed"))}</td>'
            f'<td class="num">{scalar(j.get("cache_hits"))}</td>'
            "</tr>"
        )
    return (
        '<p class="lead">A judge whose agreement with gold labels (Cohen\'s kappa) is below 0.6 is '
        "reported as unreliable: its comparisons are advisory and cannot fail the gate alone. Position "
        "consistency is the share of pairwise judgments that agree when the two answers swap places.</p>"
        '<div class="table-wrap"><table class="data"><thead><tr><th>judge</th><th>provider</th><th>model</th>'
        '<th>rubric</th><th class="num">kappa</th><th>health</th><th class="num">position consistency</th>'
        '<th class="num">judgments</th><th class="num">failed</th><th class="num">cache hits</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _model_row(role: str, model: dict[str, Any]) -> str:
    spec = obj(model.get("spec"))
    fp = model.get("fingerprint")
    return (
        f"<tr><td>{esc(role)}</td><td>{esc_label(model.get('label', DASH))}</td>"
        f"<td>{esc(spec.get('base') or DASH)}</td><td>{esc(spec.get('adapter') or DASH)}</td>"
        f"<td>{esc(spec.get('backend') or DASH)}</td><td>{esc(spec.get('dtype') or DASH)}</td>"
        f'<td><code title="{esc(fp or "")}">{esc(short_hash(fp, 16))}</code></td></tr>'
    )


def provenance_section(results: dict[str, Any]) -> str:
    models = obj(results.get("models"))
    base = obj(models.get("base"))
    cands = [c for c in models.get("candidates") or [] if isinstance(c, dict)]
    rows = [_model_row("base", base)] if base else []
    rows += [_model_row("candidate", c) for c in cands]
    out = [
        "<h3>Models</h3>",
        '<div class="table-wrap"><table class="data"><thead><tr><th>role</th><th>label</th><th>base</th>'
        "<th>adapter</th><th>backend</th><th>dtype</th><th>fingerprint</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>",
    ]
    for c in cands:
        label = esc_label(c.get("label", "candidate"))
        manifest = c.get("provenance")
        body = (
            render_value(manifest)
            if manifest is not None
            else '<p class="muted">No training manifest (tunegate.json) next to this adapter.</p>'
        )
        out.append(
            f'<details class="block" open><summary>Training manifest: {label}</summary>{body}</details>'
        )
    described = [(base.get("label", "base"), base.get("describe"))] + [
        (c.get("label"), c.get("describe")) for c in cands
    ]
    for label, describe in described:
        if describe:
            out.append(
                f'<details class="block"><summary>Model details: {esc_label(label)}</summary>{render_value(describe)}</details>'
            )
    run = obj(results.get("run"))
    tool = obj(results.get("tool"))
    run_kv = {k: v for k, v in run.items() if k != "libraries"}
    run_kv["tool"] = f"{tool.get('name', 'tunegate')} {tool.get('version', '')}".strip()
    run_kv["schema_version"] = results.get("schema_version")
    cache = obj(results.get("cache"))
    cache_view = dict(cache)
    if "hit_rate" in cache_view:
        cache_view["hit_rate"] = pct(cache.get("hit_rate"))
    out.append(
        '<div class="grid">'
        f"<div><h3>Run</h3>{render_value(run_kv)}</div>"
        f"<div><h3>Response cache</h3>{render_value(cache_view) if cache else '<p class=muted>No cache figures.</p>'}</div>"
        f"<div><h3>Library versions</h3>{render_value(run.get('libraries') or {})}</div>"
        "</div>"
    )
    suites = [s for s in results.get("suites") or [] if isinstance(s, dict)]
    if suites:
        srows = "".join(
            f"<tr><td>{esc_label(s.get('name', DASH))}</td><td><code>{esc(s.get('path') or DASH)}</code></td>"
            f'<td class="num">{scalar(s.get("n_items"))}</td><td class="num">{scalar(s.get("sampled"))}</td>'
            f'<td><code title="{esc(s.get("version") or "")}">{esc(short_hash(s.get("version"), 16))}</code></td></tr>'
            for s in suites
        )
        out.append(
            '<h3>Suites</h3><div class="table-wrap"><table class="data"><thead><tr><th>suite</th><th>file</th>'
            '<th class="num">items</th><th class="num">sampled</th><th>version (sha256)</th></tr></thead>'
            f"<tbody>{srows}</tbody></table></div>"
        )
    return "".join(out)
