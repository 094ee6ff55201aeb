from __future__ import annotations

import re
from typing import Any

import pytest

from tests.reports.fixtures import as_record, make_results
from tunegate.reports import render_html, render_markdown
from tunegate.reports.format import delta_ci
from tunegate.reports.markdown import MAX_ROWS, headline, md_name, md_text


def test_first_line_names_the_failing_comparison(results: dict[str, Any]) -> None:
    md = render_markdown(as_record(results))
    regressed = as_record(results).comparisons[0]
    first = md.splitlines()[0]
    assert first == f"❌ FAIL — support/eval exact_match[category]: REGRESSED, delta {delta_ci(regressed)}"
    assert re.fullmatch(r"❌ FAIL — .+: REGRESSED, delta -0\.\d{3} \[-0\.\d{3}, -0\.\d{3}\]", first)


def test_summary_is_short_and_has_table_slices_and_link(results: dict[str, Any]) -> None:
    md = render_markdown(as_record(results), report_href="https://ci.example/run/7")
    assert "| ❌ | support/eval | exact_match[category] |" in md
    assert "category=refund" in md.split("**Worst slices", 1)[1]
    assert md.rstrip().endswith(
        "[Full HTML report](https://ci.example/run/7) — forest plot, slices, flips, every item."
    )
    assert len(md.splitlines()) < 40 and len(md) < 5000
    lines = md.splitlines()
    assert lines.index("**Worst slices of the failing comparisons**") > lines.index(
        next(x for x in lines if x.startswith("|"))
    )


def test_no_link_when_asked() -> None:
    assert "Full HTML report" not in render_markdown(as_record(make_results(60)), report_href=None)


@pytest.mark.parametrize(
    ("status", "icon"),
    [("PASS", "✅ PASS — "), ("ADVISORY", "⚠️ ADVISORY — support/eval judge[support_style]")],
)
def test_headline_for_other_statuses(status: str, icon: str) -> None:
    results = make_results(300, status=status)
    assert headline(as_record(results)).startswith(icon)
    if status == "ADVISORY":
        assert headline(as_record(results)).endswith("(advisory)")


def test_error_headline_uses_the_reason() -> None:
    results = make_results(40)
    results.update(comparisons=[], verdict={"status": "ERROR", "reason": "CUDA out of memory", "failed": []})
    assert render_markdown(as_record(results)).splitlines()[0] == "🛑 ERROR — CUDA out of memory"


def test_more_failures_are_counted(results: dict[str, Any]) -> None:
    results["comparisons"][3].update(passed=False, verdict="UNDERPOWERED")
    assert headline(as_record(results)).endswith("(+1 more failing)")


def test_table_is_capped() -> None:
    results = make_results(60)
    base = results["comparisons"][1]
    results["comparisons"] = [dict(base, metric=f"m{i}") for i in range(MAX_ROWS + 5)]
    md = render_markdown(as_record(results))
    assert sum(line.startswith("| ") for line in md.splitlines()) == MAX_ROWS + 1
    assert "5 more comparisons in the HTML report" in md


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("support/eval", "support/eval"),
        ("exact_match[category]", "exact_match[category]"),
        ("a|b", "`a|b`"),
        ("a|b", "`a\\|b`"),
        ("@everyone", "`@everyone`"),
        ("x`y", "``x`y``"),
        ("<img src=x>", "`<img src=x>`"),
        ("\u202eevil", "`<U+202E>evil`"),
    ],
)
def test_md_name(name: str, expected: str) -> None:
    in_table = expected == "`a\\|b`"
    assert md_name(name, in_table=in_table) == expected


def test_md_text_neutralises_markup() -> None:
    markdown_it = pytest.importorskip("markdown_it")
    text = md_text("# [x](javascript:alert(1)) <b>hi</b> @team *bold* ![i](x) see https://e.com\nnext")
    assert "\n" not in text and "@team" not in text  # no mention: a zero-width space follows the @
    html = markdown_it.MarkdownIt("commonmark", {"html": True}).render(text)
    assert html.startswith("<p>") and html.count("<") == 2, html  # one plain paragraph, nothing else
    assert md_text("exact_match[category] (0.70 -> 0.65)") == "exact_match[category] (0.70 -> 0.65)"


