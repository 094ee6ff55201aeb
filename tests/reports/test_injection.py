"""Report injection: a record built by build_results with HTML/JS in every string field.

The page is opened in headless Chromium; its DOM must hold exactly the elements the same record
makes without payloads (tag for tag), nothing from data may add meta/style/base/form/iframe/script,
and the verdict banner must say the verdict build_results computed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.reports.browser import Dom, parse_dom, run_chromium
from tests.reports.built import built_results
from tests.reports.fixtures import as_record
from tunegate.harness.record import RunRecord
from tunegate.reports import render_html, render_markdown
from tunegate.reports.format import status_text

MARKER = "PWNED-BY-PAYLOAD"
PAYLOAD = (
    "<meta http-equiv=refresh content=0;url=http://127.0.0.1:9/>"
    "<style>.banner{background:#1a7f37 !important}</style>"
    f"<script>document.title='{MARKER}'</script>"
    f"<img src=x onerror=\"document.title='{MARKER}'\">"
    "<base href=http://127.0.0.1:9/><form action=http://127.0.0.1:9/><iframe src=http://127.0.0.1:9/></iframe>"
    f"\"'><svg onload=\"document.title='{MARKER}'\">"
    "\u202eevil\u202c"
)
TEMPLATE_ONLY = {"meta": 4, "style": 1, "script": 2, "base": 0, "form": 0, "iframe": 0, "img": 0, "object": 0, "embed": 0}


def _open(page: str, tmp_path: Path, name: str) -> Dom:
    path = tmp_path / name
    path.write_text(page, encoding="utf-8")
    out, _ = run_chromium(path.as_uri())
    return parse_dom(out)


def _tags(dom: Dom) -> Counter[str]:
    return Counter(tag for tag, _ in dom.tags)


def _assert_template_only(dom: Dom, results: RunRecord) -> None:
    counts = _tags(dom)
    for tag, n in TEMPLATE_ONLY.items():
        assert counts[tag] == n, f"<{tag}> x{counts[tag]}, the template makes {n}"
    for tag, attrs in dom.tags:
        assert not [a for a in attrs if a.startswith("on")], f"<{tag}> has an event handler"
        href = attrs.get("href")
        assert href is None or href.startswith("#"), f"<{tag} href={href!r}>"
    assert dom.title != MARKER and dom.title.startswith("tunegate ")
    assert dom.by_id.get("verdict-status") == status_text(results.verdict.status)
    assert dom.root_attrs.get("data-rendered") == "1" and "data-render-error" not in dom.root_attrs


@pytest.mark.parametrize("with_csp", [True, False], ids=["csp", "escaping-only"])
def test_payload_in_every_string_field(chromium: str, tmp_path: Path, with_csp: bool) -> None:
    clean = built_results("")
    hostile = built_results(PAYLOAD)
    assert hostile.verdict.status == clean.verdict.status == "FAIL"
    pages = [render_html(as_record(clean)), render_html(as_record(hostile))]
    if not with_csp:
        pages = [re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", p, count=1) for p in pages]
    dom_clean, dom_hostile = (_open(p, tmp_path, f"r{k}.html") for k, p in enumerate(pages))

    assert _tags(dom_hostile) == _tags(dom_clean), "data added or removed elements"
    expected = dict(TEMPLATE_ONLY, meta=TEMPLATE_ONLY["meta"] - (0 if with_csp else 1))
    for dom in (dom_clean, dom_hostile):
        counts = _tags(dom)
        assert {t: counts[t] for t in expected} == expected
    _assert_template_only(dom_hostile, hostile) if with_csp else None
    assert dom_hostile.by_id["verdict-status"] == "FAIL"
    text = dom_hostile.all_text
    assert "<style>.banner{background:#1a7f37 !important}</style>" in text  # shown, not applied
    assert "<meta http-equiv=refresh" in text
    assert "\u202e" not in text and "<U+202E>evil" in text
    # every kind of field reached the page: server-rendered, or in the item browser's data block
    for needle in ("support/eval", "accuracy", "task", "artifacts/task", "train file moved", "category", "judge-model",
                   "13-gram", "tiny-base"):
        assert needle + PAYLOAD[:40] in text, needle
    block = re.search(r'<script type="application/json" id="tg-data">(.*?)</script>', pages[1], re.S)
    assert block is not None
    data = json.loads(block.group(1))
    support = next(s for s in data["suites"] if s["name"].startswith("support/eval"))
    item = support["items"][0]
    assert item["r"] == "reference 0" + PAYLOAD.replace("\u202e", "<U+202E>").replace("\u202c", "<U+202C>")
    assert any(PAYLOAD[:40] in t for row in item["j"] for t in row), "judge rationale reachable from the item"


def test_verdict_per_candidate_and_tests_shown(chromium: str, tmp_path: Path) -> None:
    results = built_results("")
    dom = _open(render_html(as_record(results)), tmp_path, "r.html")
    _assert_template_only(dom, results)
    assert results.verdict.candidates["task"].status == "FAIL"
    assert results.verdict.candidates["replay"].status == "PASS"
    assert "PASS" in dom.by_id["cand-replay"] and "FAIL" in dom.by_id["cand-task"]
    assert "train file moved" in dom.by_id["verdict"]  # the errored leakage test is in "Why"
    assert "coverage" in dom.by_id  # the coverage table: unscored items on each side, and why
    assert "INCOMPLETE" in dom.by_id["comparisons"] and "judge API failed" in dom.by_id["comparisons"]
    md = render_markdown(as_record(results))
    assert "- replay — ✅ PASS" in md and "- task — ❌ FAIL" in md
    assert "Failed tests (not comparisons): 1 of 2" in md and "train file moved" in md
    assert "**Coverage (items not scored)**" in md and "judge API failed" in md


@pytest.mark.parametrize(
    "suite",
    ["<meta http-equiv=refresh content=0;url=http://x>", "<style>", "<style>.banner{background:green}</style>"],
)
def test_suite_named_like_markup_renders_as_text(chromium: str, tmp_path: Path, suite: str) -> None:
    results = built_results("", suite=suite)
    dom = _open(render_html(as_record(results)), tmp_path, "r.html")
    _assert_template_only(dom, results)
    assert suite in dom.all_text
    assert suite in dom.by_id["comparisons"]


def test_no_effect_adapter_is_said_first(tmp_path: Path) -> None:
    results = built_results("", no_effect=True)
    page = render_html(as_record(results))
    verdict = page.split('<section id="verdict">', 1)[1]
    assert verdict.index("ADAPTER HAS NO EFFECT") < verdict.index('class="banner')
    assert render_markdown(as_record(results)).startswith("🛑 ADAPTER HAS NO EFFECT: candidate task")
