"""The CI recipe: it parses, runs the documented gate command, and maps exit codes as docs/ci.md says."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "eval-gate.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as a boolean
    return data


def _steps(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s.get("name") or s["uses"]: s for s in workflow["jobs"]["eval-gate"]["steps"]}


def test_triggers_permissions_and_python(workflow: dict[str, Any]) -> None:
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"]["pull-requests"] == "write"
    setup = _steps(workflow)["actions/setup-python@v5"]
    assert setup["with"]["python-version"] == "3.11" and setup["with"]["cache"] == "pip"
    cache = _steps(workflow)["Cache ~/.cache/tunegate"]
    assert cache["with"]["path"] == "~/.cache/tunegate"


def test_runs_tests_trains_and_gates(workflow: dict[str, Any]) -> None:
    steps = _steps(workflow)
    names = list(steps)
    assert steps["Unit tests"]["run"].strip() == "make test"
    assert "make adapter" in steps["Train the adapter (skipped when cached)"]["run"]
    gate = steps["Eval gate"]["run"]
    for part in ("pytest suites/", "--base smollm2-135m-instruct", '--candidate "$ADAPTER_DIR"',
                 '--report "$REPORT_DIR"', '--junitxml "$REPORT_DIR/junit.xml"'):  # fmt: skip
        assert part in gate
    assert (
        workflow["env"]["ADAPTER_DIR"] == "artifacts/support-demo"
        and workflow["env"]["REPORT_DIR"] == "reports/out"
    )
    assert names.index("Eval gate") < names.index("Upload the report") < names.index("Gate") == len(names) - 1
    for name in ("Upload the report", "Job summary", "Comment on the pull request", "Gate"):
        assert steps[name]["if"].startswith("always()"), name
    assert "GITHUB_STEP_SUMMARY" in steps["Job summary"]["run"]
    assert "createComment" in steps["Comment on the pull request"]["with"]["script"]


@pytest.mark.parametrize(
    ("pytest_code", "job_code"), [("0", 0), ("1", 1), ("2", 2), ("3", 3), ("4", 4), ("5", 5), ("", 3)]
)
def test_gate_step_maps_pytest_exit_codes(workflow: dict[str, Any], pytest_code: str, job_code: int) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not found")
    script = _steps(workflow)["Gate"]["run"]
    proc = subprocess.run(
        [bash, "-e", "-c", script],
        env={**os.environ, "EXIT_CODE": pytest_code},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == job_code
    if job_code == 1:
        assert "Eval gate failed" in proc.stdout
    elif job_code:
        assert "Eval harness error" in proc.stdout, "a harness error must read differently from a failed gate"


def test_docs_explain_the_exit_codes() -> None:
    text = (ROOT / "docs" / "ci.md").read_text()
    for needle in ("| 0 |", "| 1 |", "| 5 |", "eval-gate", "$GITHUB_STEP_SUMMARY", "branch protection"):
        assert needle in text, needle
