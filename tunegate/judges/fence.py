"""Fences that keep judged text as data: an output cannot close its own fence.

Every untrusted text in a judge prompt (the conversation, the reference, each response) is put
between two delimiter lines::

    <<<BEGIN RESPONSE 5F3A09C1D2>>>
    ...the text, escaped...
    <<<END RESPONSE 5F3A09C1D2>>>

The tag is deterministic (a hash of the prompt template version and every text in the prompt),
so prompts and cache keys are reproducible, yet an output cannot know it in advance: the tag
depends on the output itself. Independently of the tag, every angle bracket and angle-bracket
look-alike inside the text (fullwidth, small-form, guillemets, mathematical and CJK angle
brackets, ...) is escaped to ``&lt;`` / ``&gt;``, so no ``<<<`` of any kind, tagged or not,
survives inside a fence: each fence is closed exactly once, by the line we wrote.

What this does not do (see docs/judges.md): it cannot stop a judge model from being persuaded by
the content of the text it reads. It removes the structural attack, not the rhetorical one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

# Characters that read as '<' or '>' to a model or a person, beyond those NFKC maps to ASCII.
_LEFT = frozenset(
    "<\u2039\u00ab\u2329\u3008\u27e8\u276e\u276c\u2770\u27ea\u300a\u02c2\u1438\u22d6\u226a\u2aa1\u29fc"
)
_RIGHT = frozenset(
    ">\u203a\u00bb\u232a\u3009\u27e9\u276f\u276d\u2771\u27eb\u300b\u02c3\u1433\u22d7\u226b\u2aa2\u29fd"
)
# Control characters other than newline and tab can hide text from a reviewer; they are dropped.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

ESCAPED_LT = "&lt;"
ESCAPED_GT = "&gt;"


def _is_left(ch: str) -> bool:
    return ch in _LEFT or (ord(ch) > 127 and "<" in unicodedata.normalize("NFKC", ch))


def _is_right(ch: str) -> bool:
    return ch in _RIGHT or (ord(ch) > 127 and ">" in unicodedata.normalize("NFKC", ch))


def escape(text: str) -> str:
    """``text`` with every angle bracket (and look-alike) escaped and control characters dropped."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    for ch in text:
        if _is_left(ch):
            out.append(ESCAPED_LT)
        elif _is_right(ch):
            out.append(ESCAPED_GT)
        else:
            out.append(ch)
    return "".join(out)


def fence_tag(parts: Iterable[str]) -> str:
    """A 10-character tag from the prompt's texts: same texts, same tag; no randomness."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:10].upper()


def begin_line(label: str, tag: str) -> str:
    return f"<<<BEGIN {label} {tag}>>>"


def end_line(label: str, tag: str) -> str:
    return f"<<<END {label} {tag}>>>"


def fence(label: str, text: str, tag: str) -> str:
    """The escaped ``text`` between its BEGIN and END lines."""
    return f"{begin_line(label, tag)}\n{escape(text)}\n{end_line(label, tag)}"
