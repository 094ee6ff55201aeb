"""Helpers shared by the built-in metrics: reading references, checking inputs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics._json import extract_json_object, get_field, is_missing
from tunegate.harness.metrics.base import Metric

_SHOWN = 5


def as_metric(obj: object) -> Metric:
    """Return ``obj`` typed as a Metric, after checking it has the protocol's members.

    Frozen dataclasses have read-only attributes, which a type checker does not accept for the
    protocol's plain attributes; the runtime check keeps the cast honest.
    """
    if not isinstance(obj, Metric):
        raise TypeError(f"{obj!r} does not implement the Metric protocol (name, kind, score, describe)")
    return cast(Metric, obj)


def check_lengths(name: str, items: Sequence[EvalItem], outputs: Sequence[str]) -> None:
    if len(items) != len(outputs):
        raise ConfigError(
            f"metric {name!r} got {len(outputs)} outputs for {len(items)} items; "
            "pass exactly one output per item, in item order"
        )


def _where(item: EvalItem) -> str:
    return f"item {item.id!r} (line {item.line})" if item.line else f"item {item.id!r}"


def raise_problems(name: str, problems: list[str], fix: str) -> None:
    """One ConfigError listing the first few bad items, their count, and how to fix them."""
    if not problems:
        return
    shown = "; ".join(problems[:_SHOWN])
    more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    raise ConfigError(f"metric {name!r} cannot score {len(problems)} item(s): {shown}{more}. {fix}")


def _reference_object(item: EvalItem) -> dict[str, Any] | None:
    ref = item.reference
    if isinstance(ref, dict):
        return ref
    if isinstance(ref, str):
        return extract_json_object(ref, strict=True)
    return None


def reference_values(name: str, items: Sequence[EvalItem], field: str) -> list[Any]:
    """``reference[field]`` per item; the reference is a JSON object or a string holding one."""
    values: list[Any] = []
    problems: list[str] = []
    for item in items:
        obj = _reference_object(item)
        if item.reference is None:
            problems.append(f"{_where(item)} has no reference")
        elif obj is None:
            problems.append(
                f"{_where(item)} has a reference that is not a JSON object: {item.reference!r:.60}"
            )
        elif is_missing(value := get_field(obj, field)):
            problems.append(f"{_where(item)} has no {field!r} in its reference (keys: {sorted(obj)})")
        else:
            values.append(value)
            continue
        values.append(None)
    raise_problems(
        name,
        problems,
        f'Give each line of the suite file a reference object with the field, e.g. "reference": {{"{field}": ...}}.',
    )
    return values


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def reference_texts(name: str, items: Sequence[EvalItem], field: str | None = None) -> list[list[str]]:
    """The acceptable reference strings per item (a list reference holds alternatives).

    With ``field``, the reference is read from a JSON object reference (non-string values are
    compared as compact JSON text).
    """
    if field is not None:
        values = reference_values(name, items, field)
        problems = [
            f"{_where(it)} has null for {field!r} in its reference"
            for it, v in zip(items, values, strict=True)
            if v is None
        ]
        raise_problems(name, problems, f"Give {field!r} a value in the reference of each suite line.")
        return [[_as_text(v)] for v in values]
    refs: list[list[str]] = []
    problems = []
    for item in items:
        ref = item.reference
        if isinstance(ref, str):
            refs.append([ref])
            continue
        if ref is None:
            problems.append(f"{_where(item)} has no reference")
        elif isinstance(ref, list) and ref and all(isinstance(r, str) for r in ref):
            refs.append(list(ref))
            continue
        elif isinstance(ref, list):
            problems.append(f"{_where(item)} has a list reference that is not a non-empty list of strings")
        else:
            problems.append(
                f"{_where(item)} has a JSON object reference; pass field=... to compare one of its fields "
                f"(keys: {sorted(ref)})"
            )
        refs.append([])
    raise_problems(
        name,
        problems,
        'Give each line of the suite file a "reference" string (or a list of acceptable strings).',
    )
    return refs


def output_texts(outputs: Sequence[str], field: str | None) -> list[str]:
    """The text to score per output: the whole output, or one field of its JSON object.

    A missing field or an output without a JSON object yields "" (it then scores as empty text).
    """
    if field is None:
        return list(outputs)
    texts: list[str] = []
    for out in outputs:
        value = get_field(extract_json_object(out), field)
        texts.append("" if is_missing(value) or value is None else _as_text(value))
    return texts


def binary_scores(flags: Sequence[bool]) -> np.ndarray:
    return np.fromiter((1.0 if f else 0.0 for f in flags), dtype=np.float64, count=len(flags))


def scored_name(base: str, field: str | None) -> str:
    return base if field is None else f"{base}[{field}]"
