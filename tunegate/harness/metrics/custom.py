"""Build a metric from a plain per-item function, and register it like a built-in.

>>> from tunegate.harness.metrics import custom_metric, register_metric
>>> @register_metric("mentions_refund")
... def mentions_refund():
...     return custom_metric("mentions_refund", lambda item, out: float("refund" in out.lower()),
...                          kind="binary")

``fn(item, output) -> float`` is called once per item. It may return NaN (or None) when an item
truly cannot be scored; that item is then reported as failed, never counted silently. A binary
metric must return 0 or 1. An exception from ``fn`` propagates, with a note naming the item.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import numpy as np

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics._common import as_metric, check_lengths
from tunegate.harness.metrics.base import Kind, Metric, MetricScores

ItemFn = Callable[[EvalItem, str], "float | bool | None"]


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


@dataclass(frozen=True)
class FunctionMetric:
    """A metric whose per-item score is ``fn(item, output)``."""

    name: str
    fn: ItemFn
    kind: Kind = "continuous"
    higher_is_better: bool = True
    settings: Mapping[str, Any] = dataclass_field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"a custom metric needs a non-empty name, got {self.name!r}")
        if self.kind not in ("binary", "continuous"):
            raise ConfigError(
                f"custom metric {self.name!r}: kind={self.kind!r} is not supported for a per-item function; "
                "use 'binary' or 'continuous' (a corpus metric needs sufficient statistics: implement "
                "the Metric protocol and return MetricScores(stats=..., corpus=...))"
            )
        if not callable(self.fn):
            raise ConfigError(
                f"custom metric {self.name!r}: fn must be callable, got {type(self.fn).__name__}"
            )

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        check_lengths(self.name, items, outputs)
        values = np.empty(len(items))
        failures: list[str | None] = []
        for i, (item, out) in enumerate(zip(items, outputs, strict=True)):
            try:
                raw = self.fn(item, out)
            except Exception as exc:
                exc.add_note(f"while scoring item {item.id!r} with custom metric {self.name!r}")
                raise
            value = math.nan if raw is None else float(raw)
            if math.isnan(value):
                failures.append(f"{self.name} returned {raw!r}")
            else:
                failures.append(None)
                if self.kind == "binary" and value not in (0.0, 1.0):
                    raise ConfigError(
                        f"custom metric {self.name!r} is binary but returned {raw!r} for item {item.id!r}; "
                        "return 0 or 1, or declare kind='continuous'"
                    )
            values[i] = value
        has_failures = any(f is not None for f in failures)
        return MetricScores(values=values, failures=tuple(failures) if has_failures else ())

    def describe(self) -> dict[str, Any]:
        return {"metric": self.name, "fn": _qualname(self.fn), "kind": self.kind, **self.settings}


def custom_metric(
    name: str,
    fn: ItemFn,
    *,
    kind: Kind = "continuous",
    higher_is_better: bool = True,
    settings: Mapping[str, Any] | None = None,
) -> Metric:
    """A metric from ``fn(item, output) -> float``; ``settings`` are recorded by ``describe()``."""
    return as_metric(
        FunctionMetric(
            name=name, fn=fn, kind=kind, higher_is_better=higher_is_better, settings=dict(settings or {})
        )
    )
