"""Gating a candidate against the reference in production (``--reference``), end to end with the
fake backend: the pair each gate is about, the verdict that names it, results.json, summary.md.

The script: 60 items; the base answers 30% right, the reference (``v1``, in production) and the
candidate (``v2``) both more. Each model's right items contain the weaker one's, so every
difference is one-sided and decided.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunegate.harness.errors import ConfigError
from tunegate.harness.options import resolve_options
from tunegate.shell.preflight import check_reference

pytest_plugins = ["pytester"]

N = 60
ROWS = [
    {"id": f"q{i}", "messages": [{"role": "user", "content": f"Question {i}?"}], "reference": f"answer {i}"}
    for i in range(N)
]

SUITE = '''
from pathlib import Path

from tunegate import Compare, load_suite, metrics

FAQ = load_suite(Path(__file__).parent / "faq.jsonl", name="faq", max_new_tokens=8)


def test_no_worse_than_production(compare: Compare) -> None:
    compare(FAQ, metrics.make_metric("exact_match")).assert_no_regression(margin=0.05)


def test_better_than_the_base(compare: Compare) -> None:
    compare(FAQ, metrics.make_metric("exact_match"), against="base").assert_improves()
'''


def _answers(path: Path, right: dict[str, int]) -> Path:
    """A fake-backend answers file: model ``label`` is right on the first ``right[label]`` of every 20 items."""
    rows = []
    for i, r in enumerate(ROWS):
        row = {"id": r["id"]}
        for label, k in right.items():
            row[label] = r["reference"] if i % 20 < k else "I do not know."
        rows.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _project(pytester: pytest.Pytester, suite: str = SUITE) -> None:
    (pytester.path / "faq.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    pytester.makepyfile(test_faq=suite)


def _run(
    pytester: pytest.Pytester, tmp_path: Path, right: dict[str, int], *extra: str
) -> tuple[pytest.RunResult, Path]:
    answers = _answers(tmp_path / "answers.jsonl", right)
    report = tmp_path / "report"
    args = [
        "-p", "no:cacheprovider", "--backend=fake", "--base=fake-base", "--candidate=v2", "--reference=v1",
        f"--backend-option=answers={answers}", f"--cache-dir={tmp_path / 'cache'}", f"--report={report}", *extra,
    ]  # fmt: skip
    return pytester.runpytest_subprocess(*args), report


def _results(report: Path) -> dict:
    return json.loads((report / "results.json").read_text(encoding="utf-8"))


def test_candidate_worse_than_the_reference_fails_naming_the_pair(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _project(pytester)
    res, report = _run(pytester, tmp_path, {"base": 6, "v1": 18, "v2": 12}, f"--junitxml={tmp_path / 'junit.xml'}")
    out = res.stdout.str()
    assert res.ret == pytest.ExitCode.TESTS_FAILED, out
    res.assert_outcomes(failed=1, passed=1)
    junit = (tmp_path / "junit.xml").read_text(encoding="utf-8")
    assert 'name="verdict[v2]"' in junit and "FAIL: 1 check(s) failed; first: faq exact_match vs reference (v1)" in junit
    assert "verdict: FAIL - 1 check(s) failed; first: faq exact_match vs reference (v1): REGRESSED, delta -0.300" in out
    assert "candidate vs reference (v1) and base" in out
    results = _results(report)
    pairs = {c["against"]: c for c in results["comparisons"]}
    assert set(pairs) == {"reference", "base"}
    vs_ref, vs_base = pairs["reference"], pairs["base"]
    assert (vs_ref["verdict"], vs_ref["reference"], vs_ref["id"]) == ("REGRESSED", "v1", "faq::exact_match::v2::vs-reference")
    assert (vs_ref["base_mean"], vs_ref["reference_mean"], vs_ref["candidate_mean"]) == (0.3, 0.9, 0.6)
    assert vs_ref["delta"] == pytest.approx(-0.3) and "reference (v1) -> v2: 0.9 -> 0.6" in vs_ref["message"]
    assert (vs_base["verdict"], vs_base["reference"], vs_base["delta"]) == ("IMPROVED", None, pytest.approx(0.3))
    assert vs_base["reference_mean"] == 0.9  # the third column: shown, not tested
    assert results["run"]["reference"]["label"] == "v1" and results["run"]["reference"]["path"] == "v1"
    assert results["models"]["reference"]["label"] == "v1"
    assert [m["label"] for m in results["models"]["candidates"]] == ["v2"]
    assert "vs reference (v1): REGRESSED" in results["verdict"]["reason"]
    item = results["items"]["faq"][0]
    assert set(item["outputs"]) == {"base", "v1", "v2"} and set(item["scores"]["exact_match"]) == {"base", "v1", "v2"}
    summary = (report / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("❌ FAIL — faq exact_match vs reference (v1): REGRESSED, delta -0.300")
    assert "- v2 — ❌ FAIL — vs production (v1): 0 of 1 passed (faq exact_match REGRESSED); vs base: 1 of 1 passed" in summary
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "reference (v1)-only right" in html and "reference (production)" in html


def test_candidate_better_than_the_reference_passes(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _project(pytester)
    res, report = _run(pytester, tmp_path, {"base": 6, "v1": 12, "v2": 18})
    out = res.stdout.str()
    assert res.ret == pytest.ExitCode.OK, out
    res.assert_outcomes(passed=2)
    assert "verdict: PASS - all 2 binding gate(s) (1 vs reference (v1), 1 vs base) passed." in out
    verdicts = {c["against"]: c["verdict"] for c in _results(report)["comparisons"]}
    assert verdicts == {"reference": "NON_INFERIOR", "base": "IMPROVED"}
    summary = (report / "summary.md").read_text(encoding="utf-8")
    assert "- v2 — ✅ PASS — vs production (v1): 1 of 1 passed; vs base: 1 of 1 passed" in summary


GATES = """\
suite: faq.jsonl
name: faq
max_new_tokens: 8
gates:
  - metric: exact_match
    name: vs-production
    no_regression: {margin: 0.05}
  - metric: exact_match
    name: vs-base
    improves: {}
    against: base
