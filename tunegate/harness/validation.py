"""Validation helpers shared by every loader: pydantic errors as messages, strict JSON.

``pydantic_problems(exc, where)`` turns a pydantic ``ValidationError`` into one message per
problem, ``where[:line]: dotted.key: what is wrong (got value)``, worded the same everywhere (a
rubric, a provider's options, a trainer config, a gate file)::

    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\\n".join(pydantic_problems(exc, "gates.yaml", known=Spec.model_fields)))

``strict_json(text)`` parses JSON and rejects what ``json.loads`` silently accepts: duplicate
keys (``{"score": 1, "score": 5}``) and the non-standard ``NaN``/``Infinity`` literals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

LineOf = Callable[[tuple[Any, ...]], int | None]
_SCALAR = (str, int, float, bool)


def pydantic_problems(
    exc: ValidationError,
    where: str,
    *,
    line_of: LineOf | None = None,
    known: Iterable[str] | str | None = None,
    unknown: str = "unknown key",
) -> list[str]:
    """One ``where[:line]: loc: message`` string per error in ``exc``.

    ``line_of(loc)``: the line of a location in the source file (None: unknown), appended to
    ``where``; ``known``: the keys allowed, named after an unknown key (a string is used as-is);
    ``unknown``: how an unknown key is called ("unknown option" for options).
    """
    if known is not None and not isinstance(known, str):
        known = ", ".join(known)
    problems = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        line = line_of(loc) if line_of is not None else None
        prefix = f"{where}:{line}" if line is not None else where
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        problems.append(f"{prefix}: {dotted}: {_say(err, known, unknown)}")
    return problems


def _say(err: Any, known: str | None, unknown: str) -> str:
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        return f"{unknown} (allowed: {known})" if known else unknown
    if kind == "missing":
        return "Field required: add this key"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    bad = err.get("input")
    if "input" in err and (bad is None or isinstance(bad, _SCALAR)):
        shown = repr(bad)
        return f"{msg} (got {shown[:200]})"
    return msg


class JSONProblem(ValueError):
    """JSON that ``strict_json`` refuses; the message says where and why."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise JSONProblem(f"duplicate key {key!r} in a JSON object")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise JSONProblem(f"non-standard JSON literal {name}")


def strict_json(text: str | bytes) -> Any:
    """``json.loads`` that rejects duplicate keys and NaN/Infinity; raises JSONProblem (a ValueError)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except JSONProblem:
        raise
    except (ValueError, RecursionError) as exc:
        raise JSONProblem(str(exc.args[0]) if exc.args else type(exc).__name__) from None
