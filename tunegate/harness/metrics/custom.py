"""Build a metric from a plain per-item function, and register it like a built-in.

>>> from tunegate.harness.metrics import custom_metric, register_metric
>>> @register_metric("mentions_refund")
... def mentions_refund():
...     return custom_metric("mentions_refund", lambda item, out: float("refund" in out.lower()),
...                          kind="binary")

``fn(item, output) -> float`` is called once per item. It may return NaN (or None) when an item
truly cannot be scored; that item is then reported as failed and counts at the metric's worst
score, never silently: a continuous metric must declare it (``worst=``) or is refused when an item
is unscorable. A binary metric must return 0 or 1 (its worst is 0, or 1 when lower is better).
An exception from ``fn`` propagates, with a note naming the item.
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
    worst: float | None = None

    @property
    def worst_score(self) -> float | None:
        """The score an unscorable item counts at: declared, or the binary bound."""
        if self.worst is not None:
            return float(self.worst)
        if self.kind == "binary":
            return 0.0 if self.higher_is_better else 1.0
        return None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"a custom metric needs a non-empty name, got {self.name!r}")
        if self.kind not in ("binary", "continuous"):
            raise ConfigError(
                f"custom metric {self.name!r}: kind={self.kind!r} is not supported for a per-item function; "
                "use 'binary' or 'continuous' (a corpus metric needs sufficient statistics: implement "
                "the Metric protocol and return MetricScores(stats=..., corpus=...))"
            )
        if self.worst is not None and (isinstance(self.worst, bool) or not math.isfinite(float(self.worst))):
            raise ConfigError(f"custom metric {self.name!r}: worst must be a finite number, got {self.worst!r}")
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
        if has_failures and self.worst_score is None:
            first = next(items[i].id for i, f in enumerate(failures) if f is not None)
            raise ConfigError(
                f"custom metric {self.name!r} could not score item {first!r} ({self.name} returned no number) "
                "and declares no worst score; an unscorable item counts at the metric's worst, so declare "
                f"it: custom_metric({self.name!r}, fn, worst=0.0) (the lowest score fn can give)"
            )
        return MetricScores(values=values, failures=tuple(failures) if has_failures else ())

    def describe(self) -> dict[str, Any]:
        out = {"metric": self.name, "fn": _qualname(self.fn), "kind": self.kind, **self.settings}
        return {**out, "worst": self.worst} if self.worst is not None else out


def custom_metric(
    name: str,
    fn: ItemFn,
    *,
    kind: Kind = "continuous",
    higher_is_better: bool = True,
    settings: Mapping[str, Any] | None = None,
    worst: float | None = None,
) -> Metric:
    """A metric from ``fn(item, output) -> float``; ``settings`` are recorded by ``describe()``.

    ``worst``: the worst score ``fn`` can give (0 for a share, 1 for a 1-5 grade, the maximum when
    lower is better); an item ``fn`` cannot score counts at it. Required for a continuous metric
    whose ``fn`` may return None/NaN."""
    return as_metric(
        FunctionMetric(
            name=name,
            fn=fn,
            kind=kind,
            higher_is_better=higher_is_better,
            settings=dict(settings or {}),
            worst=worst,
        )
    )
