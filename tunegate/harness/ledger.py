"""The selection ledger: which adapters were gated on which eval-suite version.

An eval suite gives an unbiased score for one adapter. Gate ten variants of one fine-tune on it
and keep the best, and the winner's score is biased upward: the suite chose it (the "garden of
forking paths"; the same reason a dev set exists). The ledger makes that visible. Every gating
of a candidate on a suite adds one row per (suite name, suite version, lineage, adapter
fingerprint); ``record_gating`` returns how many *distinct* adapters of that lineage this exact
suite version has now judged, and ``selection_warning`` turns a count above a few into one
sentence for the run summary.

- **Lineage** = the base's content fingerprint + the sha256 of the training data (``lineage``,
  ``lineage_from_manifest``): adapters of one lineage are variants of one fine-tune
  (hyperparameters, seeds, replay ratios); the eval suite is being used to choose among them.
- **Suite version**: the suite's content hash (``Suite.version``); an edited or fresh holdout
  suite starts a new count.
- Re-gating the same adapter (same fingerprint) does not add to the count.

The ledger is ``selection-ledger.sqlite`` in the tunegate cache directory, beside the response
cache. ``tunegate cache clear`` leaves it alone: clearing caches does not undo the choices made.

>>> n = record_gating(cache_dir, suite_name="support/eval", suite_version=v,
...                   adapter_fingerprint=fp, lineage=lineage(base_fp, train_sha))  # doctest: +SKIP
>>> selection_warning(n, "support/eval")  # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from tunegate.harness.fingerprint import digest
from tunegate.harness.store import SQLiteStore

DEFAULT_MAX_ADAPTERS = 3
"""More distinct adapters of one lineage than this on one suite version draws the warning."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS gatings (
    key TEXT PRIMARY KEY,
    suite_name TEXT NOT NULL,
    suite_version TEXT NOT NULL,
    lineage TEXT NOT NULL,
    adapter_fingerprint TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    times INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS gatings_suite ON gatings(suite_name, suite_version, lineage);
"""


class SelectionLedger(SQLiteStore):
    """The ledger table (one row per suite version x lineage x adapter)."""

    RELPATH = "selection-ledger.sqlite"
    TABLE = "gatings"
    SCHEMA = SCHEMA
    LABEL = "selection ledger"

    def record(self, *, suite_name: str, suite_version: str, adapter_fingerprint: str, lineage: str) -> int:
        """Add (or touch) one gating; the number of distinct adapters of ``lineage`` on this suite version."""
        key = digest([suite_name, suite_version, lineage, adapter_fingerprint])
        now = time.time()
        with self._lock:
            db = self._db()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO gatings VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT(key) DO UPDATE SET "
                    "last_seen = excluded.last_seen, times = times + 1",
                    (key, suite_name, suite_version, lineage, adapter_fingerprint, now, now),
                )
                (count,) = db.execute(
                    "SELECT count(*) FROM gatings WHERE suite_name = ? AND suite_version = ? AND lineage = ?",
                    (suite_name, suite_version, lineage),
                ).fetchone()
                db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise self._fail("writing", exc) from None
        return int(count)

    def adapters(self, *, suite_name: str, suite_version: str, lineage: str) -> list[str]:
        """Fingerprints of the adapters of ``lineage`` gated on this suite version, oldest first."""
        if self.path is None or not self.path.exists():
            return []
        with self._lock:
            try:
                rows = (
                    self._db()
                    .execute(
                        "SELECT adapter_fingerprint FROM gatings WHERE suite_name = ? AND suite_version = ? "
                        "AND lineage = ? ORDER BY first_seen, adapter_fingerprint",
                        (suite_name, suite_version, lineage),
                    )
                    .fetchall()
                )
            except sqlite3.DatabaseError as exc:
                raise self._fail("reading", exc) from None
        return [str(r[0]) for r in rows]


def record_gating(
    cache_dir: str | Path, *, suite_name: str, suite_version: str, adapter_fingerprint: str, lineage: str
) -> int:
    """Record that ``adapter_fingerprint`` was gated on ``suite_name`` at ``suite_version``.

    Returns how many distinct adapters of ``lineage`` have been gated on that suite version
    (this one included). Recording the same adapter again does not raise the count.
    """
    ledger = SelectionLedger(cache_dir)
    try:
        return ledger.record(
            suite_name=suite_name,
            suite_version=suite_version,
            adapter_fingerprint=adapter_fingerprint,
            lineage=lineage,
        )
    finally:
        ledger.close()


def selection_warning(count: int, suite_name: str, *, max_adapters: int = DEFAULT_MAX_ADAPTERS) -> str | None:
    """One sentence for the summary when ``count`` adapters exceed ``max_adapters``, else None."""
    if count <= max_adapters:
        return None
    return (
        f"{suite_name} (this version) has now been used to choose among {count} adapters of one lineage "
        f"(same base and training data); its scores of the chosen one are optimistic. Confirm the winner "
        f"on a fresh holdout suite that took no part in the choice before you ship it."
    )


def lineage(base_fingerprint: str, train_sha256: str) -> str:
    """The lineage id of adapters trained from one base on one training file."""
    return digest({"base": base_fingerprint, "train": train_sha256})


def lineage_from_manifest(manifest: dict[str, Any] | None) -> str | None:
    """Lineage from an adapter's ``tunegate.json`` (base fingerprint + train sha256), None if absent."""
    if not isinstance(manifest, dict):
        return None
    base = manifest.get("base")
    data = manifest.get("data")
    base_fp = base.get("fingerprint") if isinstance(base, dict) else None
    train = data.get("train") if isinstance(data, dict) else None
    train_sha = train.get("sha256") if isinstance(train, dict) else None
    if not isinstance(base_fp, str) or not isinstance(train_sha, str):
        return None
    return lineage(base_fp, train_sha)


__all__ = [
    "DEFAULT_MAX_ADAPTERS",
    "SelectionLedger",
    "lineage",
    "lineage_from_manifest",
    "record_gating",
    "selection_warning",
]
