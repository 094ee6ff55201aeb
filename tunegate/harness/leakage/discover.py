"""Find the eval suites a leakage check covers: every suite file under a folder, none skipped.

Rule (documented in docs/gates.md): every ``*.jsonl`` file under the folder is an eval suite,
except training-side files, which are not suites:

- files named ``train.jsonl`` or ``dev.jsonl``, or whose name starts with ``train_``, ``train-``,
  ``dev_`` or ``dev-`` (``train_extra.jsonl``, ``dev-2025.jsonl``);
- any file inside a folder named ``calibration`` (judge calibration sets).

A suite file that fails to load is an error (``DataError`` naming the file and line), never a
silent skip: a broken suite would otherwise drop out of the check and the run would claim that
data it never read is clean. Names are the file's folder path under the root and its stem
(``support/eval``), as ``load_suite`` names a file in a folder.
"""

from __future__ import annotations

from pathlib import Path

from tunegate.harness.data import Suite, load_suite
from tunegate.harness.errors import DataError

TRAINING_STEMS = ("train", "dev")
TRAINING_PREFIXES = ("train_", "train-", "dev_", "dev-")
EXCLUDED_DIRS = ("calibration",)


def is_training_file(path: Path, root: Path | None = None) -> bool:
    """True for a training, dev or calibration file (not an eval suite) by the rule above."""
    p = Path(path)
    parts = p.relative_to(root).parts[:-1] if root is not None else p.parts[:-1]
    if any(part in EXCLUDED_DIRS for part in parts):
        return True
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.stem
    return stem in TRAINING_STEMS or stem.startswith(TRAINING_PREFIXES)


def suite_name(path: Path, root: Path) -> str:
    rel = Path(path).relative_to(root)
    return "/".join((*rel.parts[:-1], rel.name[: -len(".jsonl")]))


def discover_suites(root: str | Path, *, max_new_tokens: int = 256) -> list[Suite]:
    """Every eval suite under ``root`` (sorted by path); raises DataError for one that fails to load."""
    base = Path(root)
    if not base.is_dir():
        raise DataError(str(base), [f"{base}:0: not a folder of eval suites"])
    suites: list[Suite] = []
    for path in sorted(base.rglob("*.jsonl")):
        if is_training_file(path, base):
            continue
        try:
            suites.append(load_suite(path, name=suite_name(path, base), max_new_tokens=max_new_tokens))
        except OSError as exc:
            raise DataError(str(path), [f"{path}:0: cannot read this suite file: {exc}"]) from None
    return suites
