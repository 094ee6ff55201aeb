from __future__ import annotations

import math
import os

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import permutation_test, ttest_rel, wilcoxon

from harness.stats import clustered_se, group_codes, paired_t, sign_flip_test, wilcoxon_check
from harness.stats._continuous import ALL_ZERO
from harness.stats._results import ONE_UNIT

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _data(n: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = rng.random(n)
    return b, b + rng.normal(0.04, 0.15, n)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_paired_t_matches_scipy_ttest_rel(alternative: str) -> None:
    b, c = _data()
    res = paired_t(b, c, alternative=alternative)  # type: ignore[arg-type]
    ref = ttest_rel(c, b, alternative=alternative)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert tuple(res.confidence_interval(0.9)) == pytest.approx(tuple(ref.confidence_interval(0.9)), rel=1e-9)
    assert res.details["t"] == pytest.approx(ref.statistic)


def test_shifted_null_is_a_shifted_t_test() -> None:
    b, c = _data()
    res = paired_t(b, c)
    assert res.pvalue_at(-0.05, "greater") == pytest.approx(
        ttest_rel(c + 0.05, b, alternative="greater").pvalue, rel=1e-9
    )


def test_all_zero_differences_mean_no_difference() -> None:
    x = np.linspace(0, 1, 30)
    res = paired_t(x, x, alternative="greater")
    assert (res.pvalue, tuple(res.confidence_interval(0.95, "two-sided"))) == (1.0, (0.0, 0.0))
    assert res.note == ALL_ZERO
    assert res.pvalue_at(-0.02, "greater") == 0.0  # exactly no change is above any negative margin
    assert not any(math.isnan(v) for v in (res.statistic, res.se, res.pvalue))


def test_constant_nonzero_difference_reports_the_exact_value() -> None:
    x = np.linspace(0, 1, 10)
    res = paired_t(x, x + 0.1)
    assert tuple(res.confidence_interval()) == pytest.approx((0.1, 0.1))
    assert res.pvalue == 0.0


def test_one_item_is_uninformative_not_nan() -> None:
    res = paired_t([0.3], [0.5], alternative="greater")
    assert res.pvalue == 1.0
    assert res.confidence_interval() == (-math.inf, math.inf)
    assert res.note == ONE_UNIT


def test_clustered_se_matches_statsmodels_cluster_robust_ols() -> None:
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(40), 5)
    d = rng.normal(0, 0.1, 200) + rng.normal(0, 0.2, 40)[groups]
    codes, n_groups = group_codes(groups.tolist(), 200)
    fit = sm.OLS(d, np.ones(200)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    # statsmodels' default small-sample factor G/(G-1) * (N-1)/(N-K) is G/(G-1) for K = 1.
    assert clustered_se(d, codes, n_groups) == pytest.approx(float(fit.bse[0]), rel=1e-9)
    res = paired_t(np.zeros(200), d, groups=groups.tolist())
    assert res.test == "paired_t_clustered" and res.clustered and res.n_groups == 40
    assert res.details["df"] == 39
    assert res.se > paired_t(np.zeros(200), d).se  # correlated items carry less information


def test_items_without_group_stand_alone() -> None:
    codes, n_groups = group_codes(["a", None, "a", None], 4)
    assert n_groups == 3 and codes[0] == codes[2] and codes[1] != codes[3]


def test_wilcoxon_check_is_scipy_zsplit() -> None:
    b, c = _data(40)
    d = np.round(c - b, 2)
    d[:3] = 0.0
    ref = wilcoxon(d + 0.02, zero_method="zsplit", alternative="greater").pvalue
    assert wilcoxon_check(d, null=-0.02, alternative="greater") == pytest.approx(ref)
    assert wilcoxon_check(np.zeros(10)) == 1.0
    assert wilcoxon_check([0.5]) is None


def test_sign_flip_agrees_with_scipy_exact_permutation_test() -> None:
    b, c = _data(12, seed=5)
    ours = sign_flip_test(b, c, n_resamples=20_000, rng=0, alternative="greater")
    # Reference: scipy.stats.permutation_test(..., permutation_type="samples"), exact (2^12 flips).
    ref = permutation_test(
        (c, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="greater",
    )
    assert ours.pvalue == pytest.approx(ref.pvalue, abs=0.01)
