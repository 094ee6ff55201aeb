"""The ``fake`` backend: a user's own suite runs end to end with ``--backend fake --judge scripted``.

A candidate scripted to answer more items with the reference than the base passes (IMPROVED); one
that answers fewer fails (REGRESSED, exit 1); a misspelt option is one usage error (exit 4, docs/ci.md) naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.projects import faq_project, faq_rows
from tunegate.harness.data import Message
from tunegate.harness.errors import ConfigError
from tunegate.harness.models import BACKENDS, GenerationParams, GenerationRequest, ModelSpec
from tunegate.harness.models.base import supports
from tunegate.harness.models.fake import FakeBackend, picked

pytest_plugins = ["pytester"]

ROWS = faq_rows(40)


def _request(item: str) -> GenerationRequest:
    return GenerationRequest(item, (Message("user", "hi"),), GenerationParams(max_new_tokens=8))


def _project(pytester: pytest.Pytester) -> Path:
    return faq_project(pytester, ROWS)


def _run(pytester: pytest.Pytester, tmp_path: Path, *options: str) -> tuple[pytest.RunResult, Path]:
    report = tmp_path / "report"
    args = ["-p", "no:cacheprovider", "--backend=fake", "--base=fake-base", "--candidate=fake-v2",
            "--judge=scripted", f"--cache-dir={tmp_path / 'cache'}", f"--report={report}", "--allow-advisory"]
    for o in options:
        args.append(f"--backend-option={o}")
    return pytester.runpytest_subprocess(*args), report


def test_registered_like_a_builtin_without_capabilities() -> None:
    info = BACKENDS.get("fake")
    assert BACKENDS.origin("fake") == "tunegate"
    assert (info.local_weights, sorted(info.capabilities)) == (False, [])
    backend = FakeBackend(ModelSpec("b", None, "fake", options={"default": "x"}))
    assert not supports(backend, "drift") and not supports(backend, "adapter_probe")


def test_right_fraction_is_seeded_by_item_id(tmp_path: Path) -> None:
    chosen = [r["id"] for r in ROWS if picked(r["id"], 0.5)]
    assert chosen == [r["id"] for r in ROWS if picked(r["id"], 0.5)] and 10 < len(chosen) < 30
    assert all(picked(r["id"], 0.8) for r in ROWS if picked(r["id"], 0.5))  # a higher fraction keeps the items
    suite = tmp_path / "faq.jsonl"
    suite.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    opts = {"references": str(suite), "base_right": 0.5, "wrong": "no idea"}
    texts = [c.text for c in FakeBackend(ModelSpec("b", None, "fake", options=opts)).generate([_request(i) for i in chosen[:2]])]
    assert texts == [f"ACCURATE answer {i[1:]}" for i in chosen[:2]]
    other = next(r["id"] for r in ROWS if not picked(r["id"], 0.5))
    assert FakeBackend(ModelSpec("b", None, "fake", options=opts)).generate([_request(other)])[0].text == "no idea"


def test_answers_file_per_label_and_truncation(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"base": {"q1": "old"}, "candidate": {"q1": "new"}, "cand2": {"q1": "a b c d e f g h i j"}}))
    def text(adapter: str | None, label: str) -> tuple[str, str]:
        spec = ModelSpec("b", adapter, "fake", label=label, options={"answers": str(answers)})
        c = FakeBackend(spec).generate([_request("q1")])[0]
        return c.text, c.finish_reason
    assert text(None, "base") == ("old", "stop")
    assert text("v2", "candidate") == ("new", "stop")
    assert text("v3", "cand2") == ("a b c d e f g h", "length")
    with pytest.raises(ConfigError, match=r"no answer for item 'q9' .*default=TEXT"):
        FakeBackend(ModelSpec("b", None, "fake", options={"answers": str(answers)})).generate([_request("q9")])


def test_better_candidate_passes_improved(pytester: pytest.Pytester, tmp_path: Path) -> None:
    suite = _project(pytester)
    res, report = _run(pytester, tmp_path, f"references={suite}", "base_right=0.3", "candidate_right=0.9")
    res.assert_outcomes(passed=2)
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    verdicts = {c["metric"]: c["verdict"] for c in results["comparisons"]}
    assert len(verdicts) == 2 and set(verdicts.values()) == {"IMPROVED"}, verdicts
    assert [j["provider"] for j in results["judges"]] == ["scripted"]


def test_worse_candidate_fails_with_exit_1(pytester: pytest.Pytester, tmp_path: Path) -> None:
    suite = _project(pytester)
    res, report = _run(pytester, tmp_path, f"references={suite}", "base_right=0.9", "candidate_right=0.3")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    # the judge is advisory (no human calibration): its check reports but cannot fail the run alone
    res.assert_outcomes(failed=1, passed=1)
    assert "verdict: FAIL" in res.stdout.str()
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    verdicts = {c["metric"]: c["verdict"] for c in results["comparisons"]}
    assert verdicts == {"exact_match": "REGRESSED", "judge[support_style]": "REGRESSED"}, verdicts


def test_unknown_option_is_one_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    suite = _project(pytester)
    res, _ = _run(pytester, tmp_path, f"references={suite}", "candidate_rigth=0.9")
    assert res.ret == pytest.ExitCode.USAGE_ERROR, res.stdout.str() + res.stderr.str()
    out = res.stdout.str() + res.stderr.str()
    assert (
        "invalid options for the fake backend (base): candidate_rigth: unknown option; known options: answers, "
        "references, base_right, candidate_right, wrong, default (docs/backends.md)"
    ) in out, out
    assert "Traceback" not in out
