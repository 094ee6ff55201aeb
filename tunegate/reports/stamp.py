"""Write a gate result into an adapter's model card (``README.md``).

The card gets Hugging Face ``model-index`` metadata (one result per suite, one metric per
comparison: the candidate's value, with the base value, delta, CI and verdict as ``args``), a
``tunegate`` block with the verdict and the sha256 of results.json, and a short Markdown section
between ``<!-- tunegate:begin -->`` / ``<!-- tunegate:end -->`` markers. The adapter is matched
to results.json by content (``models.candidates[].content_fingerprint``), never by path text: a
byte-identical copy anywhere is accepted, another adapter at the gated path is refused, and the
refusal comes before anything is written. When the adapter is the project's production model
(``tunegate promote``; its record's fingerprint is this adapter's), the card also records the
promotion: when, the fingerprint, and the digest of the results.json that justified it. Everything else in the
card (peft's front matter keys, the body text, other evaluations) is kept; stamping twice
replaces the previous stamp. The file is replaced atomically.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tunegate.harness.errors import ConfigError, DataError
from tunegate.harness.fingerprint import content_fingerprint
from tunegate.harness.production import ProductionRecord
from tunegate.harness.record import ModelRecord, RunRecord
from tunegate.reports.files import write_atomic
from tunegate.reports.format import as_float, clean, clean_label, delta_ci, num, obj, sanitize
from tunegate.reports.markdown import headline, md_name

CONTENT_KEY = "content_fingerprint"
"""The candidate's key in results.json ``models.candidates[]``: ``content_fingerprint(adapter dir)``."""
BEGIN = "<!-- tunegate:begin -->"
END = "<!-- tunegate:end -->"
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
_SECTION = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.DOTALL)


def split_front_matter(text: str, path: str = "README.md") -> tuple[dict[str, Any], str]:
    """(metadata, body) of a model card; a card without front matter has empty metadata."""
    if not re.match(r"\A---[ \t]*\r?\n", text):
        return {}, text
    match = _FRONT.match(text)
    if match is None:
        raise DataError(
            path, ["line 1: front matter opens with '---' but no closing '---' line follows; close it"]
        )
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 2}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(
            path, [f"{where}front matter is not valid YAML ({problem}); fix it before stamping"]
        ) from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DataError(path, [f"front matter must be a YAML mapping, got {type(meta).__name__}"])
    return meta, text[match.end() :]


def _round(value: object) -> float | None:
    x = as_float(value)
    return None if x is None else float(f"{x:.6g}")


def _pick_candidate(record: RunRecord, adapter_dir: Path) -> ModelRecord:
    """The candidate record whose content fingerprint is ``adapter_dir``'s (path text is ignored)."""
    cands = record.models.candidates
    if not cands:
        raise ConfigError("results.json has no candidate model; nothing to stamp")
    recorded = [c for c in cands if c.content_fingerprint]
    if not recorded:
        raise ConfigError(
            f"--stamp {adapter_dir}: results.json records no content fingerprint for its candidates "
            f"(models.candidates[].{CONTENT_KEY}), so it cannot prove which adapter it gated; "
            "re-run the gate with this tunegate version and stamp that results.json"
        )
    actual = content_fingerprint(adapter_dir)
    hits = [c for c in recorded if c.content_fingerprint == actual]
    if hits:
        return hits[0]
    evaluated = ", ".join(
        f"{clean_label(c.label)}={c.spec.adapter} ({str(c.content_fingerprint)[:12]})" for c in recorded
    )
    raise ConfigError(
        f"--stamp {adapter_dir}: results.json did not evaluate this adapter: its content fingerprint is "
        f"{actual[:12]}, the gated candidates are {evaluated}; pass the adapter directory that was gated "
        "(a byte-identical copy anywhere is fine)"
    )


def _model_index_results(record: RunRecord, label: str) -> list[dict[str, Any]]:
    versions = {s.name: s.version for s in record.suites}
    by_suite: dict[str, list[dict[str, Any]]] = {}
    for c in record.comparisons:
        if c.candidate != label or as_float(c.candidate_mean) is None:
            continue
        args = {
            "against": c.against if c.against == "reference" else None,
            "base": _round(c.base_mean),
            "reference": _round(c.reference_mean),
            "delta": _round(c.delta),
            "ci_low": _round(c.ci_low),
            "ci_high": _round(c.ci_high),
            "p_adjusted": _round(c.p_adjusted),
            "n": c.n,
            "test": c.test,
            "gate": c.gate.type,
            "verdict": c.verdict,
        }
        by_suite.setdefault(c.suite, []).append(
            {
                "type": clean(c.metric),
                "name": f"{clean(c.metric)} ({clean(c.pair)} {num(c.against_mean)}, {c.verdict})",
                "value": _round(c.candidate_mean),
                "args": {k: v for k, v in args.items() if v is not None},
                "verified": False,
            }
        )
    out = []
    for suite, metrics in by_suite.items():
        dataset: dict[str, Any] = {"name": clean(suite), "type": clean(suite)}
        version = versions.get(suite)
        if version:
            dataset["revision"] = clean(version)
        out.append({"task": {"type": "text-generation"}, "dataset": dataset, "metrics": metrics})
    return out


def _merge_model_index(existing: object, name: str, new_results: list[dict[str, Any]]) -> list[Any]:
    """Replace this model's results for the suites just evaluated; keep every other entry."""
    entries = list(existing) if isinstance(existing, list) else []
    ours = {(r["dataset"]["type"], r["task"]["type"]) for r in new_results}
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            kept = [
                r
                for r in entry.get("results") or []
                if not (
                    isinstance(r, dict)
                    and (obj(r.get("dataset")).get("type"), obj(r.get("task")).get("type")) in ours
                )
            ]
            entry["results"] = kept + new_results
            return entries
    return [*entries, {"name": name, "results": new_results}]


