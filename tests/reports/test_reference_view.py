"""The three-column view of a run with a reference in production, rendered from what a run builds:
RunState.compare (fake backend) -> RunRecorder.partial -> merge_partials -> build_results."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tunegate.harness.data import load_suite
from tunegate.harness.errors import GateFailure
from tunegate.harness.metrics import make_metric
from tunegate.harness.options import resolve_options
from tunegate.harness.partial import RunPartial, merge_partials
from tunegate.harness.record import RunRecord
from tunegate.harness.results import build_results
from tunegate.harness.session import RunState
from tunegate.harness.summary import format_summary
from tunegate.reports.html import render_html
from tunegate.reports.items import page_data
from tunegate.reports.markdown import render_markdown

N = 40
RIGHT = {"base": 6, "v1": 18, "v2": 12}
"""Of every 20 items, the first k are answered right: base 30%, reference v1 90%, candidate v2 60%."""


def _record(tmp_path: Path) -> RunRecord:
    rows = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"Q{i}?"}], "reference": f"a{i}"} for i in range(N)]
    suite_path = tmp_path / "faq.jsonl"
    suite_path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        "".join(
            json.dumps({"id": r["id"], **{m: r["reference"] if i % 20 < k else "no" for m, k in RIGHT.items()}}) + "\n"
            for i, r in enumerate(rows)
        ),
        encoding="utf-8",
    )
    options = resolve_options(
        {"backend": "fake", "base": "fake-base", "candidate": ["v2"], "reference": "v1",
         "backend_option": [f"answers={answers}"], "cache_dir": str(tmp_path / "cache"), "no_cache": True},
        {}, {},
    )  # fmt: skip
    run = RunState(options)
    suite = load_suite(suite_path, name="faq", max_new_tokens=4)
    cand = run.candidates[0]
    with pytest.raises(GateFailure, match=r"^REGRESSED: exact_match on faq, reference \(v1\) -> v2: 0.9 -> 0.6"):
        run.compare(suite, make_metric("exact_match"), cand, nodeid="t::vs_prod").assert_no_regression(margin=0.05)
    run.compare(suite, make_metric("exact_match"), cand, nodeid="t::vs_base", against="base").assert_improves()
    merged = merge_partials([RunPartial.model_validate(json.loads(json.dumps(run.partial(), default=str)))])
    return build_results(
        merged, options=options.model_dump(mode="json"), started=time.time(), exitstatus=1, command="pytest"
    )


def test_the_record_names_each_pair_and_the_reference(tmp_path: Path) -> None:
    record = _record(tmp_path)
    vs_ref, vs_base = record.comparisons
    assert (vs_ref.against, vs_ref.reference, vs_ref.pair) == ("reference", "v1", "reference (v1)")
    assert (vs_ref.base_mean, vs_ref.reference_mean, vs_ref.candidate_mean, vs_ref.against_mean) == (0.3, 0.9, 0.6, 0.9)
    assert (vs_base.against, vs_base.base_mean, vs_base.reference_mean, vs_base.against_mean) == ("base", 0.3, 0.9, 0.3)
    assert vs_ref.flips is not None and len(vs_ref.flips.base_only) == 12 and not vs_ref.flips.candidate_only
    assert record.run.reference is not None and record.run.reference.label == "v1" == record.reference_label
    assert record.models.reference is not None and [c.label for c in record.models.candidates] == ["v2"]
    assert record.verdict.status == "FAIL" and "faq exact_match vs reference (v1): REGRESSED" in record.verdict.reason


def _cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


def test_report_html_shows_base_reference_and_candidate(tmp_path: Path) -> None:
    record = _record(tmp_path)
    html = render_html(record)
    head = re.search(r"<table class=\"data comparisons\"><thead><tr>(.*?)</tr>", html)
    assert head is not None
    titles = re.findall(r"<th[^>]*>(.*?)</th>", head.group(1))
    assert titles[:3] == ["metric", "vs", "gate"] and titles[6:9] == ["p adj.", "base", "ref."] and titles[9] == "cand."
    rows = {c[1]: c for c in (_cells(r) for r in re.findall(r"<tr id=\"cmp-\d+\"[^>]*>(.*?)</tr>", html))}
    assert rows["reference (v1)"][3] == "REGRESSED" and rows["reference (v1)"][7:10] == ["0.300", "0.900", "0.600"]
    assert rows["base"][3] == "IMPROVED" and rows["base"][7:10] == ["0.300", "0.900", "0.600"]
    paired = re.findall(r"<td class=\"num paired\"[^>]*><b>([0-9.]+)</b></td>", html)
    assert paired == ["0.900", "0.300"]  # the pair each gate is about, in bold
    assert "12 reference (v1)-only right, 0 candidate-only right" in html
    flips = page_data(record)["flips"]
    labels = page_data(record)["labels"]
    assert labels == ["base", "v2", "v1"] and flips[0]["names"] == ["v1", "v2"] and flips[0]["labels"] == [2, 1]


def test_summary_md_and_terminal_name_the_pair(tmp_path: Path) -> None:
    record = _record(tmp_path)
    md = render_markdown(record)
    assert "| | suite | metric | vs | gate | base | ref. | cand. |" in md
    assert "- v2 — ❌ FAIL — vs production (v1): 0 of 1 passed (faq exact_match REGRESSED); vs base: 1 of 1 passed" in md
    assert "v2 vs reference v1 and base fake-base" in md
    lines = format_summary(record)
    assert any("candidate vs reference (v1) and base" in line for line in lines)
    header = next(line for line in lines if line.startswith("suite"))
    assert header.split()[:8] == ["suite", "metric", "gate", "n", "vs", "base", "ref", "cand"]
    assert lines[-1].startswith("verdict: FAIL - 1 check(s) failed; first: faq exact_match vs reference (v1): REGRESSED")


def test_report_compare_keeps_a_gate_against_production_apart_from_the_same_gate_against_the_base(
    tmp_path: Path,
) -> None:
    from tunegate.reports.compare_runs import compare_runs

    record = _record(tmp_path)
    changes = compare_runs(record, record).changes
    assert sorted((ch.metric, ch.status) for ch in changes) == [
        ("exact_match", "same"), ("exact_match vs reference (v1)", "same"),
    ]  # fmt: skip
