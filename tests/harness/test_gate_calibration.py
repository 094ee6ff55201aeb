"""A/A calibration of the run-level rules: missing scores, Holm whatever the call order, advisory gates.

Each scenario simulates runs where the candidate is no better than the base and asserts that
the rate of a false pass stays at or below alpha within Monte-Carlo error (upper bound
alpha + 3 sd of a binomial proportion at that many runs). A slow sibling runs 1000 runs each.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunegate.harness.compare import apply_holm, compare_scores
from tunegate.harness.errors import GateFailure
from tunegate.harness.metrics.base import MetricScores
from tunegate.harness.record import GateResult

ALPHA = 0.05


def bound(runs: int, alpha: float = ALPHA) -> float:
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


def _compare(b: np.ndarray, c: np.ndarray, kind: str = "continuous", **kw: object):  # type: ignore[no-untyped-def]
    return compare_scores(suite="s", metric_name="m", kind=kind, ids=[str(i) for i in range(len(b))],  # type: ignore[arg-type]
                          base=MetricScores(b), candidate=MetricScores(c), n_resamples=2000, **kw)  # type: ignore[arg-type]


def _passes(comp, gate: str, size: float) -> bool:  # type: ignore[no-untyped-def]
    try:
        comp.assert_improves(size) if gate == "improves" else comp.assert_no_regression(size)
    except GateFailure:
        return False
    return True


def candidate_failures_rate(runs: int, seed: int = 0) -> float:
    """Candidate identical to the base except unscorable on half the items: never NON_INFERIOR."""
    rng = np.random.default_rng(seed)
    passed = 0
    for _ in range(runs):
        b = rng.random(200)
        c = b + rng.normal(0, 0.05, 200)
        c[rng.random(200) < 0.5] = np.nan
        passed += _passes(_compare(b, c, worst=0.0), "no_regression", 0.05)  # scores in [0, 1]: worst 0
    return passed / runs


def holm_order_rate(runs: int, seed: int = 0) -> tuple[float, float]:
    """Two A/A suites with an improvement claim each, gated in both orders: the run's false IMPROVED
    rate (any claim surviving Holm) is the family-wise error and must stay at alpha in both orders."""
    rng = np.random.default_rng(seed)
    hits = [0, 0]
    for _ in range(runs):
        pairs = []
        for _s in range(2):
            b = (rng.random(150) < 0.5).astype(float)
            c = np.where(rng.random(150) < 0.2, 1 - b, b)  # symmetric flips: no true effect
            pairs.append((b, c))
        for order in (0, 1):
            entries = []
            for b, c in pairs:
                comp = _compare(b, c, kind="binary")
                if order == 0:
                    _passes(comp, "improves", 0.0)
                    _passes(comp, "no_regression", 0.05)
                else:
                    _passes(comp, "no_regression", 0.05)
                    _passes(comp, "improves", 0.0)
                entries += [GateResult.model_validate(g) for g in comp.to_dict()["gates"]]
            hits[order] += any(g.type == "improves" and g.verdict == "IMPROVED" for g in apply_holm(entries))
    return hits[0] / runs, hits[1] / runs


def test_candidate_unscorable_items_never_pass() -> None:
    assert candidate_failures_rate(40) <= bound(40)


def test_holm_controls_the_family_in_both_orders() -> None:
    a, b = holm_order_rate(150)
    assert a == b  # the family and the adjustment do not depend on the call order
    assert a <= bound(150)


def test_a_planted_improvement_is_found_after_holm() -> None:
    rng = np.random.default_rng(3)
    entries = []
    for _ in range(2):
        b = (rng.random(300) < 0.4).astype(float)
        c = np.where((b == 0) & (rng.random(300) < 0.3), 1.0, b)
        comp = _compare(b, c, kind="binary")
        _passes(comp, "improves", 0.0)
        entries += [GateResult.model_validate(g) for g in comp.to_dict()["gates"]]
    assert all(g.verdict == "IMPROVED" for g in apply_holm(entries))


@pytest.mark.slow
def test_run_level_rules_at_1000_runs() -> None:
    assert candidate_failures_rate(1000, seed=1) <= bound(1000)
    a, b = holm_order_rate(1000, seed=1)
    assert a == b and a <= bound(1000)
