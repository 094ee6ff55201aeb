"""A ``[tool.*]`` table that looks like a misspelt ``[tool.tunegate]``.

A project that writes ``[tool.tunegat]`` or ``[tool.tune-gate]`` means tunegate, but the plugin
reads only ``[tool.tunegate]`` and would otherwise ignore every setting without a word. Names are
compared after lower-casing and dropping ``-``/``_``; up to ``MAX_DISTANCE`` edits (insertions,
deletions, substitutions, or two swapped neighbours) count as a likely misspelling.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

NAME = "tunegate"
MAX_DISTANCE = 2


def distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def lookalikes(path: Path) -> list[str]:
    """Names of ``[tool.X]`` tables in ``path`` that are probably a misspelt ``tool.tunegate``
    (none when the file has ``[tool.tunegate]`` itself or cannot be read)."""
    try:
        tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return []
    if not isinstance(tool, dict) or NAME in tool:
        return []
    return [
        key
        for key in tool
        if distance(key.lower().replace("-", "").replace("_", ""), NAME) <= MAX_DISTANCE
    ]


def warning_text(path: Path, names: list[str]) -> str:
    tables = ", ".join(f"[tool.{n}]" for n in names)
    return f"{path}: {tables} looks like a misspelt [tool.tunegate]; tunegate reads only [tool.tunegate], so its settings are ignored"
