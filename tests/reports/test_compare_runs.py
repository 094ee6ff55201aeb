from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.reports.built import built_results
from tests.reports.fixtures import as_record, make_results
from tunegate.reports import compare_runs, render_compare_html, render_compare_markdown
from tunegate.reports.format import signed


@pytest.fixture
def old_new() -> tuple[dict[str, Any], dict[str, Any]]:
    old = make_results(300, status="FAIL")
    new = make_results(300, status="PASS")
    new["models"]["candidates"][0]["fingerprint"] = "sha256:" + "77" * 32
    new["models"]["candidates"][0]["spec"]["adapter"] = "artifacts/support-demo-v2"
    return old, new


def test_changes_per_comparison(old_new: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = old_new
    result = compare_runs(as_record(old), as_record(new))
    assert (result.old_status, result.new_status) == ("FAIL", "PASS")
    assert result.warnings == ()
    assert result.old_name == "artifacts/support-demo" and result.new_name == "artifacts/support-demo-v2"
    exact = next(ch for ch in result.changes if ch.metric == "exact_match[category]")
    assert exact.status == "better"
    assert exact.delta_change == pytest.approx(
        new["comparisons"][0]["delta"] - old["comparisons"][0]["delta"]
    )
    assert result.changes[0] is exact, "verdict changes come before unchanged rows"


def test_markdown_lists_old_and_new(old_new: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = old_new
    result = compare_runs(as_record(old), as_record(new))
    md = render_compare_markdown(result)
    assert md.splitlines()[0] == "❌ FAIL → ✅ PASS — artifacts/support-demo → artifacts/support-demo-v2"
    exact = next(ch for ch in result.changes if ch.metric == "exact_match[category]")
    row = next(line for line in md.splitlines() if "exact_match[category]" in line)
    assert signed(exact.delta_change) in row and "REGRESSED → IMPROVED ⬆ better" in row


def test_worse_verdicts_come_first(old_new: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = old_new
    result = compare_runs(as_record(new), as_record(old))
    assert result.changes[0].status == "worse"
    assert "⬇ worse" in render_compare_markdown(result)


def test_warns_when_the_base_differs(old_new: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = old_new
    new["models"]["base"]["fingerprint"] = "sha256:" + "12" * 32
    new["suites"][0]["version"] = "ef" * 32
    result = compare_runs(as_record(old), as_record(new))
    assert any("base model fingerprints differ" in w for w in result.warnings)
    assert any("suite support/eval changed" in w for w in result.warnings)
    assert "⚠️ base model fingerprints differ" in render_compare_markdown(result)


def test_same_adapter_is_noted() -> None:
    run = make_results(60)
    result = compare_runs(as_record(run), as_record(copy.deepcopy(run)))
    assert result.warnings == ("old and new share a candidate fingerprint: the adapter did not change",)
    assert {ch.status for ch in result.changes} == {"same"}


def test_added_removed_and_relabelled(old_new: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = old_new
    for c in new["comparisons"]:  # a new label must not break matching of single-adapter runs
        c["candidate"] = "v2"
    new["comparisons"].pop()  # general/arc-easy dropped
    extra = copy.deepcopy(new["comparisons"][0])
    extra["metric"] = "rougeL"
    new["comparisons"].append(extra)
    statuses = {ch.metric: ch.status for ch in compare_runs(as_record(old), as_record(new)).changes}
    assert statuses["accuracy"] == "removed" and statuses["rougeL"] == "added"
    assert statuses["exact_match[category]"] == "better"


def test_html_section_is_escaped(old_new: tuple[dict[str, Any], dict[str, Any]]) -> None:
    old, new = old_new
    for run in (old, new):
        run["comparisons"][0]["metric"] = "<script>alert(1)</script>"
    page = render_compare_html(compare_runs(as_record(old), as_record(new)))
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "default-src &#x27;none&#x27;" in page and "script-src" not in page


def test_candidates_match_by_fingerprint_across_one_and_two_candidate_runs() -> None:
    """The same adapter, labelled differently and gated beside another candidate, lines up by content."""
    old = built_results(labels=("candidate",), adapters=("artifacts/replay",))
    new = built_results()  # task + replay
    result = compare_runs(as_record(old), as_record(new))
    replay_rows = [ch for ch in result.changes if ch.candidate == "replay"]
    assert replay_rows and all(ch.status not in ("added", "removed") for ch in replay_rows)
    assert {ch.status for ch in result.changes if ch.candidate == "task"} == {"added"}
    assert not any("did not change" in w for w in result.warnings)
    assert any(
        'new candidate "replay" is the same adapter as old candidate "candidate"' in n for n in result.notes
    )
    md = render_compare_markdown(result)
    assert "same adapter" in md and "did not change" not in md


def test_two_gates_on_one_metric_are_told_apart() -> None:
    run = make_results(60)
    twin = copy.deepcopy(run["comparisons"][0])
    twin["gate"] = {"type": "no_regression", "margin": 0.02, "alpha": 0.05}
    run["comparisons"].append(twin)
    result = compare_runs(as_record(run), as_record(copy.deepcopy(run)))
    rows = [ch for ch in result.changes if ch.metric == "exact_match[category]"]
    assert len(rows) == 2 and {ch.status for ch in rows} == {"same"}
    md = render_compare_markdown(result)
    assert "improves by > +0.050" in md and "no regression beyond 0.020" in md
