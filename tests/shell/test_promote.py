"""``tunegate promote``: only a PASS run's adapter, only the files that run gated, one line per refusal.

Runs the command as CI would (a subprocess in the project's root) on a results.json built the way a
run builds it (tests/reports/built.py): candidate ``task`` FAILs, ``replay`` PASSes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.reports.built import built_results
from tunegate.harness.fingerprint import content_fingerprint
from tunegate.harness.production import RECORD_NAME, production_reference, read_record
from tunegate.reports.stamp import split_front_matter


def _adapter(folder: Path, weights: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}), encoding="utf-8")
    (folder / "adapter_model.safetensors").write_bytes(weights)
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root (pyproject.toml with [tool.tunegate]), two gated adapters and their run."""
    (tmp_path / "pyproject.toml").write_text('[tool.tunegate]\nbase = "tiny"\n', encoding="utf-8")
    task = _adapter(tmp_path / "artifacts" / "task", b"task weights")
    replay = _adapter(tmp_path / "artifacts" / "replay", b"replay weights")
    data = built_results(labels=("task", "replay"), adapters=("artifacts/task", "artifacts/replay")).to_json()
    for cand, folder in zip(data["models"]["candidates"], (task, replay), strict=True):
        cand["content_fingerprint"] = content_fingerprint(folder)
    assert data["verdict"]["candidates"]["task"]["status"] == "FAIL"
    assert data["verdict"]["candidates"]["replay"]["status"] == "PASS"
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "results.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


def promote(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunegate.shell.cli", "promote", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_a_fail_run_is_refused_and_nothing_is_written(project: Path) -> None:
    done = promote(project, "reports/results.json", "--candidate", "task")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith(
        "tunegate promote: refused: reports/results.json: candidate 'task' did not pass (verdict FAIL: "
    )
    assert lines[0].endswith("; only a PASS run is promoted")
    assert not (project / RECORD_NAME).exists()
    assert not (project / "artifacts" / "task" / "README.md").exists()


def test_several_candidates_need_a_label(project: Path) -> None:
    done = promote(project, "reports/results.json")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "tunegate promote: reports/results.json gated 2 candidates ('task', 'replay'); say which with --candidate LABEL"
    )
    unknown = promote(project, "reports/results.json", "--candidate", "v3")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == (
        "tunegate promote: reports/results.json has no candidate 'v3'; its candidates: 'task', 'replay'"
    )


def test_an_adapter_changed_since_the_run_is_refused(project: Path) -> None:
    gated = content_fingerprint(project / "artifacts" / "replay")
    (project / "artifacts" / "replay" / "adapter_model.safetensors").write_bytes(b"retrained weights")
    now = content_fingerprint(project / "artifacts" / "replay")
    done = promote(project, "reports/results.json", "--candidate", "replay")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"tunegate promote: refused: the adapter at artifacts/replay is not the one reports/results.json gated as "
        f"'replay': its fingerprint is now {now[:12]}, the run's {gated[:12]} (edited or retrained since the run); "
        "gate it again and promote that run"
    )
    assert not (project / RECORD_NAME).exists()


def test_another_adapter_given_with_adapter_is_refused(project: Path) -> None:
    done = promote(project, "reports/results.json", "--candidate", "replay", "--adapter", "artifacts/task")
    assert done.returncode == 1
    assert "is not the one reports/results.json gated as 'replay'" in done.stderr


def test_a_project_that_is_no_directory_is_refused(project: Path) -> None:
    # --project TYPO made the folder and wrote the record into it; a file gave 'File exists'
    for given, said in ((project / "typo", "no such directory"), (project / "pyproject.toml", "not a directory")):
        done = promote(project, "reports/results.json", "--candidate", "replay", "--project", str(given))
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"tunegate promote: --project {given}: {said}; pass the project folder {RECORD_NAME} goes in (default: the project root)\n"
    assert not (project / "typo").exists() and not (project / RECORD_NAME).exists()


