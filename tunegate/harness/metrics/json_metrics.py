"""Structured-output metrics (binary): the output holds a JSON object, it fits a schema, its
fields equal the reference's.

Finding the object follows the tolerant rule of :mod:`tunegate.harness.metrics._json` (a ```` ```json ````
fence and prose around the object are fine; an object cut off at the token limit is not).
``strict=True`` instead requires the whole output to be one JSON object and nothing else.
Per-item reasons for a 0 are kept in ``MetricScores.extra["reasons"]`` for the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, ClassVar

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics._common import as_metric, binary_scores, check_lengths, reference_values
from tunegate.harness.metrics._json import extract_json_object, get_field, is_missing, json_equal
from tunegate.harness.metrics.base import Kind, Metric, MetricScores, register_metric

_NO_OBJECT = "no JSON object in the output"


@dataclass(frozen=True)
class JsonValid:
    """1 when the output holds a JSON object (tolerant rule; ``strict``: the whole output)."""

    strict: bool = False
    name: str = "json_valid"
    kind: ClassVar[Kind] = "binary"
    higher_is_better: ClassVar[bool] = True

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        check_lengths(self.name, items, outputs)
        found = [extract_json_object(out, strict=self.strict) is not None for out in outputs]
        reasons = [None if ok else _NO_OBJECT for ok in found]
        return MetricScores(values=binary_scores(found), extra={"reasons": reasons})

    def describe(self) -> dict[str, Any]:
        return {"metric": "json_valid", "strict": self.strict}


@dataclass(frozen=True)
class JsonSchemaValid:
    """1 when the output's JSON object validates against a JSON Schema (any draft jsonschema knows)."""

    schema: Mapping[str, Any] = dataclass_field(hash=False)
    strict: bool = False
    check_formats: bool = False
    name: str = ""
    kind: ClassVar[Kind] = "binary"
    higher_is_better: ClassVar[bool] = True

    def __post_init__(self) -> None:
        from jsonschema import exceptions, validators

        if not isinstance(self.schema, Mapping):
            raise ConfigError(
                f"json_schema_valid needs a JSON Schema object, got {type(self.schema).__name__}"
            )
        try:
            validators.validator_for(self.schema).check_schema(self.schema)
        except exceptions.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise ConfigError(f"invalid JSON Schema at {where}: {exc.message}; fix the schema") from None
        if not self.name:
            title = self.schema.get("title")
            label = f"json_schema_valid[{title}]" if isinstance(title, str) and title else "json_schema_valid"
            object.__setattr__(self, "name", label)

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        from jsonschema import exceptions, validators

        check_lengths(self.name, items, outputs)
        cls = validators.validator_for(self.schema)
        validator = cls(self.schema, format_checker=cls.FORMAT_CHECKER if self.check_formats else None)
        ok: list[bool] = []
        reasons: list[str | None] = []
        for out in outputs:
            obj = extract_json_object(out, strict=self.strict)
            error = None if obj is None else exceptions.best_match(validator.iter_errors(obj))
            if obj is None:
                reasons.append(_NO_OBJECT)
            elif error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                reasons.append(f"{where}: {error.message}")
            else:
                reasons.append(None)
            ok.append(obj is not None and error is None)
        return MetricScores(values=binary_scores(ok), extra={"reasons": reasons})

    def describe(self) -> dict[str, Any]:
        return {
            "metric": "json_schema_valid",
            "schema": dict(self.schema),
            "strict": self.strict,
            "check_formats": self.check_formats,
        }


@dataclass(frozen=True)
class JsonFieldMatch:
    """1 when every listed field of the output's JSON object equals the reference's, as JSON."""

    fields: tuple[str, ...]
    strict: bool = False
    name: str = ""
    kind: ClassVar[Kind] = "binary"
    higher_is_better: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not self.fields or not all(isinstance(f, str) and f for f in self.fields):
            raise ConfigError(f"json_field_match needs one or more field names, got {self.fields!r}")
        if not self.name:
            object.__setattr__(self, "name", f"json_field_match[{','.join(self.fields)}]")

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        check_lengths(self.name, items, outputs)
        refs = {f: reference_values(self.name, items, f) for f in self.fields}
        ok: list[bool] = []
        reasons: list[str | None] = []
        for i, out in enumerate(outputs):
            obj = extract_json_object(out, strict=self.strict)
            reason = _NO_OBJECT if obj is None else None
            for f in self.fields:
                if reason is not None:
                    break
                value = get_field(obj, f)
                if is_missing(value):
                    reason = f"no {f!r} in the output's JSON object"
                elif not json_equal(value, refs[f][i]):
                    reason = f"{f!r} differs: {value!r:.60} != {refs[f][i]!r:.60}"
            ok.append(reason is None)
            reasons.append(reason)
        return MetricScores(values=binary_scores(ok), extra={"reasons": reasons})

    def describe(self) -> dict[str, Any]:
        return {"metric": "json_field_match", "fields": list(self.fields), "strict": self.strict}


def _load_schema(schema: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    if isinstance(schema, Mapping):
        return schema
    path = Path(schema)
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read JSON Schema file {path}: {exc.strerror}; check the path") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); fix the schema file") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: a JSON Schema must be an object, got {type(loaded).__name__}")
    return loaded


@register_metric("json_valid")
def json_valid(*, strict: bool = False) -> Metric:
    """The output holds a JSON object (see the module doc for ``strict``)."""
    return as_metric(JsonValid(strict=strict))


@register_metric("json_schema_valid")
def json_schema_valid(
    schema: Mapping[str, Any] | str | Path,
    *,
    strict: bool = False,
    check_formats: bool = False,
    name: str | None = None,
) -> Metric:
    """The output's JSON object validates against ``schema`` (a dict or a path to a .json file).

    The name is ``json_schema_valid[<schema title>]`` when the schema has a title.
    ``check_formats`` also enforces ``"format"`` keywords (email, date, ...).
    """
    return as_metric(
        JsonSchemaValid(
            schema=_load_schema(schema), strict=strict, check_formats=check_formats, name=name or ""
        )
    )


@register_metric("json_field_match")
def json_field_match(field: str | Sequence[str], *, strict: bool = False) -> Metric:
    """Every listed field of the output's JSON object equals the reference's, as JSON values.

    Unlike ``exact_match(field=...)`` nothing is normalised, and several fields can be required
    at once: ``json_field_match(["category", "priority"])`` is named
    ``json_field_match[category,priority]``.
    """
    fields = (field,) if isinstance(field, str) else tuple(field)
    return as_metric(JsonFieldMatch(fields=fields, strict=strict))