def test_no_binding_gates_is_never_a_pass(results: dict[str, Any]) -> None:
    results["verdict"] = {
        "status": "NO_BINDING_GATES",
        "reason": "all 1 gate(s) are advisory: there is no binding evidence to pass on.",
        "failed": [],
    }
    for c in results["comparisons"]:
        c.update(passed=True, binding=False)
    md = render_markdown(as_record(results))
    first = md.splitlines()[0]
    assert first.startswith("⚠️ NO BINDING GATES — ") and "PASS" not in first
    assert "Not a pass" in md
    page = render_html(as_record(results))
    assert 'id="verdict-status">NO BINDING GATES<' in page and 'class="banner NO_BINDING_GATES"' in page


def test_p_value_never_printed_as_zero(results: dict[str, Any]) -> None:
    c = results["comparisons"][0]
    c.update(p_value=0.0, p_adjusted=0.0, p_claim="drop: H0 delta >= 0")
    md = render_markdown(as_record(results))
    row = next(line for line in md.splitlines() if "exact_match[category]" in line and line.startswith("|"))
    assert "< 1e-16 (drop: H0 delta >= 0)" in md_unescape(row)
    assert "0.0e+00" not in md and "0.0e+00" not in render_html(as_record(results))


def test_incomplete_coverage_is_said_with_counts_and_reasons(results: dict[str, Any]) -> None:
    c = results["comparisons"][1]
    c.update(
        verdict="INCOMPLETE",
        passed=False,
        coverage={"n_items": 60, "n_scored": 6, "n_used": 6, "share": 0.1, "ok": False, "unscored_base": 0,
                  "unscored_candidate": 0, "infra": 54,
                  "floor": 0.95, "reasons": ["s-00001: judge API failed (HTTP 503)"]},
    )
    md = render_markdown(as_record(results))
    section = md.split("**Coverage (items not scored)**", 1)[1]
    assert "6 of 60 items scored (10.0%)" in section and "infrastructure 54" in section
    assert "judge API failed (HTTP 503)" in section
    assert "| 6/60 |" in md
    page = render_html(as_record(results))
    assert "Coverage: items that could not be scored" in page and "judge API failed (HTTP 503)" in page


def md_unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@pytest.mark.parametrize("kind", ["leakage", "drift", "custom", "gate"])
@pytest.mark.parametrize("gate_failure", [False, True])
def test_other_tests_all_passed_is_never_said_next_to_a_failed_test(kind: str, gate_failure: bool) -> None:
    results = make_results(60)
    test = {"nodeid": f"suites/test_x.py::test_{kind}", "outcome": "failed", "message": "broke",
            "candidate": None, "gate_failure": gate_failure, "kind": kind}
    gate = {"nodeid": "suites/test_x.py::test_gate", "outcome": "passed", "message": "", "candidate": None,
            "gate_failure": False, "kind": "gate"}
    results["tests"] = [test, gate]
    record = as_record(results)
    md = render_markdown(record)
    shown = not (gate_failure and kind == "gate")  # a gate's own failure is its comparison's row
    assert not re.search(r"all \d+ passed", md)
    tests_html = render_html(record).split('<section id="tests">', 1)[1].split("</section>", 1)[0]
    assert not re.search(r"All \d+ passed", tests_html)
    assert (f"test_{kind}" in md) == shown
    if kind != "gate":
        assert "**Failed tests (not comparisons): 1 of 1**" in md  # gates are not "other tests"


def test_other_tests_count_leaves_gates_out() -> None:
    results = make_results(60)
    results["tests"] = [
        {"nodeid": f"t::{k}", "outcome": "passed", "message": "", "candidate": None, "gate_failure": False, "kind": k}
        for k in ("gate", "gate", "leakage")
    ]
    assert "Other tests (leakage, drift, custom): all 1 passed or skipped." in render_markdown(as_record(results))


def test_every_verdict_state_has_its_presentation() -> None:
    # A new state is added to the record's RunStatus (harness/record_sections.py), its order and meaning in
    # compare/decision.py (SEVERITY, BLOCKING), and the presentation maps (reports/format.py) only.
    from tunegate.harness.compare.decision import BLOCKING, RUN_STATUSES, SEVERITY
    from tunegate.reports.format import STATUS_COLOURS, STATUS_ICONS

    assert set(RUN_STATUSES) == set(STATUS_ICONS) == set(STATUS_COLOURS) == set(SEVERITY)
    assert set(RUN_STATUSES) > BLOCKING