"""


def test_gate_file_names_its_pair(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _project(pytester, suite="")
    (pytester.path / "tunegate_faq.yaml").write_text(GATES, encoding="utf-8")
    res, report = _run(pytester, tmp_path, {"base": 6, "v1": 18, "v2": 12})
    assert res.ret == pytest.ExitCode.TESTS_FAILED, res.stdout.str()
    by_name = {c["nodeid"].rsplit("::", 1)[-1]: (c["against"], c["verdict"]) for c in _results(report)["comparisons"]}
    assert by_name == {"vs-production": ("reference", "REGRESSED"), "vs-base": ("base", "IMPROVED")}


def test_a_bad_against_in_a_gate_file_is_one_message_naming_the_line(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _project(pytester, suite="")
    (pytester.path / "tunegate_faq.yaml").write_text(GATES.replace("against: base", "against: production"), encoding="utf-8")
    res, _ = _run(pytester, tmp_path, {"base": 6, "v1": 18, "v2": 12})
    out = res.stdout.str() + res.stderr.str()
    assert res.ret == pytest.ExitCode.INTERRUPTED, out
    assert "tunegate_faq.yaml:11: gates.1.against: against='production' is not a pair; use 'base'" in out, out
    assert "Traceback" not in out


def test_a_bad_against_in_the_fixture_stops_the_run_with_one_message(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _project(pytester, suite=SUITE.replace('against="base"', 'against="production"'))
    res, _ = _run(pytester, tmp_path, {"base": 6, "v1": 18, "v2": 12})
    out = res.stdout.str() + res.stderr.str()
    assert res.ret == pytest.ExitCode.USAGE_ERROR, out
    assert "compare(...): against='production' is not a pair; use 'base' (candidate vs base) or 'reference'" in out
    assert "Traceback" not in out


def test_against_reference_without_a_reference_is_refused(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _project(pytester, suite="")
    (pytester.path / "tunegate_faq.yaml").write_text(GATES.replace("against: base", "against: reference"), encoding="utf-8")
    answers = _answers(tmp_path / "answers.jsonl", {"base": 6, "v2": 12})
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--backend=fake", "--base=fake-base", "--candidate=v2",
        f"--backend-option=answers={answers}", f"--cache-dir={tmp_path / 'cache'}",
    )  # fmt: skip
    out = res.stdout.str() + res.stderr.str()
    assert res.ret == pytest.ExitCode.INTERRUPTED, out
    assert "gates.1: against='reference' but this run has no reference; pass --reference DIR" in out


def test_a_reference_that_is_no_adapter_is_refused_before_any_model_loads(tmp_path: Path) -> None:
    missing, empty = tmp_path / "nowhere", tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"^--reference='.*nowhere': no such directory; pass an adapter dir"):
        check_reference(resolve_options({"backend": "hf", "reference": str(missing)}, {}, {}))
    with pytest.raises(ConfigError, match=r"^--reference='.*empty': reference .* is neither a peft adapter"):
        check_reference(resolve_options({"backend": "hf", "reference": str(empty)}, {}, {}))
    table = resolve_options({}, {"backend": "hf", "reference": str(missing)}, {}, pyproject_path="pyproject.toml")
    with pytest.raises(ConfigError, match=r"^pyproject.toml \[tool.tunegate\]: reference = '.*nowhere': no such"):
        check_reference(table)
    check_reference(resolve_options({"backend": "fake", "reference": str(missing)}, {}, {}))  # a served name: not checked


def _promoted(folder: Path, label: str) -> None:
    """``label``'s adapter dir in ``folder`` recorded as the project's production model."""
    from tunegate.harness.fingerprint import content_fingerprint
    from tunegate.harness.production import ProductionRecord, ResultsDigest, write_record

    adapter = folder / label
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "fake-base"}', encoding="utf-8")
    (adapter / "adapter_model.safetensors").write_bytes(b"weights of " + label.encode())
    record = ProductionRecord(
        adapter=label,
        label=label,
        fingerprint=content_fingerprint(adapter),
        promoted_at="2026-12-06T18:00:00Z",
        results=ResultsDigest(path="reports/v1/results.json", sha256="0" * 64),
        verdict="PASS",
        base="fake-base",
    )
    write_record(folder, record)


def test_reference_production_is_the_promoted_adapter(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _project(pytester)
    _promoted(pytester.path, "v1")
    res, report = _run(pytester, tmp_path, {"base": 6, "v1": 18, "v2": 12}, "--reference=production")
    out = res.stdout.str()
    assert res.ret == pytest.ExitCode.TESTS_FAILED, out
    assert "verdict: FAIL - 1 check(s) failed; first: faq exact_match vs reference (v1): REGRESSED" in out
    run = _results(report)["run"]["reference"]
    assert run["label"] == "v1" and Path(run["path"]).resolve() == (pytester.path / "v1").resolve()


def test_reference_production_without_a_promotion_says_how(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _project(pytester)
    res, _ = _run(pytester, tmp_path, {"base": 6, "v1": 18, "v2": 12}, "--reference=production")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert "tunegate promote" in err and "Traceback" not in err, err
    _promoted(pytester.path, "v1")
    (pytester.path / "v1" / "adapter_model.safetensors").write_bytes(b"retrained")
    res, _ = _run(pytester, tmp_path, {"base": 6, "v1": 18, "v2": 12}, "--reference=production")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert "changed since it was promoted" in res.stderr.str()
