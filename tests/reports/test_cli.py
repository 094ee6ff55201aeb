from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.reports.fixtures import make_results
from tunegate.harness.fingerprint import content_fingerprint
from tunegate.reports.cli import main


def _write(path: Path, results: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results), encoding="utf-8")
    return path


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, "errors are one line"
    return err


def test_report_writes_html_and_summary(
    tmp_path: Path, results: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "run" / "results.json", results)
    assert main([str(path), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!DOCTYPE html>")
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert summary.startswith("❌ FAIL — support/eval exact_match[category]: REGRESSED")
    out = capsys.readouterr().out
    assert out.startswith("❌ FAIL") and "report.html" in out


def test_default_output_is_next_to_results(tmp_path: Path, results: dict[str, Any]) -> None:
    path = _write(tmp_path / "results.json", results)
    assert main([str(path), "--report-url", "https://ci.example/runs/1"]) == 0
    assert "(https://ci.example/runs/1)" in (tmp_path / "summary.md").read_text()


def test_stamp(tmp_path: Path, results: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    adapter = tmp_path / "support-demo"
    adapter.mkdir()
    results["models"]["candidates"][0]["spec"]["adapter"] = str(adapter)
    results["models"]["candidates"][0]["content_fingerprint"] = content_fingerprint(adapter)
    path = _write(tmp_path / "results.json", results)
    assert main([str(path), "--stamp", str(adapter)]) == 0
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"results_sha256: {digest}" in (adapter / "README.md").read_text()
    assert "stamped" in capsys.readouterr().out


def test_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _write(tmp_path / "old" / "results.json", make_results(120, status="FAIL"))
    new = _write(tmp_path / "new" / "results.json", make_results(120, status="PASS"))
    assert main(["--compare", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("❌ FAIL → ✅ PASS") and "| exact_match[category] |" in out
    assert main(["--compare", str(old), str(new), "-o", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "compare.html").exists() and (tmp_path / "cmp" / "compare.md").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"results\.json: file not found; pass the results\.json written by `pytest --report DIR`"),
        ('{"schema_version": 1,\n  "verdict": ', r"results\.json: line 2 column 14: invalid JSON"),
        ('{"schema_version": 7}', r"schema_version 7 is newer than this tunegate understands \(<= 3\)"),
        ("[1, 2]", r"expected a JSON object at the top level, got list"),
        ('{"verdict": {}}', r"schema_version must be an integer, got None"),
        (b"\xff\xfe{}", r"not UTF-8"),
    ],
)
def test_input_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "results.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert main([str(path)]) == 2
    err = _error_line(capsys)
    assert err.startswith("tunegate report: error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "report.html").exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "pass RESULTS.json (or --compare OLD NEW)" in _error_line(capsys)
    assert main(["--compare", "a.json"]) == 2
    capsys.readouterr()
    assert main(["x.json", "--compare", "a.json", "b.json"]) == 2
    assert "--compare takes OLD and NEW only" in _error_line(capsys)
    assert main(["--compare", "a.json", "b.json", "--report-url", "https://ci.example/runs/1"]) == 2
    assert "drop RESULTS.json/--stamp/--report-url" in _error_line(capsys)
    one = _write(tmp_path / "run" / "results.json", make_results(20))
    assert main(["--compare", str(one), str(tmp_path / "run" / "." / "results.json")]) == 2  # was a table of no changes
    assert "OLD and NEW are the same file; pass two runs' results.json" in _error_line(capsys)
    assert main(["--help"]) == 0
    assert "--stamp ADAPTER_DIR" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", r"'' is not a link \(empty, or holds spaces\); give an http\(s\) URL"),
        ("not a url", r"'not a url' is not a link"),
        ("javascript:alert(1)", r"'javascript:alert\(1\)' is a javascript: link, not a web page"),
    ],
)
def test_a_report_url_that_is_no_link_is_named(
    tmp_path: Path, results: dict[str, Any], capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    # it went into summary.md as written ('' silently meant report.html)
    path = _write(tmp_path / "results.json", results)
    assert main([str(path), "--report-url", url]) == 2
    err = capsys.readouterr().err
    assert re.search(r"argument --report-url: " + message, err), err
    assert not (tmp_path / "summary.md").exists()
    assert main([str(path), "--report-url", "../runs/7/report.html"]) == 0


def test_stamp_errors_are_usage_errors(
    tmp_path: Path, results: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "results.json", results)
    assert main([str(path), "--stamp", str(tmp_path / "nope")]) == 2
    assert "not a directory" in _error_line(capsys)


def test_a_refused_stamp_writes_nothing(
    tmp_path: Path, results: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    gated = tmp_path / "gated"
    gated.mkdir()
    (gated / "adapter_model.safetensors").write_bytes(b"gated")
    other = tmp_path / "other"
    other.mkdir()
    (other / "adapter_model.safetensors").write_bytes(b"other")
    results["models"]["candidates"][0]["spec"]["adapter"] = str(gated)
    results["models"]["candidates"][0]["content_fingerprint"] = content_fingerprint(gated)
    path = _write(tmp_path / "run" / "results.json", results)
    assert main([str(path), "--stamp", str(other)]) == 2
    assert "did not evaluate this adapter" in _error_line(capsys)
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]
    assert not (other / "README.md").exists()


def test_an_edited_verdict_is_refused_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.reports.built import built_results

    data = built_results(labels=("task",)).to_json()
    good = _write(tmp_path / "good" / "results.json", data)
    assert main([str(good)]) == 0
    data["verdict"]["status"] = "PASS"
    edited = _write(tmp_path / "edited" / "results.json", data)
    capsys.readouterr()
    assert main([str(edited)]) == 2
    assert _error_line(capsys) == (
        f"tunegate report: error: {edited}: the verdict is PASS but gate 'general/qa::accuracy::task' is REGRESSED "
        "(binding); the file was edited or is corrupt: re-run the suites"
    )
    assert not (edited.parent / "report.html").exists()
