"""A gate's significance level and the coverage floor, declared once: their defaults, their one
check each, and the pydantic types the run options (``--alpha``, ``--coverage-floor``) and gate
files (``alpha:``) validate with. ``compare_scores`` and ``Comparison.assert_*`` call the same
checks, so a value is refused with the same words wherever it is given.

>>> check_alpha(0.05)
0.05
>>> check_alpha(0.5)
Traceback (most recent call last):
...
tunegate.harness.errors.StatsError: alpha must be in (0, 0.5), got 0.5; the usual choice is 0.05
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

from tunegate.harness.errors import StatsError

DEFAULT_ALPHA = 0.05
"""Significance level of every gate unless the run (``--alpha``) or the gate says otherwise."""
DEFAULT_COVERAGE_FLOOR = 0.95
"""A gate scoring fewer than this share of its items is INCOMPLETE."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def check_alpha(value: Any, error: type[Exception] = StatsError) -> float:
    """``value`` as a float when it is a level in (0, 0.5), else ``error`` saying so."""
    v = _number(value)
    if v is None or not 0.0 < v < 0.5:
        raise error(f"alpha must be in (0, 0.5), got {value!r}; the usual choice is {DEFAULT_ALPHA}")
    return v


def check_coverage_floor(value: Any, error: type[Exception] = StatsError) -> float:
    """``value`` as a float when it is a share in (0, 1], else ``error`` saying so."""
    v = _number(value)
    if v is None or not 0.0 < v <= 1.0:
        raise error(
            f"the coverage floor must be in (0, 1], got {value!r}; the usual choice is {DEFAULT_COVERAGE_FLOOR}"
        )
    return v


# pydantic turns a ValueError into a validation problem that names the field.
Alpha = Annotated[float, AfterValidator(lambda v: check_alpha(v, ValueError))]
CoverageFloor = Annotated[float, AfterValidator(lambda v: check_coverage_floor(v, ValueError))]

__all__ = ["DEFAULT_ALPHA", "DEFAULT_COVERAGE_FLOOR", "Alpha", "CoverageFloor", "check_alpha", "check_coverage_floor"]
