from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from typing import Any

import pytest

from tests.reports.fixtures import as_record, make_results
from tunegate.harness.errors import DataError
from tunegate.harness.record import GateSpec
from tunegate.reports import render_html
from tunegate.reports.files import SCHEMA_VERSION
from tunegate.reports.items import MAX_TEXT, page_data, script_json
from tunegate.reports.svg import forest_plot, gate_threshold, nice_ticks


def _script(page: str) -> str:
    return page.rsplit("<script>", 1)[1].rsplit("</script>", 1)[0]


def _data(page: str) -> dict[str, Any]:
    block = page.split('<script type="application/json" id="tg-data">', 1)[1].split("</script>", 1)[0]
    return json.loads(block)


def test_page_is_self_contained_and_pinned_by_csp(results: dict[str, Any]) -> None:
    page = render_html(as_record(results))
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert policy is not None
    assert page.index("Content-Security-Policy") < page.index("<style>") < page.index("<body>")
    digest = base64.b64encode(hashlib.sha256(_script(page).encode()).digest()).decode()
    directives = policy.group(1).replace("&#x27;", "'")
    assert "default-src 'none'" in directives and f"script-src 'sha256-{digest}'" in directives
    assert "unsafe-eval" not in directives and "unsafe-inline" not in directives.split("style-src")[0]
    # No resource outside the file: no src attributes, no stylesheet links, no fetch/XHR in the script.
    assert not re.search(r"\ssrc=", page) and "<link" not in page
    for api in (
        "fetch(",
        "XMLHttpRequest",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "eval(",
        "document.write",
    ):
        assert api not in _script(page), api


def test_verdict_comes_first_with_its_reason(results: dict[str, Any]) -> None:
    page = render_html(as_record(results))
    body = page.split("<body>", 1)[1]
    banner = body.index('class="banner FAIL"')
    assert banner < body.index('id="forest"') < body.index('id="comparisons"') < body.index('id="items"')
    assert 'id="verdict-status">FAIL<' in body
    assert "The candidate regressed on support/eval exact_match[category]" in body[banner : banner + 2000]
    assert '<a href="#cmp-0"><b>support/eval · exact_match[category] · improves by &gt; +0.050</b></a>' in body


def test_every_section_is_present(results: dict[str, Any]) -> None:
    page = render_html(as_record(results))
    for anchor in (
        "forest",
        "comparisons",
        "slices",
        "flips",
        "leakage",
        "forgetting",
        "judges",
        "items",
        "provenance",
    ):
        assert f'<section id="{anchor}">' in page
    assert "advisory only" in page  # the uncalibrated judge
    assert "category=refund" in page  # the driving slice
    assert "sha256:" not in page.split('id="provenance"')[1][:200]


def test_driving_slice_listed_first(results: dict[str, Any]) -> None:
    cmp = results["comparisons"][0]
    cmp["slices"].reverse()  # the writer's order must not matter
    page = render_html(as_record(results))
    table = page.split("driving slice", 1)[1]
    assert table.index("category=refund") < table.index("category=account")


def test_comparison_table_and_forest_plot_share_failing_first_order(results: dict[str, Any]) -> None:
    results["comparisons"].append(results["comparisons"].pop(0))  # regression now last in the file
    page = render_html(as_record(results))
    table = page.split('id="comparisons"', 1)[1]
    assert table.index("exact_match[category]") < table.index("json_valid")
    comparisons = as_record(results).comparisons
    svg = forest_plot([(0, comparisons[-1]), (1, comparisons[0])])
    assert svg.index("exact_match[category]") < svg.index("json_valid")


def test_forest_plot_draws_ci_and_gate_thresholds(results: dict[str, Any]) -> None:
    comparisons = as_record(results).comparisons
    svg = forest_plot(list(enumerate(comparisons)))
    metrics = {c.metric for c in comparisons}
    assert svg.count("<svg") == svg.count("</svg>") == len(metrics)  # one panel (own axis) per metric
    assert svg.count("<circle") == len(comparisons)
    assert svg.count('stroke-dasharray="3 2"') == sum(gate_threshold(c) is not None for c in comparisons)
    assert "-0." in svg and "REGRESSED" in svg
    assert 'fill="#ffffff"' in svg  # the advisory judge comparison is drawn hollow


def test_gate_thresholds(results: dict[str, Any]) -> None:
    base = as_record(results).comparisons[0]
    gates = [
        GateSpec(type="improves", min_delta=0.05, alpha=0.05),
        GateSpec(type="no_regression", margin=0.1, alpha=0.05),
        GateSpec(type="none", alpha=0.05),
    ]
    assert [gate_threshold(base.model_copy(update={"gate": g})) for g in gates] == [0.05, -0.1, None]


