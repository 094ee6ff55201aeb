"""Differences on three points {-k, 0, +k}: the paired-binary model, tested exactly.

Sparse Likert deltas (a grade up, unchanged, a grade down) and any continuous metric whose
paired differences take only the values -k, 0 and +k have a trinomial outcome: x items at +k,
y at -k, the rest at 0, with cell probabilities (p_x, p_y, 1 - p_x - p_y) and mean
k (p_x - p_y). That is the model of paired binary scores (docs/statistics.md 2.1), so the same
exact unconditional test serves them: Tango's score orders the outcomes, the p-value is
maximised over the nuisance p_x + p_y, made monotone in the null, and the interval inverts it
(``_binary_exact``). Its size is at most alpha for every trinomial law, by construction and by
enumeration (``tunegate.harness.stats.edge_cases.likert_exact_size``); the paired t on such
deltas reached 0.0528 at 30 items (worst case over P(+1), non-inferiority margin 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunegate.harness.stats._binary import McNemarInference, adjusted_se
from tunegate.harness.stats._results import Alternative, PairedTestResult, mean_result

_REL_TOL = 1e-9


def three_point_step(d: np.ndarray) -> float | None:
    """k when every difference is -k, 0 or +k (k > 0, up to rounding), else None."""
    scale = float(np.max(np.abs(d))) if d.size else 0.0
    if scale <= 0.0:
        return None
    tol = _REL_TOL * scale
    on_grid = (np.abs(d) <= tol) | (np.abs(np.abs(d) - scale) <= tol)
    return scale if bool(on_grid.all()) else None


@dataclass(frozen=True)
class ScaledInference:
    """An inference on d / k reported on the scale of d: nulls divided by k, bounds times k."""

    inner: McNemarInference
    step: float

    def pvalue(self, null: float, alternative: Alternative) -> float:
        return self.inner.pvalue(null / self.step, alternative)

    def interval(self, confidence_level: float) -> tuple[float, float]:
        low, high = self.inner.interval(confidence_level)
        return (low * self.step, high * self.step)


def trinomial_test(
    b: np.ndarray, c: np.ndarray, d: np.ndarray, step: float, alternative: Alternative
) -> PairedTestResult:
    """The exact unconditional paired-binary test of mean(d) for d in {-step, 0, +step}."""
    n = int(d.size)
    tol = _REL_TOL * step
    x = int(np.count_nonzero(d > tol))
    y = int(np.count_nonzero(d < -tol))
    inference = ScaledInference(McNemarInference(x, y, n), step)
    return mean_result(
        "trinomial_exact",
        b,
        c,
        inference,
        alternative,
        se=adjusted_se(x, y, n) * step,
        details={"up": float(x), "down": float(y), "step": step},
        notes=(
            f"every difference is -{step:.4g}, 0 or +{step:.4g} ({x} up, {y} down, {n - x - y} unchanged): "
            "the exact unconditional test of the paired-binary model",
        ),
    )
