"""The one boundary between data and HTML: every element of every page is built here.

Renderers never format data into markup. They call ``h(tag, *children, **attrs)``: children that
are ``Html`` (built by ``h``/``frag`` or a file of tunegate/reports/templates) are kept, anything else goes
through ``esc`` — the only escaping function — and so does every attribute value. Tag and
attribute names are code constants, checked against a pattern. A test walks the renderers' syntax
trees to keep it that way (no f-string, ``%`` or ``+`` builds markup there).

>>> str(h("td", "<b>", class_="num", data_k=3))
'<td class="num" data-k="3">&lt;b&gt;</td>'
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from types import GeneratorType
from typing import Final

from tunegate.reports.format import clean_text

_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*\Z")
VOID: Final = frozenset({"meta", "br", "input", "link", "img", "hr", "col", "source", "wbr"})
RAW_TEXT: Final = frozenset({"style", "script"})


class Html(str):
    """Markup this package built (never data). Concatenating it with ``+`` gives a plain ``str``."""

    __slots__ = ()


Child = object


def esc(value: object) -> Html:
    """The escaping function: cleaned text (controls -> U+FFFD, bidi controls shown as ``<U+202E>``),
    HTML-escaped with quotes, so it is safe as element text and inside a quoted attribute."""
    if value is None:
        return Html("")
    return Html(html.escape(clean_text(value), quote=True))


def _children(children: Iterable[Child]) -> str:
    out: list[str] = []
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, Html):
            out.append(child)
        elif isinstance(child, list | tuple | GeneratorType):
            out.append(_children(child))
        else:
            out.append(esc(child))
    return "".join(out)


def _attr_name(key: str) -> str:
    name = key.rstrip("_").replace("_", "-")
    if not _NAME.match(name) or name.lower().startswith("on"):
        raise ValueError(f"not an allowed attribute name: {key!r}")
    return name


def attrs(mapping: dict[str, object]) -> str:
    parts = []
    for key, value in mapping.items():
        if value is None or value is False:
            continue
        name = _attr_name(key)
        parts.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(parts)


def h(tag: str, *children: Child, **attributes: object) -> Html:
    """``<tag attrs>children</tag>``; children and attribute values escaped unless ``Html``."""
    if not _NAME.match(tag) or tag in RAW_TEXT:
        raise ValueError(f"not an element this builder makes: {tag!r} (use raw_block for style/script)")
    opening = f"<{tag}{attrs(attributes)}>"
    if tag in VOID:
        if children:
            raise ValueError(f"<{tag}> cannot have children")
        return Html(opening)
    return Html(f"{opening}{_children(children)}</{tag}>")


def frag(*children: Child) -> Html:
    """Children side by side (escaped unless ``Html``)."""
    return Html(_children(children))


def join(separator: str, children: Iterable[Child]) -> Html:
    """``children`` escaped and joined by the (escaped) ``separator``."""
    sep = esc(separator)
    return Html(sep.join(_children([c]) for c in children))


def raw_block(tag: str, body: str, **attributes: object) -> Html:
    """A ``<style>`` or ``<script>`` whose body is a file of tunegate/reports/templates or escaped JSON.

    ``body`` must not contain its own closing tag (it never comes from results.json unescaped:
    the JSON block goes through ``items.script_json``, which escapes every ``<``).
    """
    if tag not in RAW_TEXT:
        raise ValueError(f"raw_block makes only {sorted(RAW_TEXT)}, not {tag!r}")
    if f"</{tag}" in body.lower():
        raise ValueError(f"a <{tag}> body contains its own closing tag")
    return Html(f"<{tag}{attrs(attributes)}>{body}</{tag}>")


def document(root: Html) -> str:
    """The page text: doctype and the ``<html>`` element built by ``h``."""
    if not isinstance(root, Html) or not root.startswith("<html"):
        raise ValueError("document() takes the <html> element built by h()")
    return f"<!DOCTYPE html>\n{root}\n"
