from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tunegate.harness.errors import DataError
from tunegate.reports import HTML_NAME, MARKDOWN_NAME, check_results, write_atomic, write_reports


def test_write_reports_returns_both_paths(tmp_path: Path, results: dict[str, Any]) -> None:
    paths = write_reports(results, tmp_path / "out")
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
        ({"schema_version": 0}, "schema_version 0 is not a valid version"),
        ({"comparisons": {}}, "'comparisons' must be a list, got dict"),
        ({"comparisons": [1]}, r"comparisons\[0\] must be an object, got int"),
        ({"items": []}, "'items' must be a dict, got list"),
    ],
)
def test_check_results_rejects_malformed_input(
    results: dict[str, Any], patch: dict[str, Any], message: str
) -> None:
    results.update(patch)
    with pytest.raises(DataError, match=message):
        check_results(results)
