from __future__ import annotations

import re
from typing import Any

import pytest

from reports import render_markdown
from reports.format import delta_ci
from reports.markdown import MAX_ROWS, headline, md_name, md_text
from tests.reports.fixtures import make_results


def test_first_line_names_the_failing_comparison(results: dict[str, Any]) -> None:
    md = render_markdown(results)
    regressed = results["comparisons"][0]
    first = md.splitlines()[0]
    assert first == f"❌ FAIL — support/eval exact_match[category]: REGRESSED, delta {delta_ci(regressed)}"
    assert re.fullmatch(r"❌ FAIL — .+: REGRESSED, delta -0\.\d{3} \[-0\.\d{3}, -0\.\d{3}\]", first)


def test_summary_is_short_and_has_table_slices_and_link(results: dict[str, Any]) -> None:
    md = render_markdown(results, report_href="https://ci.example/run/7")
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
    assert "Full HTML report" not in render_markdown(make_results(60), report_href=None)


@pytest.mark.parametrize(
    ("status", "icon"),
    [("PASS", "✅ PASS — "), ("ADVISORY", "⚠️ ADVISORY — support/eval judge[support_style]")],
)
def test_headline_for_other_statuses(status: str, icon: str) -> None:
    results = make_results(300, status=status)
    assert headline(results).startswith(icon)
    if status == "ADVISORY":
        assert headline(results).endswith("(advisory)")


def test_error_headline_uses_the_reason() -> None:
    results = {
        "schema_version": 1,
        "verdict": {"status": "ERROR", "reason": "CUDA out of memory", "failed": []},
    }
    assert render_markdown(results).splitlines()[0] == "🛑 ERROR — CUDA out of memory"


def test_more_failures_are_counted(results: dict[str, Any]) -> None:
    results["comparisons"][3].update(passed=False, verdict="UNDERPOWERED")
    assert headline(results).endswith("(+1 more failing)")


def test_table_is_capped() -> None:
    results = make_results(60)
    base = results["comparisons"][1]
    results["comparisons"] = [dict(base, metric=f"m{i}") for i in range(MAX_ROWS + 5)]
    md = render_markdown(results)
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
