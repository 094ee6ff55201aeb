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


# -- the stored verdict against the evidence it was decided on -----------------------------------
REEDIT = "; the file was edited or is corrupt: re-run the suites"


def _built(**kw: Any) -> dict[str, Any]:
    from tests.reports.built import built_results

    return built_results(labels=("task",), **kw).to_json()


def test_a_file_written_by_a_run_is_read_whatever_its_verdict() -> None:
    from tests.reports.built import built_results

    for data in (_built(passing=True), _built(), built_results().to_json(), built_results(no_effect=True).to_json()):
        assert parse_results(json.dumps(data), "results.json").verdict == as_record(data).verdict


def test_a_pass_next_to_a_regressed_gate_is_refused() -> None:
    data = _built()  # task regresses on general/qa
    data["verdict"]["status"] = "PASS"
    with pytest.raises(DataError) as err:
        parse_results(json.dumps(data), "results.json")
    assert err.value.problems == [
        "the verdict is PASS but gate 'general/qa::accuracy::task' is REGRESSED (binding)" + REEDIT
    ]
    data["verdict"]["candidates"]["task"]["status"] = "PASS"
    with pytest.raises(DataError, match=r"the verdict of candidate 'task' is PASS but gate 'general/qa::accuracy::task' is REGRESSED \(binding\)"):
        parse_results(json.dumps(data), "results.json")


def test_a_gate_marked_passed_with_a_failing_verdict_is_refused() -> None:
    data = _built(passing=True)
    gate = next(c for c in data["comparisons"] if c["id"] == "general/qa::accuracy::task")
    gate["verdict"] = "REGRESSED"
    with pytest.raises(DataError, match=r"gate 'general/qa::accuracy::task' is REGRESSED but marked passed, and its deciding gate says NON_INFERIOR; the file"):
        parse_results(json.dumps(data), "results.json")


def test_what_the_record_cannot_show_may_only_make_it_worse() -> None:
    # pytest's exit status is not in the record: a FAIL or ERROR over passing evidence is a run
    # whose pytest failed or stopped, not an edit.
    for status in ("FAIL", "ERROR"):
        data = _built(passing=True)
        data["verdict"]["status"] = status
        assert parse_results(json.dumps(data), "results.json").verdict.status == status
    data = _built(passing=True)
    data["verdict"]["status"] = "NO_EFFECT"
    with pytest.raises(DataError, match=r"the verdict is NO_EFFECT \('all 2 binding gate.*'\) but its comparisons and tests give PASS"):
        parse_results(json.dumps(data), "results.json")


def test_statuses_are_compared_not_the_wording_of_reasons() -> None:
    data = _built(passing=True)
    data["verdict"]["reason"] = data["verdict"]["candidates"]["task"]["reason"] = "worded by another version"
    assert parse_results(json.dumps(data), "results.json").verdict.status == "PASS"
    data["comparisons"] = []
    data["verdict"]["status"] = data["verdict"]["candidates"]["task"]["status"] = "NO_EFFECT"
    with pytest.raises(DataError, match="the verdict of candidate 'task' is NO_EFFECT"):
        parse_results(json.dumps(data), "results.json")
