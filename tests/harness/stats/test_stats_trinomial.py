"""Differences on three points {-k, 0, +k} (sparse Likert deltas): the exact test of the
paired-binary model, through the public path; its p and interval agree at every null."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tunegate.harness.compare import compare_scores
from tunegate.harness.metrics.base import MetricScores
from tunegate.harness.stats import continuous_test, mcnemar_exact
from tunegate.harness.stats._trinomial import three_point_step

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _likert(up: int, down: int, n: int, step: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    base = np.full(n, 3.0)
    d = np.r_[np.ones(up), -np.ones(down), np.zeros(n - up - down)] * step
    return base, base + d


def test_three_point_steps_are_recognised() -> None:
    assert three_point_step(np.array([1.0, 0.0, -1.0, 1.0])) == 1.0
    assert three_point_step(np.array([0.0, 0.25, 0.25])) == 0.25
    assert three_point_step(np.array([0.2, -0.2 + 1e-12, 0.0])) == pytest.approx(0.2)
    assert three_point_step(np.array([1.0, -2.0, 0.0])) is None  # two steps down: not this model
    assert three_point_step(np.array([1.0, 0.5, 0.0])) is None
    assert three_point_step(np.zeros(4)) is None


@pytest.mark.parametrize("step", [1.0, 0.5])
def test_likert_deltas_get_the_paired_binary_test_on_their_scale(step: float) -> None:
    base, cand = _likert(9, 3, 30, step)
    res = continuous_test(base, cand, alternative="greater", rng=0)
    assert res.test == "trinomial_exact" and res.details["step"] == step
    binary = mcnemar_exact(np.r_[np.zeros(9), np.ones(3), np.ones(18)], np.r_[np.ones(9), np.zeros(3), np.ones(18)])
    assert res.statistic == pytest.approx(step * binary.statistic)
    for m in (0.0, -0.1, 0.05):
        assert res.pvalue_at(m * step, "greater") == pytest.approx(binary.pvalue_at(m, "greater"))
    low, high = res.confidence_interval(0.9, "two-sided")
    b_low, b_high = binary.confidence_interval(0.9, "two-sided")
    assert (low, high) == pytest.approx((step * b_low, step * b_high))
    assert -step <= low < high <= step


@pytest.mark.parametrize(("up", "down"), [(5, 0), (9, 2), (4, 4), (2, 10), (12, 3)])
def test_p_and_interval_agree_on_the_scale_of_the_step(up: int, down: int) -> None:
    # The unscaled test agrees on every outcome (test_stats_binary_agreement.py); scaling by the
    # step must keep that: half-grade steps at nulls 0 and +-0.05 (+-0.1 in grades).
    base, cand = _likert(up, down, 20, 0.5)
    res = continuous_test(base, cand, rng=0)
    assert res.test == "trinomial_exact"
    low, high = res.confidence_interval(0.9, "two-sided")
    for m in (0.0, -0.05, 0.05):
        assert (res.pvalue_at(m, "greater") < 0.05) == (low > m), (up, down, m)
        assert (res.pvalue_at(m, "less") < 0.05) == (high < m), (up, down, m)


def test_gate_on_likert_grades_uses_the_exact_test() -> None:
    base, cand = _likert(12, 2, 40)
    comp = compare_scores(
        suite="s",
        metric_name="judge",
        kind="continuous",
        ids=[f"i{k}" for k in range(40)],
        base=MetricScores(base),
        candidate=MetricScores(cand),
        n_resamples=1000,
    )
    assert comp.result.test == "trinomial_exact"
    assert comp.evaluate("improves", 0.0, 0.05).verdict == "IMPROVED"
    assert "12 up, 2 down" in comp.result.note
