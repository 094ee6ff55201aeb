from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.reports.fixtures import as_record
from tunegate.harness.errors import DataError
from tunegate.reports import HTML_NAME, MARKDOWN_NAME, write_atomic, write_reports
from tunegate.reports.files import parse_results


def test_write_reports_returns_both_paths(tmp_path: Path, results: dict[str, Any]) -> None:
    paths = write_reports(as_record(results), tmp_path / "out")
    assert paths == {"html": tmp_path / "out" / HTML_NAME, "markdown": tmp_path / "out" / MARKDOWN_NAME}
    assert all(p.stat().st_size > 0 for p in paths.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [HTML_NAME, MARKDOWN_NAME]
    assert "[Full HTML report](report.html)" in paths["markdown"].read_text()


def test_write_atomic_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "f.txt"
    write_atomic(target, "first")
    write_atomic(target, b"second")
    assert target.read_text() == "second"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


def test_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    write_atomic(target, "good")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "partial")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"], "the temp file is cleaned up"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"schema_version": True}, "schema_version must be an integer"),
        ({"schema_version": 0}, "schema_version 0 is not a version"),
        ({"comparisons": {}}, "comparisons: Input should be a valid list"),
        ({"comparisons": [1]}, r"comparisons\.0: Input should be a valid dictionary"),
        ({"items": []}, "items: Input should be a valid dictionary"),
        ({"verdict": {"status": "MAYBE", "reason": ""}}, "verdict.status: Input should be 'PASS'"),
    ],
)
def test_a_malformed_results_json_is_refused_where_it_is_read(
    results: dict[str, Any], patch: dict[str, Any], message: str
) -> None:
    results.update(patch)
    with pytest.raises(DataError, match=message):
        parse_results(json.dumps(results), "results.json")
