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
``strict_yaml(text)`` is ``yaml.safe_load`` that rejects a key given twice in one mapping (PyYAML
keeps the last one silently: ``epochs: 1`` then ``epochs: 3`` trains 3 epochs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import yaml
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


class _StrictYAMLLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose mappings refuse a key given twice."""


def _yaml_map_once(loader: _StrictYAMLLoader, node: yaml.MappingNode) -> Any:
    first: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            if key in first:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice (first on line {first[key]}); keep one of them",
                    key_node.start_mark,
                )
            first[key] = key_node.start_mark.line + 1
        except TypeError:  # an unhashable key: the mapping constructor names it
            continue
    return (yield from yaml.SafeLoader.construct_yaml_map(loader, node))


_StrictYAMLLoader.add_constructor("tag:yaml.org,2002:map", _yaml_map_once)


def strict_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys; raises ``yaml.YAMLError`` whose
    ``problem_mark`` is the repeated key (the caller names the file)."""
    return yaml.load(text, Loader=_StrictYAMLLoader)  # noqa: S506 - a SafeLoader subclass
