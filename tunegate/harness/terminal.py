"""One escaping function for every line tunegate prints to a terminal or a CI log.

Text from data (a suite name, an item id, a server's error message) is printed inside tunegate's
own lines: the progress line, the summary table, a failure paragraph. Printed raw, it can lie:

- a newline starts a line of its own, so ``"x\\n::error title=...::ALL GATES PASSED"`` becomes a
  GitHub Actions workflow command (``::error``, ``::add-mask::``, ``::stop-commands::``), and
  ``"x\\n## ✅ PASS"`` a heading in a log that is pasted into Markdown;
- ANSI/VT escapes (``\\x1b[2J`` clears the screen, ``\\x1b[32m`` paints the next words green), a
  carriage return that overwrites the line, bidi overrides (U+202E) that reverse what is shown.

``terminal_line(text)`` returns one printable line: every control character (C0 but tab, DEL,
C1, Unicode line/paragraph separators, bidi and other format controls) is shown as its escape
(``\\n``, ``\\x1b``, ``\\u202e``), so nothing starts a new line or moves the cursor, and a line
that would still begin with ``::`` gets a backslash in front, so no runner reads it as a command.
It is idempotent on its own output and leaves ordinary text (accents, emoji, CJK) as it is.
A line longer than ``MAX_LINE`` characters (a 50 MB suite name) is clipped, saying how much.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["terminal_line", "terminal_lines"]

MAX_LINE = 20_000
"""Characters of one terminal line (the same limit as a text field in the reports)."""
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b", "\x00": "\\x00"}
# C0 controls but tab, DEL, C1 controls, line/paragraph separators, and the Unicode format
# controls that change how text is shown (bidi embeddings/overrides/isolates, zero-width joiners
# are left alone: they are part of emoji).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_COMMAND = re.compile(r"^(\s*)::")


def _visible(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_line(text: object) -> str:
    """``text`` as one line that cannot move the cursor, recolour, or be read as a CI command."""
    line = str(text)
    if len(line) > MAX_LINE:
        line = f"{line[:MAX_LINE]}... [clipped: {len(line):,} characters]"
    line = _CONTROL.sub(lambda m: _visible(m.group()), line)
    # Anything else Unicode calls a control (Cc) that the class above missed.
    if any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in line):
        line = "".join(_visible(ch) if unicodedata.category(ch) == "Cc" and ch != "\t" else ch for ch in line)
    return _COMMAND.sub(lambda m: f"{m.group(1)}\\::", line)


def terminal_lines(lines: list[str]) -> list[str]:
    """``terminal_line`` of each line."""
    return [terminal_line(line) for line in lines]
