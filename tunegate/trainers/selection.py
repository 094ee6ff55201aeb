"""Selection discipline: the dev set that steers training must not be an eval suite.

A dev set is what you look at while choosing (checkpoints, learning rates, which run to keep).
When it is an eval suite, or shares items with one, the eval score stops being an unbiased
estimate of the winner: it was used to pick it. ``refuse_eval_as_dev`` enforces two rules
before a model is loaded (docs/training.md, "Selection discipline"):

1. **By name.** A dev file named like an eval suite is refused: a word ``eval``/``evals``/
   ``evaluation``/``test`` in its file name (split at ``-``, ``_``, ``.``, e.g. ``eval.jsonl``,
   ``support-eval.jsonl``, ``test_set.jsonl``), or a folder of its path named ``eval``, ``evals``
   or ``evaluation`` (``data/eval/x.jsonl``).
2. **By content.** A dev item whose prompt (its user turns, normalised as the leakage check
   normalises: NFKC, lower case, punctuation to spaces) equals the prompt of an item of a known
   eval suite is refused, with the dev ``path:line`` and the eval item's id. Known eval suites:
   tunegate's packaged general suites, and every eval suite file under the config's
   ``eval_suites`` entries (folders follow the leakage check's discovery rule: every ``*.jsonl``
   except ``train``/``dev`` files and ``calibration`` folders).

A second rule needs no help from the trainer: the ledger (``tunegate.harness.ledger``) counts how many
adapters of one lineage were gated on one eval-suite version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from tunegate.harness.errors import ConfigError
from tunegate.harness.leakage.discover import is_training_file
from tunegate.harness.leakage.hashing import normalize

EVAL_WORDS = frozenset({"eval", "evals", "evaluation", "test"})
EVAL_DIRS = frozenset({"eval", "evals", "evaluation"})
MAX_SHOWN = 5


def _words(name: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", name.lower()) if w}


def eval_named(path: str | Path) -> str | None:
    """The eval-like word in ``path``'s file name or folders (rule 1), else None."""
    p = Path(path)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.stem
    hit = _words(stem) & EVAL_WORDS
    if hit:
        return sorted(hit)[0]
    return next((part for part in p.parent.parts if part.lower() in EVAL_DIRS), None)


def prompt_key(messages: object) -> str | None:
    """Normalised user turns of a chat (the leakage check's form), None when there are none."""
    if not isinstance(messages, list):
        return None
    users = [m["content"] for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    users = [u for u in users if isinstance(u, str)]
    return normalize("\n".join(users)) if users else None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue  # the dev set's own reader reports bad lines; this guard only compares
            if isinstance(obj, dict):
                yield lineno, obj


def eval_suite_files(entries: Iterable[str | Path]) -> list[Path]:
    """Eval suite files named by ``entries`` (files, or folders under the discovery rule)."""
    out: list[Path] = []
    for entry in entries:
        p = Path(entry)
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += [f for f in sorted(p.rglob("*.jsonl")) if not is_training_file(f, p)]
    from tunegate.harness import general

    out += [general.DATA / f"{t}.jsonl" for t in general.TASKS]
    return out


def eval_prompts(files: Sequence[Path]) -> dict[str, str]:
    """Normalised prompt -> ``suite-file:item id`` of the first eval item with that prompt."""
    known: dict[str, str] = {}
    for f in files:
        for lineno, obj in _rows(f):
            key = prompt_key(obj.get("messages"))
            if key:
                known.setdefault(key, f"{f}:{obj.get('id', lineno)}")
    return known


def refuse_eval_as_dev(dev: str | Path, eval_suites: Sequence[str | Path], *, config: str = "") -> None:
    """Raise ConfigError when ``dev`` is an eval suite by name or shares a prompt with one."""
    where = f"{config}: " if config else ""
    word = eval_named(dev)
    if word is not None:
        raise ConfigError(
            f"{where}dev file {dev} is named like an eval suite ({word!r}); the dev set steers training and "
            "checkpoint choice, so an eval suite used as dev no longer measures the adapter fairly. Point "
            "dev at a held-out split of the training data (e.g. dev.jsonl) and keep the eval suite for gating"
        )
    known = eval_prompts(eval_suite_files(eval_suites))
    hits = []
    for lineno, obj in _rows(Path(dev)):
        key = prompt_key(obj.get("messages"))
        if key and key in known:
            hits.append(f"{dev}:{lineno} = {known[key]}")
    if hits:
        shown = "; ".join(hits[:MAX_SHOWN]) + (
            f"; and {len(hits) - MAX_SHOWN} more" if len(hits) > MAX_SHOWN else ""
        )
        raise ConfigError(
            f"{where}dev file {dev} shares {len(hits)} prompt(s) with eval suites ({shown}); the dev set must be "
            "disjoint from every eval suite, or choosing by dev loss tunes the adapter on the eval items. "
            "Remove those items from the dev set"
        )


__all__ = [
    "EVAL_DIRS",
    "EVAL_WORDS",
    "eval_named",
    "eval_prompts",
    "eval_suite_files",
    "prompt_key",
    "refuse_eval_as_dev",
]
