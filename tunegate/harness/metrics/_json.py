"""Finding the JSON object in a model output, and reading fields from it.

The tolerant rule, shared by ``json_valid``, ``json_schema_valid``, ``json_field_match`` and
``exact_match(field=...)``:

1. the whole output (surrounding whitespace ignored) parses as a JSON object; otherwise
2. the first *balanced* ``{...}`` span that parses as a JSON object is taken. Spans are found by
   counting braces outside JSON strings, so a Markdown fence (```` ```json ````) and prose
   before or after the object are tolerated, and a ``{placeholder}`` in the prose is skipped.
   An object that never closes (an output cut off at the token limit) is *not* valid, and
   nothing nested inside it is taken in its place; so is prose with an unmatched ``{`` before
   the object.

The strict rule is (1) alone: ``json.loads(output)`` must return an object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

_MISSING = object()


def _balanced_spans(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each top-level ``{...}`` span, ignoring braces inside strings."""
    depth, start, in_string, escaped = 0, -1, False, False
    for i, ch in enumerate(text):
        if depth == 0:
            if ch == "{":
                depth, start = 1, i
            continue
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                yield start, i + 1


def _loads_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def extract_json_object(text: str, *, strict: bool = False) -> dict[str, Any] | None:
    """The JSON object in a model output, or None (see the module doc for the rule).

    >>> extract_json_object('Sure! ```json\\n{"category": "refund"}\\n``` Hope it helps.')
    {'category': 'refund'}
    """
    found = _loads_object(text)
    if found is not None or strict:
        return found
    for start, end in _balanced_spans(text):
        found = _loads_object(text[start:end])
        if found is not None:
            return found
    return None


def get_field(obj: Any, field: str) -> Any:
    """``obj[field]``; a dotted path ``"a.b"`` reaches nested objects when no literal key matches.

    Returns the module's ``_MISSING`` sentinel (test with :func:`is_missing`) when absent.
    """
    if not isinstance(obj, dict):
        return _MISSING
    if field in obj:
        return obj[field]
    if "." not in field:
        return _MISSING
    current: Any = obj
    for part in field.split("."):
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def is_missing(value: Any) -> bool:
    return value is _MISSING


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: 1 == 1.0, but true != 1 and "1" != 1; key order is ignored."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
