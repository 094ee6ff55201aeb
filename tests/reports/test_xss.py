"""Model output is untrusted: planted payloads must render as text and never execute.

The page is loaded in a real headless Chromium twice: as shipped (with its CSP) and with the CSP
meta removed, so the escaping is tested on its own and not only hidden behind the policy. Every
payload that could run sets ``document.title`` to MARKER; a canary page proves the check detects
execution at all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.reports.browser import Dom, parse_dom, run_chromium
from tests.reports.fixtures import as_record, make_results
from tunegate.reports import load_results, render_html, render_markdown

MARKER = "PWNED-BY-PAYLOAD"
PAYLOADS = [
    f"<script>document.title='{MARKER}'</script>",
    f"<img src=x onerror=\"document.title='{MARKER}'\">",
    f"javascript:document.title='{MARKER}'",
    f"[click](javascript:document.title='{MARKER}')",
    f"</script><script>document.title='{MARKER}'</script>",
    f'"><svg onload="document.title=\'{MARKER}\'">',
    f"'><iframe srcdoc=\"<script>parent.document.title='{MARKER}'</script>\"></iframe>",
    f"<!--<script>document.title='{MARKER}'</script>",
    f"<a href=\"javascript:document.title='{MARKER}'\">x</a>",
    "&lt;b&gt;already-escaped&lt;/b&gt;",
    "\udc80lone-surrogate\ud800",
    "\u202eRTL-override\u202c",
    "NUL\x00byte\x07bell",
    "line\u2028separator\u2029paragraph",
]
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "nav", "span", "a", "main", "div", "section",
    "h2", "h3", "h4", "p", "ul", "li", "b", "code", "table", "thead", "tbody", "tr", "th", "td",
    "details", "summary", "svg", "rect", "text", "line", "circle", "g", "script", "footer", "select",
    "option", "input", "label", "button", "del", "ins", "noscript", "br", "figure", "figcaption",
}  # fmt: skip


def hostile_results(tmp_path: Path) -> dict[str, Any]:
    """A fixture with payloads everywhere, round-tripped through a real results.json file."""
    path = tmp_path / "results.json"
    path.write_text(
        json.dumps(make_results(60, payloads=PAYLOADS)), encoding="utf-8"
    )  # "\udc80" stays escaped
    return load_results(path)


def assert_inert(dom: Dom, panels: int = 4) -> None:
    """``panels``: forest-plot panels (one per metric; the fixture has 4 metrics)."""
    assert dom.title != MARKER and dom.title.startswith("tunegate "), dom.title[:200]
    assert dom.count("script") == 2, "only the data block and the page's own script"
    assert dom.count("iframe") == dom.count("img") == dom.count("object") == dom.count("embed") == 0
    assert dom.count("svg") == dom.count("svg", "forest") == panels
    for tag, attrs in dom.tags:
        assert tag in ALLOWED_TAGS, f"unexpected element <{tag}>"
        handlers = [a for a in attrs if a.startswith("on")]
        assert not handlers, f"<{tag}> has event handler attributes {handlers}"
        href = attrs.get("href")
        assert href is None or href.startswith("#"), f"<{tag} href={href!r}>"
        assert "src" not in attrs and "srcdoc" not in attrs


def assert_rendered(dom: Dom) -> None:
    assert dom.root_attrs.get("data-rendered") == "1", dom.root_attrs
    assert "data-render-error" not in dom.root_attrs
    assert dom.by_id.get("verdict-status") == "FAIL"
    assert dom.count("tr", "item-row") == 50
    assert dom.count("tr", "flip-row") > 0


@pytest.mark.parametrize("with_csp", [True, False], ids=["csp", "escaping-only"])
def test_payloads_render_as_text_and_never_execute(chromium: str, tmp_path: Path, with_csp: bool) -> None:
    page = render_html(as_record(hostile_results(tmp_path)))
    if not with_csp:
        page, n = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
        assert n == 1
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")

    out, _ = run_chromium(path.as_uri())
    dom = parse_dom(out)

    assert_inert(dom)
    assert_rendered(dom)
    text = dom.all_text
    for payload in PAYLOADS[:9]:
        assert payload in text, f"payload not shown as text: {payload!r}"
    assert "&lt;b&gt;already-escaped" in text  # shown literally, not decoded a second time
    assert "\ufffdlone-surrogate\ufffd" in text
    assert "NUL\ufffdbyte\ufffdbell" in text
    assert "<U+202E>RTL-override" in text  # ids and names show direction overrides visibly


@pytest.mark.slow
def test_detector_catches_an_unescaped_page(chromium: str, tmp_path: Path) -> None:
    """Canary: the same checks fail on a page that inserts a payload unescaped."""
    path = tmp_path / "vulnerable.html"
    path.write_text(
        f"<!DOCTYPE html><html><head><title>tunegate x</title></head><body>{PAYLOADS[1]}</body></html>"
    )
    dom = parse_dom(run_chromium(path.as_uri())[0])
    assert dom.title == MARKER
    with pytest.raises(AssertionError):
        assert_inert(dom)


def test_json_block_cannot_be_closed_by_an_output(tmp_path: Path) -> None:
    page = render_html(as_record(hostile_results(tmp_path)))
    head, _, rest = page.partition('<script type="application/json" id="tg-data">')
    block, _, tail = rest.partition("</script>")
    assert "<" not in block and ">" not in block and "&" not in block
    assert "\u2028" not in block and "\u2029" not in block
    assert tail.startswith("<script>") and tail.count("<script") == 1
    assert "</script>" not in head.split("<body>", 1)[1]
    data = json.loads(block)
    outputs = [o for s in data["suites"] for it in s["items"] for o in it["o"]]
    assert any("</script><script>" in o for o in outputs)


def test_server_rendered_html_escapes_every_field(tmp_path: Path) -> None:
    """The same structural checks on the page as written (no browser needed)."""
    page = render_html(as_record(hostile_results(tmp_path)))
    assert_inert(parse_dom(page))
    assert "\x00" not in page and "\ud800" not in page and "\udc80" not in page
    page.encode("utf-8")  # a lone surrogate would raise here


def test_markdown_summary_neutralises_payloads(tmp_path: Path) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    md = render_markdown(as_record(hostile_results(tmp_path)))
    rendered = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    for needle in ("<script", "<img", "<svg", "<iframe", 'href="javascript', "onerror="):
        # The only places hostile text may appear are code spans, where it is inert text.
        outside_code = re.sub(r"<code>.*?</code>", "", rendered, flags=re.DOTALL)
        assert needle not in outside_code, needle
    assert md.splitlines()[0].startswith("❌ FAIL — ")
    assert "\x00" not in md and "\ud800" not in md