@pytest.mark.parametrize(("lo", "hi"), [(-0.23, 0.71), (0.0, 1.0), (-3.2, 0.4), (1e-4, 3e-4)])
def test_nice_ticks_cover_the_range(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert 3 <= len(ticks) <= 12
    assert ticks[0] >= lo - 1e-12 and ticks[-1] <= hi + 1e-12
    steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1


def test_non_finite_numbers_and_broken_strings_do_not_break_the_page(results: dict[str, Any]) -> None:
    cmp = results["comparisons"][1]
    cmp.update(delta=float("nan"), ci_low=float("-inf"), p_value=None)
    item = results["items"]["support/eval"][0]
    item["scores"]["json_valid"]["candidate"] = float("nan")
    item["outputs"]["candidate"] = "bad \udc80 surrogate \x00"
    page = render_html(as_record(results))
    page.encode("utf-8")
    data = _data(page)
    first = data["suites"][0]["items"][0]
    assert first["o"][1] == "bad \ufffd surrogate \ufffd"
    metric = data["suites"][0]["metrics"].index("json_valid")
    assert first["s"][metric][1] is None


def test_long_outputs_are_clipped(results: dict[str, Any]) -> None:
    results["items"]["support/eval"][0]["outputs"]["candidate"] = "x" * (MAX_TEXT + 500)
    data = page_data(as_record(results))
    out = data["suites"][0]["items"][0]["o"][1]
    assert out.startswith("x" * MAX_TEXT) and out.endswith("[500 more characters not shown]")


def test_prompt_messages_are_interned(results: dict[str, Any]) -> None:
    data = page_data(as_record(results))
    items = data["suites"][0]["items"]
    system = [it["p"][0] for it in items]
    assert len(set(system)) == 1, "the shared system prompt is stored once"
    assert data["messages"][system[0]][0] == "system"


def test_script_json_escapes_markup_and_line_separators() -> None:
    text = script_json({"a": "</script><!--&\u2028\u2029"})
    assert text == '{"a":"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029"}'
    assert json.loads(text) == {"a": "</script><!--&\u2028\u2029"}
    with pytest.raises(ValueError):
        script_json({"x": float("nan")})


def test_several_candidates_are_labelled() -> None:
    results = make_results(60)
    second = copy.deepcopy(results["models"]["candidates"][0])
    second["label"] = "candidate-v2"
    results["models"]["candidates"].append(second)
    extra = copy.deepcopy(results["comparisons"][0])
    extra.update(candidate="candidate-v2", id="support/eval::exact_match[category]::candidate-v2")
    results["comparisons"].append(extra)
    page = render_html(as_record(results))
    assert "support/eval · exact_match[category] · candidate-v2" in page
    assert _data(page)["labels"] == ["base", "candidate", "candidate-v2"]


def test_error_run_without_comparisons_renders() -> None:
    results = make_results(40)
    results.update(comparisons=[], verdict={"status": "ERROR", "reason": "The base model could not be loaded."})
    page = render_html(as_record(results))
    assert 'class="banner ERROR"' in page and "The base model could not be loaded." in page
    assert "No comparisons in this run." in page


def test_rendering_is_deterministic(results: dict[str, Any]) -> None:
    assert render_html(as_record(results)) == render_html(as_record(copy.deepcopy(results)))


def test_refuses_a_newer_schema(results: dict[str, Any]) -> None:
    newer = SCHEMA_VERSION + 1
    results["schema_version"] = newer
    with pytest.raises(DataError, match=f"schema_version {newer} is newer"):
        render_html(as_record(results))


def test_missing_fields_render_or_are_named_where_read() -> None:
    """A field the record defaults may be absent (the page still renders); one it requires is
    refused where results.json is read, with a message naming it: never a traceback."""
    full = make_results(40)
    for key in [k for k in full if k != "schema_version"]:
        partial = copy.deepcopy(full)
        del partial[key]
        _renders_or_names(partial, key)
    for key in full["comparisons"][0]:
        partial = copy.deepcopy(full)
        for c in partial["comparisons"]:
            c[key] = None
        _renders_or_names(partial, f"comparisons.0.{key}")


def _renders_or_names(data: dict[str, Any], field: str) -> None:
    from tunegate.reports import render_markdown

    try:
        record = as_record(data)
    except DataError as exc:
        assert any(p.startswith(field) for p in exc.problems), (field, exc.problems)
        return
    assert "</html>" in render_html(record), field
    assert render_markdown(record), field
