"""The selection ledger (tunegate/harness/ledger.py) on a real SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tunegate.harness.ledger import (
    DEFAULT_MAX_ADAPTERS,
    SelectionLedger,
    lineage,
    lineage_from_manifest,
    record_gating,
    selection_warning,
)

SUITE = "support/eval"


def _gate(cache: Path, fp: str, *, version: str = "v1", line: str = "L1", suite: str = SUITE) -> int:
    return record_gating(cache, suite_name=suite, suite_version=version, adapter_fingerprint=fp, lineage=line)


def test_counts_distinct_adapters_of_one_lineage_on_one_suite_version(tmp_path: Path) -> None:
    assert [_gate(tmp_path, f"fp{i}") for i in range(5)] == [1, 2, 3, 4, 5]
    assert _gate(tmp_path, "fp2") == 5  # the same adapter gated again: no new choice
    assert _gate(tmp_path, "fp9", version="v2") == 1  # an edited suite / fresh holdout starts over
    assert _gate(tmp_path, "fp9", line="L2") == 1  # another lineage (other base or data)
    assert _gate(tmp_path, "fp0", suite="general/all") == 1
    ledger = SelectionLedger(tmp_path)
    assert ledger.adapters(suite_name=SUITE, suite_version="v1", lineage="L1") == [f"fp{i}" for i in range(5)]
    assert ledger.path == tmp_path / "selection-ledger.sqlite"
    ledger.close()


def test_the_ledger_is_shared_across_processes(tmp_path: Path) -> None:
    code = (
        "import sys; from tunegate.harness.ledger import record_gating as r; "
        "print(r(sys.argv[1], suite_name='s', suite_version='v', adapter_fingerprint=sys.argv[2], lineage='L'))"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path), fp], capture_output=True, text=True, check=True
        )
        for fp in ("a", "b", "a")
    ]
    assert [o.stdout.strip() for o in outs] == ["1", "2", "2"]
    with sqlite3.connect(tmp_path / "selection-ledger.sqlite") as db:
        assert db.execute("SELECT adapter_fingerprint, times FROM gatings ORDER BY 1").fetchall() == [
            ("a", 2),
            ("b", 1),
        ]


def test_warning_only_above_the_threshold() -> None:
    assert DEFAULT_MAX_ADAPTERS == 3
    assert selection_warning(3, SUITE) is None
    text = selection_warning(4, SUITE)
    assert text is not None
    assert "support/eval" in text and "4 adapters" in text and "fresh holdout" in text
    assert selection_warning(2, SUITE, max_adapters=1) is not None


def test_lineage_is_base_plus_training_data() -> None:
    manifest = {
        "base": {"fingerprint": "b" * 64},
        "data": {"train": {"sha256": "t" * 64}, "dev": {"sha256": "d"}},
    }
    assert lineage_from_manifest(manifest) == lineage("b" * 64, "t" * 64)
    other_dev = {**manifest, "data": {"train": {"sha256": "t" * 64}, "dev": {"sha256": "other"}}}
    assert lineage_from_manifest(other_dev) == lineage_from_manifest(manifest)
    assert lineage("b" * 64, "u" * 64) != lineage("b" * 64, "t" * 64)
    assert lineage_from_manifest({"base": {}}) is None and lineage_from_manifest(None) is None
