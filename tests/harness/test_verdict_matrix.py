"""Every piece of evidence reaches its candidate's verdict, and every output says the same thing.

Each case is a real pytest run of a two-candidate project (tiny Llama, LoRA adapters from
tests/tinymodels.py): ``clean`` has no problem, the other candidate has exactly one. Scores come
from scripted metrics that declare the worst score of the real built-in metric they stand for
(rubric 1-5, ROUGE-L, BERTScore, a custom metric), so the verdict logic is what is under test, not
a model's taste. For every case the exit code, the terminal's verdict lines, results.json,
summary.md, report.html (banner and per-candidate table) and junit.xml must agree, and ``clean``
must stay PASS.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.reports.browser import find_chromium, parse_dom, run_chromium
from tunegate.harness.manifest import write_manifest
from tunegate.reports.format import STATUS_ICONS, status_text

pytest_plugins = ["pytester"]

N_ITEMS = 40

COMMON = '''
from pathlib import Path
import numpy as np
import pytest
from tunegate.harness.data import load_suite
from tunegate.harness.metrics.base import MetricScores

SUITE = load_suite(Path(__file__).parent / "data" / "toy.jsonl", max_new_tokens=3)
BAD = "{bad}"


def J(i):
    return 0.1 * (i % 3)


def noise(i):
    return 0.01 * ((i * 7) % 5 - 2)


class Scripted:
    """Per-item scores by index, base and candidate; unscored = NaN; ``worst`` as declared."""

    higher_is_better = True

    def __init__(self, name, base, cand, *, kind="continuous", worst=None, infra=None, advisory=False):
        self.name, self.kind = name, kind
        self._base, self._cand, self._infra = base, cand, infra
        if worst is not None:
            self.worst_score = worst
        if advisory:
            self.health = lambda: {{"rubric": name, "provider": "fake", "model": "fake-judge",
                                    "kappa": 0.1, "reliable": False}}

    def score_pair(self, items, base_outputs, candidate_outputs):
        n = len(items)
        infra = tuple(bool(self._infra(i)) for i in range(n)) if self._infra else ()
        b = np.array([self._base(i) for i in range(n)], dtype=float)
        c = np.array([self._cand(i) for i in range(n)], dtype=float)
        return MetricScores(b, infra=infra), MetricScores(c, infra=infra)

    def describe(self):
        return {{"scripted": self.name}}


def same(i):
    return 0.5 + J(i)


def test_quality(compare, candidate):
    compare(SUITE, Scripted("quality", same, lambda i: same(i) + noise(i))).assert_no_regression(0.05)
'''

HALF_UNSCORED = '''
from tunegate.harness.metrics import make_metric

def half(base_level, cand_level, worst, margin, name):
    def test(compare, candidate):
        bad = candidate.label == BAD
        cand = (lambda i: cand_level + J(i) / 4 if i % 2 == 0 else float("nan")) if bad else (
            lambda i: base_level + J(i) / 4 + noise(i))
        compare(SUITE, Scripted(name, lambda i: base_level + J(i) / 4, cand, worst=worst)).assert_no_regression(margin)
    return test
'''

CASES: dict[str, str] = {
    "no_op_adapter": "",
    "unscored_rubric": HALF_UNSCORED + '''
from tunegate.judges.metric import RubricMetric
from tunegate.judges.rubric import load_rubric

RUBRIC_WORST = RubricMetric(None, load_rubric("support_style")).worst_score  # 1, the rubric's lowest
test_judged = half(4.0, 5.0, RUBRIC_WORST, 0.5, "judge[support_style]")
''',
    "unscored_rouge_l": HALF_UNSCORED + '''
test_rouge = half(0.4, 0.6, make_metric("rouge_l").worst_score, 0.05, "rouge_l")
''',
    "unscored_bertscore": HALF_UNSCORED + '''
test_bertscore = half(0.8, 0.9, make_metric("bertscore_f1").worst_score, 0.05, "bertscore_f1")
''',
    "unscored_custom_metric": '''
from tunegate.harness.metrics import custom_metric

SIDE = {"who": "base"}

def grade(item, output):
    i = int(item.id[1:])
    if SIDE["who"] == "base":
        return 4.0 + J(i)
    if SIDE["label"] == BAD:
        return 5.0 + J(i) if i % 2 == 0 else None
    return 4.0 + J(i) + noise(i)

GRADE = custom_metric("grade", grade, worst=1.0)

class Sided:
    name, kind, higher_is_better = "grade", "continuous", True
    worst_score = GRADE.worst_score

    def __init__(self, label):
        self.label = label

    def score_pair(self, items, base_outputs, candidate_outputs):
        SIDE.update(who="base", label=self.label)
        b = GRADE.score(items, base_outputs)
        SIDE.update(who="candidate")
        return b, GRADE.score(items, candidate_outputs)

    def describe(self):
        return GRADE.describe()

def test_grade(compare, candidate):
    compare(SUITE, Sided(candidate.label)).assert_no_regression(0.5)
''',
    "leakage_failed": "",  # the bad adapter's tunegate.json names training data with eval items in it
    "kl_drift_failed": '''
from tunegate.harness.forgetting import assert_drift_within

TEXTS = ["The weather was mild and the river ran slowly past the mill.",
         "Prices rose in spring, and the market closed early on Fridays.",
         "She wrote three letters before breakfast and posted none of them.",
         "A small dog followed the postman all the way to the station."]

def test_general_drift(tunegate_run, candidate):
    limit = 1e-9 if candidate.label == BAD else 100.0
    report = tunegate_run.drift(candidate, TEXTS, max_length=32, max_kl=limit)
    assert_drift_within(report, max_kl=limit)
''',
    "custom_test_failed": '''
def test_policy(candidate):
    assert candidate.label != BAD, "the candidate answers refunds in the wrong currency"
''',
    "custom_test_errored": '''
@pytest.fixture
def refund_table(candidate):
    if candidate.label == BAD:
        raise RuntimeError("refund table for this candidate could not be built")
    return {}

def test_refunds(refund_table, candidate):
    assert refund_table == {}
''',
    "holm_lost_improvement": '''
def claim(name):
    def test(compare, candidate):
        # bad: 6 items won, 1 lost of 40: exact unconditional McNemar p = 0.040 alone, 0.081 after
        # Holm over the two claims (the conditional binomial p, 0.0625, would not pass alone).
        wins = 6 if candidate.label == BAD else 30
        compare(SUITE, Scripted(name, lambda i: 1.0 if i == 39 else 0.0, lambda i: 1.0 if i < wins else 0.0,
                                kind="binary")).assert_improves(0.0)
    return test

test_accuracy_a = claim("accuracy_a")
test_accuracy_b = claim("accuracy_b")
''',
    "advisory_regressed": '''
def test_style(compare, candidate):
    cand = (lambda i: 2.0 + J(i) + noise(i)) if candidate.label == BAD else (lambda i: 4.0 + J(i) + noise(i))
    compare(SUITE, Scripted("judge[style]", lambda i: 4.0 + J(i), cand, worst=1.0, advisory=True)).assert_no_regression(0.5)
''',
    "advisory_incomplete": '''
def test_style(compare, candidate):
    bad = candidate.label == BAD
    cand = lambda i: float("nan") if bad and i >= 3 else 4.0 + J(i) + noise(i)
    compare(SUITE, Scripted("judge[style]", lambda i: 4.0 + J(i), cand, worst=1.0, advisory=True,
                            infra=lambda i: bad and i >= 3)).assert_no_regression(0.5)
''',
    "setup_error": '''
from tunegate.harness.metrics import make_metric

def test_rouge(compare, candidate):
    if candidate.label == BAD:
        compare(SUITE, make_metric("rougeL"))
''',
}
CASE_OPTIONS = {"advisory_regressed": ["--allow-advisory"], "advisory_incomplete": ["--allow-advisory"]}
# The quality gate is the only evidence a no-op adapter would otherwise pass on; the other cases
# keep it too, so that the bad candidate's one problem is all that fails it.
EXPECTED = {case: ("FAIL", 1) for case in CASES} | {"no_op_adapter": ("NO_EFFECT", 1), "setup_error": ("ERROR", 4)}


@dataclass
class Outputs:
    case: str
    ret: int
    terminal: str
    report: Path
    results: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    html: str = ""
    junit: ET.Element | None = None


def _suite_lines() -> list[dict[str, Any]]:
    return [
        {
            "id": f"q{i}",
            "messages": [{"role": "user", "content": f"Customer {i} asks how to return order number {1000 + i} for a refund."}],
            "reference": f"Order {1000 + i} can be returned within thirty days from the account page for case {i}.",
        }
        for i in range(N_ITEMS)
    ]


def _manifest(adapter: Path, train: Path, *, base: dict[str, Any] | None = None) -> None:
    digest = hashlib.sha256(train.read_bytes()).hexdigest()
    entry = {"path": str(train), "project_path": str(train), "absolute": str(train), "sha256": digest}
    data: dict[str, Any] = {"data": {"train": entry}}
    if base is not None:
        data["base"] = base
    write_manifest(adapter, data)


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tiny_adapter_dir: Path, tiny_zero_adapter_dir: Path,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("matrix-adapters")
    out = {}
    for name, src in (("clean", tiny_adapter_dir), ("bad", tiny_adapter_dir), ("noop", tiny_zero_adapter_dir),
                      ("leaky", tiny_adapter_dir), ("retargeted", tiny_adapter_dir)):
        out[name] = Path(shutil.copytree(src, root / name))
    leaked = root / "train_leaked.jsonl"
    leaked.write_text(
        "\n".join(
            json.dumps({"messages": [*row["messages"], {"role": "assistant", "content": row["reference"]}]})
            for row in _suite_lines()[:10]
        ) + "\n",
        encoding="utf-8",
    )
    _manifest(out["leaky"], leaked)
    clean_train = root / "train_clean.jsonl"
    clean_train.write_text(
        json.dumps({"messages": [{"role": "user", "content": "Hello there, what are the shop's hours?"},
                                 {"role": "assistant", "content": "We are open nine to five on weekdays."}]}) + "\n",
        encoding="utf-8",
    )
    from tunegate.harness.fingerprint import content_fingerprint

    base = {"spec": str(tiny_model_dir), "path": str(tiny_model_dir), "fingerprint": content_fingerprint(tiny_model_dir)}
    _manifest(out["retargeted"], clean_train, base=base)
    cfg_path = out["retargeted"] / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-360M-Instruct"
    cfg_path.write_text(json.dumps(cfg), encoding="utf-8")
    return out


def _bad_adapter(case: str) -> str:
    return {"no_op_adapter": "noop", "leakage_failed": "leaky", "base_conflict": "retargeted"}.get(case, "bad")


def _run(pytester: pytest.Pytester, case: str, body: str, model: Path, adapters: dict[str, Path],
         cache: Path, *extra: str) -> Outputs:
    bad = _bad_adapter(case)
    data = pytester.path / "data"
    data.mkdir(exist_ok=True)
    (data / "toy.jsonl").write_text("\n".join(json.dumps(x) for x in _suite_lines()) + "\n", encoding="utf-8")
    pytester.makepyfile(test_matrix=COMMON.format(bad=bad) + body)
    report = pytester.path / "report"
    res = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "--base", str(model), "--dtype", "fp32",
        "--cache-dir", str(cache), "--candidate", str(adapters["clean"]), "--candidate", str(adapters[bad]),
        "--report", str(report), f"--junitxml={report / 'junit.xml'}", *extra,
    )
    out = Outputs(case, int(res.ret), res.stdout.str() + res.stderr.str(), report)
    if (report / "results.json").exists():
        out.results = json.loads((report / "results.json").read_text(encoding="utf-8"))
        out.summary = (report / "summary.md").read_text(encoding="utf-8")
        out.html = (report / "report.html").read_text(encoding="utf-8")
    if (report / "junit.xml").exists():
        out.junit = ET.parse(report / "junit.xml").getroot()
    return out


def _terminal_verdicts(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        m = re.match(r"^verdict(?: (\S+))?: (\S+) - ", line)
        if m:
            found[m.group(1) or "*run*"] = m.group(2)
    return found


def _junit_cases(root: ET.Element) -> dict[str, str]:
    cases = {}
    for tc in root.iter("testcase"):
        failed = tc.find("failure") is not None or tc.find("error") is not None
        cases[tc.get("name", "")] = "failed" if failed else ("skipped" if tc.find("skipped") is not None else "passed")
    return cases


def _check_outputs(out: Outputs, run_status: str, per: dict[str, str], ret: int) -> None:
    where = f"[{out.case}]"
    assert out.ret == ret, f"{where} exit code {out.ret}, expected {ret}\n{out.terminal[-4000:]}"
    # terminal: the run's verdict line and one per candidate
    term = _terminal_verdicts(out.terminal)
    assert term.get("*run*") == run_status, f"{where} terminal verdict {term}\n{out.terminal[-3000:]}"
    for label, status in per.items():
        assert term.get(label) == status, f"{where} terminal verdict of {label}: {term}"
    # results.json
    verdict = out.results["verdict"]
    assert verdict["status"] == run_status, f"{where} results.json {verdict}"
    assert {k: v["status"] for k, v in verdict["candidates"].items()} == per, f"{where} {verdict['candidates']}"
    # summary.md: the first line and the per-candidate lines
    first = out.summary.splitlines()[0]
    icon = STATUS_ICONS[run_status]
    assert first.startswith(icon), f"{where} summary.md first line: {first}"
    if run_status not in ("NO_EFFECT",):
        assert first.startswith(f"{icon} {status_text(run_status)} — "), f"{where} summary.md first line: {first}"
    for label, status in per.items():
        line = next((x for x in out.summary.splitlines() if x.startswith(f"- {label} — ")), "")
        assert line.startswith(f"- {label} — {STATUS_ICONS[status]} {status_text(status)}"), f"{where} summary.md: {line!r}"
    if any(t["outcome"] in ("failed", "error") for t in out.results["tests"]):
        assert not re.search(r"Other tests .*all \d+ passed", out.summary), f"{where} summary.md says all passed"
    # report.html: banner and per-candidate table (as served; the DOM after scripts in Chromium below)
    _check_html(out, parse_dom(out.html), run_status, per)
    # junit.xml: one verdict case per candidate, failing exactly where the verdict blocks
    assert out.junit is not None, f"{where} no junit.xml"
    cases = _junit_cases(out.junit)
    for label, status in per.items():
        assert cases.get(f"verdict[{label}]") == ("passed" if status == "PASS" else "failed"), f"{where} junit {cases}"
    failures = int(out.junit.find("testsuite").get("failures", "0")) + int(out.junit.find("testsuite").get("errors", "0"))  # type: ignore[union-attr]
    assert (failures > 0) == (ret != 0), f"{where} junit counts {failures} failures, exit code {ret}"


def _check_html(out: Outputs, dom: Any, run_status: str, per: dict[str, str]) -> None:
    where = f"[{out.case}]"
    assert dom.by_id.get("verdict-status", "").strip() == status_text(run_status), f"{where} banner {dom.by_id.get('verdict-status')}"
    for label, status in per.items():
        row = dom.by_id.get(f"cand-{label}", "")
        assert status_text(status) in row, f"{where} report.html row of {label}: {row[:300]}"
        others = {status_text(s) for s in ("PASS", "FAIL", "NO_EFFECT", "ERROR")} - {status_text(status)}
        assert not any(re.search(rf"(^|\W){re.escape(o)}(\W|$)", row.split(label, 1)[-1][:40]) for o in others), row[:300]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("matrix-cache")


RENDERED: dict[str, Outputs] = {}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_fails_only_its_candidate_in_every_output(
    case: str, pytester: pytest.Pytester, tiny_model_dir: Path, adapters: dict[str, Path], cache_dir: Path
) -> None:
    out = _run(pytester, case, CASES[case], tiny_model_dir, adapters, cache_dir, *CASE_OPTIONS.get(case, []))
    status, ret = EXPECTED[case]
    bad = _bad_adapter(case)
    _check_outputs(out, status, {"clean": "PASS", bad: status}, ret)
    reason = out.results["verdict"]["candidates"][bad]["reason"]
    if case == "holm_lost_improvement":
        cases = _junit_cases(out.junit)  # type: ignore[arg-type]
        assert cases["test_accuracy_a[bad]"] == cases["test_accuracy_b[bad]"] == "failed", cases
        assert cases["test_accuracy_a[clean]"] == "passed", cases
        assert "INCONCLUSIVE" in reason or "UNDERPOWERED" in reason, reason
    if case.startswith("advisory"):
        assert ("REGRESSED" if case == "advisory_regressed" else "INCOMPLETE") in reason, reason
        assert "(advisory, still failing)" in reason
    if case.startswith("unscored"):
        comp = next(c for c in out.results["comparisons"] if c["candidate"] == bad and c["metric"] != "quality")
        assert comp["verdict"] == "REGRESSED" and comp["coverage"]["unscored_candidate"] == N_ITEMS // 2, comp
    if case == "leakage_failed":
        assert "tunegate::leakage[leaky]" in reason, reason
    if case == "setup_error":
        assert "rougeL" in reason and "the run stopped in" in reason, reason
        assert "check(s) failed" not in out.summary and "check(s) failed" not in out.terminal
    RENDERED[case] = out


def test_base_conflict_is_refused_unless_allowed(
    pytester: pytest.Pytester, tiny_model_dir: Path, adapters: dict[str, Path], cache_dir: Path
) -> None:
    refused = _run(pytester, "base_conflict", "", tiny_model_dir, adapters, cache_dir)
    assert refused.ret == 4, refused.terminal[-3000:]
    assert "adapter_config.json base_model_name_or_path is 'HuggingFaceTB/SmolLM2-360M-Instruct'" in refused.terminal
    assert "--allow-base-mismatch" in refused.terminal and not refused.results
    allowed = _run(pytester, "base_conflict", "", tiny_model_dir, adapters, cache_dir, "--allow-base-mismatch")
    _check_outputs(allowed, "PASS", {"clean": "PASS", "retargeted": "PASS"}, 0)
    note = "BASE MISMATCH allowed by --allow-base-mismatch"
    assert any(note in n for n in allowed.results["verdict"]["notes"])
    assert note in allowed.terminal and note in allowed.summary and note in allowed.html


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium binary (apt-get install chromium) to render report.html")
def test_reports_render_the_same_verdicts_in_chromium() -> None:
    if not RENDERED:
        pytest.skip("run together with the matrix cases above")
    for case, out in RENDERED.items():
        status, _ = EXPECTED[case]
        dom = parse_dom(run_chromium((out.report / "report.html").as_uri())[0])
        _check_html(out, dom, status, {"clean": "PASS", _bad_adapter(case): status})
