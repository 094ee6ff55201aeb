"""End to end from pytest: ``--judge openai-compatible --judge-base-url URL`` against the fake server.

A tiny suite (tiny real models for base and candidate) is graded by a judge served by
tests/fakeserver.py over the real openai SDK; the run must reach the server, score every item
and write the judged comparison into results.json, with the URL's password nowhere in the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeServer, openai_chat
from tests.judges.routes import hash_score, openai_judge

pytest_plugins = ["pytester"]

PASSWORD = "pw-PLANTED-e2e-31337"
ITEMS = [
    {
        "id": f"q{i}",
        "messages": [{"role": "user", "content": f"Customer {i}: I was charged twice."}],
        "reference": "x",
    }
    for i in range(6)
]
SUITE_FILE = """
from pathlib import Path

from tunegate.harness.data import load_suite

SUITE = load_suite(Path(__file__).parent / "data" / "toy.jsonl", max_new_tokens=8)


def test_judged(compare, judge):
    result = compare(SUITE, judge.rubric("support_style"))
    assert result.n == 6
"""


def judge_or_chat(req: Any) -> Any:
    """Judge requests (JSON mode) get a verdict; anything else a plain chat answer."""
    if req.get("response_format"):
        return openai_judge(expect="json_object")(req)
    return openai_chat(req)


def test_openai_compatible_judge_runs_from_pytest(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    data = pytester.path / "data"
    data.mkdir()
    (data / "toy.jsonl").write_text("\n".join(json.dumps(x) for x in ITEMS) + "\n")
    pytester.makepyfile(test_judged=SUITE_FILE)
    report = tmp_path / "report"
    with FakeServer({"/v1/chat/completions": judge_or_chat}) as server:
        url = f"http://judge:{PASSWORD}@127.0.0.1:{server.port}/v1"
        res = pytester.runpytest_subprocess(
            "-p",
            "no:cacheprovider",
            "--base",
            str(tiny_model_dir),
            "--candidate",
            str(tiny_adapter_dir),
            "--dtype",
            "fp32",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--report",
            str(report),
            "--judge",
            "openai-compatible",
            "--judge-model",
            "fake-judge",
            "--judge-base-url",
            url,
            "--judge-option",
            "timeout=5",
            "--judge-option",
            "max_retries=2",
        )
        judged = [r for r in server.requests if r.body.get("response_format")]
    out = res.stdout.str() + res.stderr.str()
    res.assert_outcomes(passed=1)
    assert judged, out  # the judge was asked, over HTTP, by the real SDK
    assert all(r.body["model"] == "fake-judge" for r in judged)
    results = json.loads((report / "results.json").read_text())
    (comp,) = [c for c in results["comparisons"] if c["metric"] == "judge[support_style]"]
    assert comp["n"] == 6
    graded = 0
    for row in results["items"]["toy"]:
        for system, output in row["outputs"].items():
            score = row["scores"]["judge[support_style]"][system]
            if output.strip():
                # The fake judge's verdict (a hash of the graded text): it really came over the wire.
                assert score == hash_score(output), (system, output, score)
                graded += 1
            else:  # a blank output is the model's own failure: not sent to the judge, not scored
                assert score is None
    assert graded == len(judged) > 0
    for path in [*report.rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in out
