"""Calibration: how well does a judge agree with gold labels on a rubric's calibration set?

A calibration set is JSONL next to the rubric's name (``tunegate/judges/calibration/<rubric>.jsonl``), one
graded reply per line::

    {"id": "refund-1-s4", "group": "refund-1", "messages": [{"role": "user", "content": "..."}],
     "output": "Hi Jonas, ...", "gold": 4, "defects": ["exclaim"]}

The judge grades every output (single-answer mode); agreement is Cohen's kappa with quadratic
weights, plus the confusion matrix. Pairs of outputs for the same email with different gold
scores are then judged pairwise in both orders, which measures position consistency and how
often the judge prefers the better reply. The result is stored in the cache dir, keyed by the
provider settings, rubric hash and prompt version, where ``Judge.health`` finds it.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunegate.harness.data import EvalItem, Message, parse_jsonl
from tunegate.harness.errors import DataError, JudgeError
from tunegate.judges.agreement import cohen_kappa, confusion_matrix, to_label
from tunegate.judges.health import CalibrationRecord, save_record
from tunegate.judges.judge import Judge
from tunegate.judges.prompts import PROMPT_VERSION
from tunegate.judges.rubric import Rubric

CALIBRATION_DIR = Path(__file__).parent / "calibration"
KEYS = {"id", "group", "messages", "output", "gold", "defects", "tags"}
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class GoldItem:
    item: EvalItem
    output: str
    gold: int


def default_set(rubric: str) -> Path:
    return CALIBRATION_DIR / f"{rubric}.jsonl"


def load_set(path: str | Path, rubric: Rubric) -> list[GoldItem]:
    """Load and validate a calibration set; every problem is reported as ``path:line: message``."""
    p = Path(path)
    if p.is_dir():
        raise JudgeError(f"--set {p} is a directory; pass the calibration .jsonl file inside it")
    if not p.is_file():
        raise JudgeError(
            f"no calibration set for rubric {rubric.name!r} at {p}; write one (see docs/judges.md, Calibration) "
            "or pass --set PATH"
        )
    rows, problems = parse_jsonl(p.read_bytes(), str(p))
    out: list[GoldItem] = []
    seen: set[str] = set()
    lo, hi = rubric.scale.min, rubric.scale.max
    for line, obj in rows:
        where = f"{p}:{line}"
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected a JSON object")
            continue
        unknown = sorted(set(obj) - KEYS)
        if unknown:
            problems.append(f"{where}: unknown key(s) {unknown}; allowed: {sorted(KEYS)}")
        item_id, output, gold, msgs = obj.get("id"), obj.get("output"), obj.get("gold"), obj.get("messages")
        if not isinstance(item_id, str) or not item_id or item_id in seen:
            problems.append(f"{where}: 'id' must be a unique non-empty string, got {item_id!r}")
            continue
        seen.add(item_id)
        if not isinstance(output, str):
            problems.append(f"{where}: 'output' must be the graded reply as a string")
        if isinstance(gold, bool) or not isinstance(gold, int) or not lo <= gold <= hi:
            problems.append(f"{where}: 'gold' must be an integer score from {lo} to {hi}, got {gold!r}")
        if (
            not isinstance(msgs, list)
            or not msgs
            or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in msgs)
        ):
            problems.append(f"{where}: 'messages' must be a non-empty list of {{'role', 'content'}} objects")
            continue
        # a missing role was read as "user" and an unknown one passed on to the judge's prompt
        roles = [m.get("role") for m in msgs]
        if not all(r in ROLES for r in roles) or roles[-1] != "user":
            problems.append(
                f"{where}: every message needs a role ({'/'.join(ROLES)}) and the last one is the user turn "
                f"that 'output' answers, got roles {roles!r}"
            )
            continue
        if obj.get("group") is not None and not isinstance(obj.get("group"), str):
            problems.append(f"{where}: 'group' must be a string (the conversation's name), got {obj['group']!r}")
            continue
        if problems:
            continue
        group = obj.get("group")
        item = EvalItem(
            id=item_id,
            messages=tuple(Message(str(m["role"]), str(m["content"])) for m in msgs),
            group=None if group is None else str(group),
            line=line,
        )
        out.append(GoldItem(item, str(output), int(gold)))  # type: ignore[arg-type]  # validated above
    if problems:
        raise DataError(str(p), problems)
    return out


def pick_pairs(gold: list[GoldItem], n_pairs: int, seed: int = 0) -> list[tuple[GoldItem, GoldItem]]:
    """Up to ``n_pairs`` pairs of outputs for the same conversation with different gold scores."""
    groups: dict[str, list[GoldItem]] = {}
    for g in gold:
        groups.setdefault(g.item.group or g.item.id, []).append(g)
    pool = [
        (a, b)
        for members in groups.values()
        for a, b in itertools.combinations(members, 2)
        if a.gold != b.gold
    ]
    if n_pairs >= len(pool):
        return pool
    keep = sorted(random.Random(seed).sample(range(len(pool)), n_pairs))
    return [pool[i] for i in keep]


def calibrate(
    judge: Judge, rubric_name: str, *, path: str | Path | None = None, n_pairs: int = 40, seed: int = 0
) -> tuple[CalibrationRecord, Path]:
    """Grade the calibration set, compute agreement, store the record; returns (record, its path)."""
    rubric = judge.load(rubric_name)
    set_path = Path(path) if path is not None else default_set(rubric.name)
    gold = load_set(set_path, rubric)
    scores = judge.rubric(rubric_name).score([g.item for g in gold], [g.output for g in gold])
    labels = rubric.scale.scores
    ok = [i for i, v in enumerate(scores.values) if math.isfinite(v)]
    failure = next((f for f in scores.failures if f), "")
    if not ok:  # a record of nothing would replace this judge's earlier calibration
        raise JudgeError(
            f"calibration: all {len(gold)} judgments failed (the first: {failure or 'no score'}); nothing "
            "was saved and an earlier calibration of this judge stays: fix the cause and run again"
        )
    gold_labels = [gold[i].gold for i in ok]
    judge_labels = [to_label(float(scores.values[i]), labels) for i in ok]
    kappa = cohen_kappa(gold_labels, judge_labels, labels, weights="quadratic") if ok else float("nan")
    conf = confusion_matrix(gold_labels, judge_labels, labels)
    diffs = np.abs(np.array([float(scores.values[i]) - gold[i].gold for i in ok]))
    pairs = pick_pairs(gold, n_pairs, seed) if n_pairs > 0 else []
    consistency = accuracy = None
    pairs_failed = 0
    if pairs:
        base, cand = judge.pairwise(rubric_name).score_pair(
            [a.item for a, _ in pairs], [a.output for a, _ in pairs], [b.output for _, b in pairs]
        )
        consistency = base.extra.get("position_consistency")
        pairs_failed = int(base.extra.get("n_failed", 0))
        credit = []
        for (a, b), bv, cv in zip(pairs, base.values, cand.values, strict=True):
            if not (math.isfinite(bv) and math.isfinite(cv)):
                continue
            better_is_cand = b.gold > a.gold
            won = cv == 1.0 if better_is_cand else bv == 1.0
            tie = bv == 0.0 and cv == 0.0
            credit.append(1.0 if won else 0.5 if tie else 0.0)
        accuracy = float(np.mean(credit)) if credit else None
    record = CalibrationRecord(
        provider=judge.provider.name,
        model=judge.provider.model,
        settings=judge.provider.settings_key(),
        rubric=rubric.name,
        rubric_hash=rubric.hash,
        prompt_version=PROMPT_VERSION,
        n=len(gold),
        n_failed=len(gold) - len(ok),
        failure=failure,
        kappa=kappa if math.isfinite(kappa) else None,
        exact_agreement=float(np.mean([g == j for g, j in zip(gold_labels, judge_labels, strict=True)]))
        if ok
        else None,
        within_one=float(np.mean([abs(g - j) <= 1 for g, j in zip(gold_labels, judge_labels, strict=True)]))
        if ok
        else None,
        mean_abs_error=float(diffs.mean()) if ok else None,
        labels=list(labels),
        confusion=conf.tolist(),
        n_pairs=len(pairs),
        n_pairs_failed=pairs_failed,
        position_consistency=consistency,
        pair_accuracy=accuracy,
        calibration_set=str(set_path),
        calibration_set_hash=hashlib.sha256(set_path.read_bytes()).hexdigest(),
    )
    return record, save_record(judge.cache_dir, record)


def format_record(record: CalibrationRecord, min_kappa: float) -> str:
    """The human-readable report printed by ``tunegate judge calibrate``."""
    kappa = "n/a" if record.kappa is None else f"{record.kappa:.3f}"
    reliable = record.kappa is not None and record.kappa >= min_kappa
    verdict = (
        "reliable"
        if reliable
        else "UNRELIABLE: comparisons by this judge are advisory (cannot fail a gate alone)"
    )
    lines = [
        f"judge calibration: {record.provider} {record.model}, rubric {record.rubric} "
        f"(hash {record.rubric_hash[:12]}), {record.n} items, {record.n_failed} failed"
        + (f" (the first: {record.failure})" if record.n_failed and record.failure else ""),
        f"  Cohen's kappa (quadratic weights): {kappa}   [needs >= {min_kappa:.2f}: {verdict}]",
    ]
    if record.exact_agreement is not None:
        lines.append(
            f"  exact agreement {record.exact_agreement:.3f}   within one point {record.within_one:.3f}   "
            f"mean absolute error {record.mean_abs_error:.3f}"
        )
    width = max(5, *(len(str(v)) + 1 for row in record.confusion for v in row))
    lines.append("  confusion matrix (rows: gold score, columns: judge score, rounded):")
    lines.append("    gold\\judge" + "".join(f"{label:>{width}}" for label in record.labels))
    for label, row in zip(record.labels, record.confusion, strict=True):
        lines.append(f"    {label:>10}" + "".join(f"{v:>{width}}" for v in row))
    if record.n_pairs:
        pc = "n/a" if record.position_consistency is None else f"{record.position_consistency:.3f}"
        acc = "n/a" if record.pair_accuracy is None else f"{record.pair_accuracy:.3f}"
        lines.append(
            f"  pairwise, both orders, {record.n_pairs} pairs with different gold scores "
            f"({record.n_pairs_failed} failed): position consistency {pc}, "
            f"prefers the better reply {acc} (ties count half)"
        )
    return "\n".join(lines)
