"""One escaping boundary: renderers build elements only through tunegate.reports.markup."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tunegate.reports.markup import Html, document, esc, frag, h, join, raw_block

RENDERERS = ("html.py", "sections.py", "svg.py", "compare_runs.py", "items.py", "leakage.py")
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!]")


def _markup_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """Lines where a string with a tag in it is formatted or concatenated (instead of built by h())."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if _TAG.search(text):
                found.append((node.lineno, f"f-string {text[:60]!r}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and isinstance(side.value, str) and _TAG.search(side.value):
                    found.append((node.lineno, f"concatenation with {side.value[:60]!r}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Html":
            found.append((node.lineno, "Html(...) marks a string as trusted markup outside tunegate/reports/markup.py"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
            target = node.func.value
            if isinstance(target, ast.Constant) and isinstance(target.value, str) and _TAG.search(target.value):
                found.append((node.lineno, f".{node.func.attr}() on {target.value[:60]!r}"))
    return found


@pytest.mark.parametrize("name", RENDERERS)
def test_renderers_never_format_markup(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "tunegate" / "reports" / name
    found = _markup_literals(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"tunegate/reports/{name} builds markup from strings: {found}"


def test_detector_finds_formatted_markup() -> None:
    bad = 'x = f"<td>{v}</td>"\ny = "<b>" + v\nz = "<i>{}</i>".format(v)\nw = Html(v)\n'
    assert len(_markup_literals(ast.parse(bad))) == 4


def test_builder_escapes_children_and_attributes() -> None:
    out = h("td", "<script>x</script>", h("b", "ok"), None, ["a&", ("b",)], class_='n"um', data_k=1, hidden=True)
    assert out == '<td class="n&quot;um" data-k="1" hidden>&lt;script&gt;x&lt;/script&gt;<b>ok</b>a&amp;b</td>'
    assert esc("\u202eevil") == "&lt;U+202E&gt;evil"  # bidi controls are shown, not obeyed
    assert esc("a\x00b") == "a\ufffdb"
    assert join(" · ", ["<x>", h("i", "y")]) == "&lt;x&gt; · <i>y</i>"
    assert frag("<", Html("<br>")) == "&lt;<br>"
    assert h("meta", charset="utf-8") == '<meta charset="utf-8">'


@pytest.mark.parametrize(
    "call",
    [
        lambda: h("script", "x"),
        lambda: h("style"),
        lambda: h("img onerror=x"),
        lambda: h("a", onclick="x"),
        lambda: h("br", "child"),
        lambda: raw_block("div", "x"),
        lambda: raw_block("script", "</script><script>alert(1)"),
        lambda: document(Html("<body>")),
    ],
)
def test_builder_refuses_what_it_does_not_make(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


def test_string_concatenation_drops_the_trust_mark() -> None:
    combined = h("b", "x") + "<i>"
    assert not isinstance(combined, Html)
    assert frag(combined) == "&lt;b&gt;x&lt;/b&gt;&lt;i&gt;"
