from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from tunegate.harness.errors import StatsError
from tunegate.harness.stats import (
    adjusted_se,
    mcnemar_exact,
    mcnemar_pvalue,
    tango_interval,
    tango_z,
    wilson_interval,
)
from tunegate.harness.stats._binary import NO_DISCORDANT

os.environ.setdefault("HF_HUB_OFFLINE", "1")

COUNTS = [(0, 5), (5, 0), (3, 3), (3, 4), (10, 25), (1, 0), (40, 60), (200, 230)]


@pytest.mark.parametrize(("x", "y"), COUNTS)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_mcnemar_pvalue_equals_scipy_binomtest(x: int, y: int, alternative: str) -> None:
    # Reference: scipy.stats.binomtest(min(b, c), b + c, 0.5) two-sided; binomtest(c, b + c, 0.5, alternative)
    if alternative == "two-sided":
        ref = binomtest(min(x, y), x + y, 0.5).pvalue
    else:
        ref = binomtest(x, x + y, 0.5, alternative=alternative).pvalue
    assert mcnemar_pvalue(x, y, alternative) == pytest.approx(ref, rel=1e-10, abs=1e-15)  # type: ignore[arg-type]


def _table(b: np.ndarray, c: np.ndarray) -> list[list[int]]:
    return [
        [int(np.sum((b == 1) & (c == 1))), int(np.sum((b == 1) & (c == 0)))],
        [int(np.sum((b == 0) & (c == 1))), int(np.sum((b == 0) & (c == 0)))],
    ]


def _unconditional_bruteforce(x: int, y: int, n: int, greater: bool) -> float:
    """Exact unconditional p at null 0 by enumerating every outcome and a fine grid of D."""
    xs, ys = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = xs + ys <= n
    xs, ys = xs[keep], ys[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(xs + ys > 0, (xs - ys) / np.sqrt(np.maximum(xs + ys, 1)), 0.0)
    z_obs = (x - y) / math.sqrt(x + y) if x + y else 0.0
    extreme = z >= z_obs - 1e-9 if greater else z <= z_obs + 1e-9
    coef = np.array([math.comb(n, int(a)) * math.comb(n - int(a), int(b)) for a, b in zip(xs, ys, strict=True)])
    worst = 0.0
    for dis in np.linspace(1e-6, 1.0, 2001):
        prob = coef * (dis / 2) ** (xs + ys) * (1 - dis) ** (n - xs - ys)
        worst = max(worst, float(prob[extreme].sum()))
    return worst


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mcnemar_exact_is_the_exact_unconditional_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    b = rng.integers(0, 2, 30).astype(float)
    c = np.where(rng.random(30) < 0.25, 1 - b, b)
    res = mcnemar_exact(b, c, alternative="greater")
    x, y = int(res.details["c"]), int(res.details["b"])
    # The conditional binomial version stays available and matches statsmodels.
    assert mcnemar_pvalue(x, y) == pytest.approx(mcnemar(_table(b, c), exact=True).pvalue, rel=1e-10)
    assert res.pvalue == pytest.approx(_unconditional_bruteforce(x, y, 30, True), rel=2e-3)
    assert res.statistic == pytest.approx(c.mean() - b.mean())
    assert res.details["b"] == np.sum((b == 1) & (c == 0))
    assert res.details["c"] == np.sum((b == 0) & (c == 1))


def test_no_discordant_pairs_is_no_evidence_not_an_error() -> None:
    res = mcnemar_exact(np.ones(60), np.ones(60), alternative="greater")
    assert res.pvalue == 1.0
    assert res.note == NO_DISCORDANT
    assert res.confidence_interval(0.95).high == math.inf  # one-sided, like the test
    low, high = res.confidence_interval(0.90, "two-sided")
    # A real width, not [0, 0], and symmetric; exact at n <= EXACT_MAX_N, so at least Tango's.
    z2 = 1.6448536269514722**2
    assert low < -z2 / (60 + z2) * 0.9 and high == pytest.approx(-low, abs=1e-5)
    large = mcnemar_exact(np.ones(2000), np.ones(2000))  # above EXACT_MAX_N: Tango's normal test
    low, high = large.confidence_interval(0.90, "two-sided")
    assert (low, high) == pytest.approx((-z2 / (2000 + z2), z2 / (2000 + z2)), rel=1e-6)
    assert res.se > 0


def _false_non_inferior_worst_case(n: int, margin: float) -> float:
    """Exact P(lower 90% bound > -margin) at true delta = -margin, max over the discordance rate."""
    passes = []
    for x in range(n + 1):
        for y in range(n + 1 - x):
            b = np.r_[np.zeros(x), np.ones(y), np.ones(n - x - y)]
            c = np.r_[np.ones(x), np.zeros(y), np.ones(n - x - y)]
            if mcnemar_exact(b, c).confidence_interval(0.9, "two-sided")[0] > -margin:
                passes.append((x, y))
    worst = 0.0
    for dis in np.linspace(margin, 1.0, 30):
        px, py = (dis - margin) / 2, (dis + margin) / 2
        prob = sum(
            math.comb(n, x) * math.comb(n - x, y) * px**x * py**y * (1 - px - py) ** (n - x - y)
            for x, y in passes
        )
        worst = max(worst, prob)
    return worst


@pytest.mark.parametrize(("n", "margin"), [(2, 0.2), (3, 0.1), (5, 0.2), (10, 0.1), (20, 0.2)])
def test_small_n_non_inferiority_is_exactly_calibrated(n: int, margin: float) -> None:
    # Tango's normal p gave up to 0.16 here (n = 2, margin 0.2); the exact version stays <= alpha.
    assert _false_non_inferior_worst_case(n, margin) <= 0.05 + 1e-9


def test_non_binary_scores_are_refused_with_the_item() -> None:
    with pytest.raises(StatsError, match=r"binary scores must be 0 or 1; item #1 has base=0\.5"):
        mcnemar_exact([1, 0.5], [1, 1])


def _tango_bruteforce(x: int, y: int, n: int, null: float) -> float:
    """Score statistic with the constrained MLE found numerically (checks the closed form)."""
    r = n - x - y

    def nll(q: float) -> float:
        out = 0.0
        if x:
            out -= x * math.log(q + null)
        if y:
            out -= y * math.log(q)
        if r:
            out -= r * math.log(1 - 2 * q - null)
        return out

    lo, hi = max(0.0, -null) + 1e-12, (1 - null) / 2 - 1e-12
    q = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13}).x
    return (x - y - n * null) / math.sqrt(n * (2 * q + null * (1 - null)))