def test_the_record_in_place_is_said_when_unreadable_and_refused_when_a_directory(project: Path) -> None:
    # a record in conflict was replaced without a word; a directory there failed naming a temporary file
    (project / RECORD_NAME).write_text('<<<<<<< HEAD\n{"schema": 1}\n', encoding="utf-8")
    done = promote(project, "reports/results.json", "--candidate", "replay", "--no-stamp")
    assert done.returncode == 0, done.stderr
    assert f"it replaces {project / RECORD_NAME}, which could not be read: not valid JSON" in done.stdout
    assert read_record(project / RECORD_NAME).label == "replay"
    (project / RECORD_NAME).unlink()
    (project / RECORD_NAME).mkdir()
    done = promote(project, "reports/results.json", "--candidate", "replay")
    assert done.returncode == 2
    assert done.stderr == f"tunegate promote: {project / RECORD_NAME} is a directory where the production record (a file) belongs; move it away\n"
    assert not (project / "artifacts" / "replay" / "README.md").exists()


def test_a_pass_run_is_promoted_recorded_and_stamped(project: Path) -> None:
    results = project / "reports" / "results.json"
    done = promote(project / "artifacts", "../reports/results.json", "--candidate", "replay")  # from a subfolder
    assert done.returncode == 0, done.stderr
    record = read_record(project / RECORD_NAME)  # in the project root, not the current folder
    fingerprint = content_fingerprint(project / "artifacts" / "replay")
    assert (record.adapter, record.label, record.fingerprint, record.verdict) == ("artifacts/replay", "replay", fingerprint, "PASS")
    assert record.results.path == "reports/results.json"
    import hashlib

    assert record.results.sha256 == hashlib.sha256(results.read_bytes()).hexdigest()
    assert record.base.startswith("sha256:") and record.promoted_at.endswith("Z")
    out = done.stdout.splitlines()
    assert out[0].startswith(f"promoted 'replay' (artifacts/replay, fingerprint {fingerprint[:12]}) from ../reports/results.json (PASS")
    root = project.resolve()
    assert out[-1] == f"wrote {root / RECORD_NAME} and stamped {root / 'artifacts' / 'replay' / 'README.md'}"
    raw = json.loads((project / RECORD_NAME).read_text(encoding="utf-8"))
    assert raw["schema"] == 1 and set(raw) == {"schema", "adapter", "label", "fingerprint", "promoted_at", "results", "verdict", "base"}
    # The card records the promotion: date, fingerprint, results digest.
    meta, body = split_front_matter((project / "artifacts" / "replay" / "README.md").read_text(encoding="utf-8"))
    promotion = meta["tunegate"]["promotion"]
    assert promotion["fingerprint"] == fingerprint and promotion["results_sha256"] == record.results.sha256
    assert promotion["promoted_at"] == record.promoted_at
    assert f"In production since `{record.promoted_at}`" in body
    # Stamping the card does not change the adapter: production_reference still accepts it.
    assert production_reference(project) == project / "artifacts" / "replay"


def test_report_stamp_records_the_promotion_of_the_promoted_adapter_only(project: Path) -> None:
    assert promote(project, "reports/results.json", "--candidate", "replay", "--no-stamp").returncode == 0
    assert not (project / "artifacts" / "replay" / "README.md").exists()
    for name in ("replay", "task"):
        done = subprocess.run(
            [sys.executable, "-m", "tunegate.shell.cli", "report", "reports/results.json", "--stamp", f"artifacts/{name}"],
            cwd=project, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    replay = yaml.safe_load((project / "artifacts" / "replay" / "README.md").read_text(encoding="utf-8").split("---")[1])
    task = yaml.safe_load((project / "artifacts" / "task" / "README.md").read_text(encoding="utf-8").split("---")[1])
    assert replay["tunegate"]["promotion"]["label"] == "replay"
    assert "promotion" not in task["tunegate"]


def test_promote_help_is_true() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tunegate.shell.cli", "promote", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    text = " ".join(done.stdout.split()).replace("- ", "-")  # argparse may wrap at a hyphen
    for words in ("PASS", RECORD_NAME, "--candidate", "--adapter", "--no-stamp", "exit 1"):
        assert words in text
