"""The result of a leakage check: one flag per eval item, counts, the gate, results.json's section."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunegate.harness.data import Suite
from tunegate.harness.errors import ConfigError, GateFailure
from tunegate.harness.leakage.config import LeakageConfig

SCHEMA_VERSION = 1
FLAGS = ("exact", "near_duplicate", "ngram", "paraphrase", "clean")
"""Flags from the strongest evidence of leakage to none; an item carries its strongest. A near
duplicate (most of the item is in one training example) outranks a shared n-gram (part of it is)."""


@dataclass(frozen=True)
class ItemFlag:
    """The leakage verdict for one eval item, with the evidence behind it."""

    suite: str
    id: str
    flag: str
    reason: str = ""
    source: str | None = None
    """The matching training example as ``path:line``."""
    excerpt: str = ""
    score: float | None = None
    """Jaccard, containment, n-gram fraction or cosine, depending on the check."""
    checks: tuple[str, ...] = ()
    """Every check that fired for this item, strongest first (the flag is the first)."""
    matched: tuple[str, ...] = ()
    """Which parts of the item were found in training: ``prompt``, ``reference`` or both."""

    @property
    def leaked(self) -> bool:
        return self.flag != "clean"

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "id": self.id,
            "flag": self.flag,
            "reason": self.reason,
            "source": self.source,
            "excerpt": self.excerpt,
            "score": None if self.score is None else round(float(self.score), 6),
            "checks": list(self.checks),
            "matched": list(self.matched),
        }


@dataclass(frozen=True)
class TrainingFile:
    path: str
    lines: int
    docs: int
    sha256: str
    bad_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "lines": self.lines,
            "docs": self.docs,
            "bad_lines": self.bad_lines,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class LeakageReport:
    """Per-item flags for every eval item of the checked suites, and the gate verdict."""

    config: LeakageConfig
    items: tuple[ItemFlag, ...]
    training_files: tuple[TrainingFile, ...] = ()
    problems: tuple[str, ...] = ()
    """Unreadable training lines that were skipped (only with ``skip_bad_lines``)."""
    elapsed_s: float = 0.0

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_training_docs(self) -> int:
        return sum(f.docs for f in self.training_files)

    @property
    def suites(self) -> list[str]:
        return list(dict.fromkeys(it.suite for it in self.items))

    def counts(self, suite: str | None = None) -> dict[str, int]:
        out = dict.fromkeys(FLAGS, 0)
        for it in self.items:
            if suite is None or it.suite == suite:
                out[it.flag] += 1
        return out

    def flagged(self) -> list[ItemFlag]:
        return [it for it in self.items if it.leaked]

    def training_locations(self) -> list[str]:
        """The ``path:line`` of the training example behind each flagged item (for the probe)."""
        return list(dict.fromkeys(it.source for it in self.flagged() if it.source))

    @property
    def rate(self) -> float:
        """Share of eval items flagged for any reason."""
        return len(self.flagged()) / self.n_items if self.items else 0.0

    @property
    def near_duplicate_rate(self) -> float:
        """Share of eval items flagged by n-gram overlap or near duplication (the gated rate)."""
        c = self.counts()
        return (c["ngram"] + c["near_duplicate"]) / self.n_items if self.items else 0.0

    @property
    def paraphrase_rate(self) -> float:
        return self.counts()["paraphrase"] / self.n_items if self.items else 0.0

    def _suite_name(self, suite: Suite | str) -> str:
        name = suite.name if isinstance(suite, Suite) else suite
        if name not in self.suites:
            raise ConfigError(f"suite {name!r} was not part of this leakage check; checked: {self.suites}")
        return name

    def clean_ids(self, suite: Suite | str) -> list[str]:
        """Ids of the items of ``suite`` with no sign of leakage, in suite order."""
        name = self._suite_name(suite)
        return [it.id for it in self.items if it.suite == name and not it.leaked]

    def flags(self, suite: Suite | str) -> dict[str, ItemFlag]:
        name = self._suite_name(suite)
        return {it.id: it for it in self.items if it.suite == name}

    def verdict(self) -> tuple[bool, str]:
        """(passed, one-sentence reason): fail on any exact duplicate or a rate above its limit."""
        cfg = self.config
        c = self.counts()
        n = self.n_items
        exact = [it for it in self.items if it.flag == "exact"]
        if exact:
            shown = ", ".join(f"{it.suite}:{it.id}" for it in exact[:5])
            more = f" and {len(exact) - 5} more" if len(exact) > 5 else ""
            return False, (
                f"{len(exact)} eval item(s) appear verbatim in the training data ({shown}{more}); "
                "remove them from training or from the eval set"
            )
        if self.near_duplicate_rate > cfg.max_near_duplicate_rate:
            return False, (
                f"{c['ngram'] + c['near_duplicate']} of {n} eval items ({self.near_duplicate_rate:.1%}) overlap "
                f"training data (n-gram or near duplicate), above the {cfg.max_near_duplicate_rate:.1%} limit; "
                "deduplicate the training data against the eval set or raise max_near_duplicate_rate"
            )
        if cfg.max_paraphrase_rate is not None and self.paraphrase_rate > cfg.max_paraphrase_rate:
            return False, (
                f"{c['paraphrase']} of {n} eval items ({self.paraphrase_rate:.1%}) paraphrase training "
                f"examples, above the {cfg.max_paraphrase_rate:.1%} limit"
            )
        if self.flagged():
            return True, (
                f"no exact duplicates; {len(self.flagged())} of {n} eval items flagged "
                f"({self.near_duplicate_rate:.1%} n-gram/near-duplicate, within the "
                f"{cfg.max_near_duplicate_rate:.1%} limit): compare scores on the clean subset too"
            )
        return True, f"no overlap found between {self.n_training_docs} training examples and {n} eval items"

    @property
    def passed(self) -> bool:
        return self.verdict()[0]

    def assert_passed(self) -> None:
        """Raise GateFailure (a test failure under pytest) when the leakage gate fails."""
        ok, reason = self.verdict()
        if not ok:
            raise GateFailure(f"leakage check failed: {reason}")

    def to_dict(self) -> dict[str, Any]:
        """The ``leakage`` section of results.json (flagged items only; clean ones are implied)."""
        passed, reason = self.verdict()
        return {
            "version": SCHEMA_VERSION,
            "config": self.config.to_dict(),
            "training_files": [f.to_dict() for f in self.training_files],
            "n_training_docs": self.n_training_docs,
            "n_items": self.n_items,
            "counts": self.counts(),
            "rate": round(self.rate, 6),
            "near_duplicate_rate": round(self.near_duplicate_rate, 6),
            "suites": {
                name: {
                    "n_items": sum(1 for it in self.items if it.suite == name),
                    "counts": self.counts(name),
                    "n_clean": len(self.clean_ids(name)),
                }
                for name in self.suites
            },
            "items": [it.to_dict() for it in self.flagged()],
            "problems": list(self.problems),
            "passed": passed,
            "reason": reason,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def strongest(checks: Sequence[str]) -> str:
    present = [f for f in FLAGS if f in checks]
    return present[0] if present else "clean"