@pytest.mark.parametrize(
    ("x", "y", "n", "null"),
    [
        (5, 3, 40, 0.1),
        (5, 3, 40, -0.1),
        (0, 0, 20, -0.05),
        (10, 0, 30, 0.2),
        (2, 9, 50, -0.3),
        (7, 7, 100, 0.02),
    ],
)
def test_tango_score_matches_numerical_constrained_mle(x: int, y: int, n: int, null: float) -> None:
    assert tango_z(x, y, n, null) == pytest.approx(_tango_bruteforce(x, y, n, null), abs=1e-6)


def test_tango_at_zero_is_the_mcnemar_z_and_interval_inverts_it() -> None:
    assert tango_z(12, 5, 60, 0.0) == pytest.approx((12 - 5) / math.sqrt(17))
    low, high = tango_interval(12, 5, 60, 0.95)
    assert low < 7 / 60 < high
    assert tango_z(12, 5, 60, low) == pytest.approx(1.959963984540054, abs=1e-8)
    assert tango_z(12, 5, 60, high) == pytest.approx(-1.959963984540054, abs=1e-8)
    assert tango_interval(20, 0, 20, 0.95).high == 1.0
    assert tango_interval(0, 20, 20, 0.95).low == -1.0


def test_tango_interval_coverage_is_nominal() -> None:
    rng = np.random.default_rng(0)
    n, px, py = 40, 0.15, 0.05
    draws = rng.multinomial(n, [px, py, 1 - px - py], size=1500)
    covered = [lo <= px - py <= hi for lo, hi in (tango_interval(int(a), int(b), n) for a, b, _ in draws)]
    assert 0.93 <= np.mean(covered) <= 0.975


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (57, 200)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    ref = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert tuple(wilson_interval(k, n, 0.95)) == pytest.approx(ref, abs=1e-12)


def test_adjusted_se_is_positive_without_discordance_and_shrinks_with_n() -> None:
    assert adjusted_se(0, 0, 20) == pytest.approx(1 / 22)
    assert adjusted_se(0, 0, 2000) < adjusted_se(0, 0, 20)
    assert adjusted_se(30, 10, 400) == pytest.approx(math.sqrt((40 / 400 - (20 / 400) ** 2) / 400), rel=0.05)


def test_pairwise_judge_wins_make_mcnemar_the_sign_test() -> None:
    # base=1 where base won, candidate=1 where candidate won, both 0 on a tie.
    outcome = np.array(["cand"] * 14 + ["base"] * 5 + ["tie"] * 11)
    base = (outcome == "base").astype(float)
    cand = (outcome == "cand").astype(float)
    res = mcnemar_exact(base, cand, alternative="greater")
    # The exact unconditional McNemar test is at least as powerful as the sign test on the 19.
    assert res.pvalue <= binomtest(14, 19, 0.5, alternative="greater").pvalue
    assert res.pvalue == pytest.approx(_unconditional_bruteforce(14, 5, 30, True), rel=2e-3)