def _promotion_line(promotion: ProductionRecord | None) -> list[str]:
    if promotion is None:
        return []
    return [
        "",
        f"In production since {md_name(promotion.promoted_at)} (`tunegate promote`): fingerprint "
        f"`{promotion.fingerprint}`, promoted on the results.json with sha256 `{promotion.results.sha256}`.",
    ]


def _promotion_meta(promotion: ProductionRecord) -> dict[str, Any]:
    return {
        "promoted_at": promotion.promoted_at,
        "label": promotion.label,
        "fingerprint": promotion.fingerprint,
        "results_sha256": promotion.results.sha256,
        "results_path": promotion.results.path,
        "base": promotion.base,
    }


def _section(record: RunRecord, label: str, sha256: str, promotion: ProductionRecord | None = None) -> str:
    rows = [
        f"| {md_name(c.suite, in_table=True)} | {md_name(c.metric if c.against == 'base' else f'{c.metric} vs {c.pair}', in_table=True)} | "
        f"{num(c.against_mean)} | {num(c.candidate_mean)} | {delta_ci(c)} | {md_name(c.verdict, in_table=True)} |"
        for c in record.comparisons
        if c.candidate == label
    ]
    return "\n".join(
        [
            BEGIN,
            "## Evaluation gate (tunegate)",
            "",
            headline(record),
            "",
            f"| suite | metric | {'paired with' if record.reference_label else 'base'} | adapter | delta [CI] | verdict |",
            "|---|---|---:|---:|---:|---|",
            *rows,
            "",
            f"Evaluated {md_name(record.run.started_at or 'at an unknown time')}; results.json sha256 `{sha256}`.",
            *_promotion_line(promotion),
            END,
            "",
        ]
    )


@dataclass(frozen=True)
class StampPlan:
    """A checked, rendered stamp: ``write`` only replaces the card."""

    card: Path
    text: str
    mode: int | None

    def write(self) -> Path:
        return write_atomic(self.card, self.text, mode=self.mode)


def plan_stamp(
    record: RunRecord, adapter_dir: Path, *, results_sha256: str, promotion: ProductionRecord | None = None
) -> StampPlan:
    """Check everything a stamp needs and render the card, writing nothing.

    ``promotion``: the project's production record; recorded on the card (``tunegate.promotion``
    and a line of the section) when its fingerprint is this adapter's, ignored otherwise.

    Raises ``ConfigError`` when ``adapter_dir`` is not a directory or is not, by content, a
    candidate results.json gated; ``DataError`` when its README.md front matter is invalid.
    """
    adapter_dir = Path(adapter_dir)
    if not adapter_dir.is_dir():
        raise ConfigError(
            f"--stamp {adapter_dir}: not a directory; pass the adapter folder (it holds adapter_config.json)"
        )
    card = adapter_dir / "README.md"
    if card.exists() and not os.stat(card).st_mode & 0o222:
        # The atomic rename would replace it although nobody may write it: respect the mode.
        raise ConfigError(
            f"--stamp: {card} is read-only (mode {os.stat(card).st_mode & 0o777:04o}); make it writable "
            f"(chmod u+w {card}) to stamp it, or leave it as it is"
        )
    candidate = _pick_candidate(record, adapter_dir)
    label = candidate.label
    if promotion is not None and promotion.fingerprint != candidate.content_fingerprint:
        promotion = None  # another adapter is in production: nothing to record on this card
    card = adapter_dir / "README.md"
    try:
        text = card.read_text(encoding="utf-8") if card.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(str(card), [f"cannot read the model card ({exc}); fix or remove it before stamping"]) from None
    meta, body = split_front_matter(text, str(card))

    name = clean_label(adapter_dir.resolve().name)
    meta["model-index"] = _merge_model_index(
        meta.get("model-index"), name, _model_index_results(record, label)
    )
    verdict, base = record.verdict, record.models.base
    block: dict[str, Any] = {
        "verdict": verdict.status,
        "reason": verdict.reason,
        "failed": verdict.failed,
        "results_sha256": results_sha256,
        "schema_version": record.schema_version,
        "tool_version": record.tool.version,
        "evaluated_at": record.run.started_at,
        "base": {"name": base.spec.base, "fingerprint": base.fingerprint},
        "candidate": {
            "label": label,
            "fingerprint": candidate.fingerprint,
            "content_fingerprint": candidate.content_fingerprint,
        },
    }
    if promotion is not None:
        block["promotion"] = _promotion_meta(promotion)
    meta["tunegate"] = sanitize(block)
    front = yaml.safe_dump(
        sanitize(meta), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    section = _section(record, label, results_sha256, promotion)
    if _SECTION.search(body):
        body = _SECTION.sub(lambda _: section, body, count=1)
    else:
        body = body.rstrip("\n") + ("\n\n" if body.strip() else "\n") + section
    mode = os.stat(card).st_mode & 0o777 if card.exists() else None
    return StampPlan(card, f"---\n{front}---\n{body}", mode)


def stamp_adapter(
    record: RunRecord, adapter_dir: Path, *, results_sha256: str, promotion: ProductionRecord | None = None
) -> Path:
    """Write the gate result into ``adapter_dir/README.md``; returns the card's path."""
    return plan_stamp(record, adapter_dir, results_sha256=results_sha256, promotion=promotion).write()
