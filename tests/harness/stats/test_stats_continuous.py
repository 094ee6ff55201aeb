from __future__ import annotations

import math
import os

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import permutation_test, ttest_rel, wilcoxon

from tunegate.harness.stats import (
    clustered_se,
    continuous_test,
    group_codes,
    paired_t,
    sign_flip_test,
    t_is_calibrated,
    wilcoxon_check,
)
from tunegate.harness.stats._continuous import ALL_ZERO
from tunegate.harness.stats._results import ONE_UNIT

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
    assert res.pvalue == 1.0 and res.note.startswith(ALL_ZERO)
    # Zero-spread bound: scores span W = 1, so at level 95% the bound is -1 + 0.025^(1/30).
    low, high = res.confidence_interval(0.95, "two-sided")
    assert low == pytest.approx(-1 + 0.025 ** (1 / 30)) and high == pytest.approx(-low)
    # 30 unchanged items rule out a drop of 0.2 (p = 0.8^30) but not one of 0.02 (p = 0.98^30).
    assert res.pvalue_at(-0.2, "greater") == pytest.approx(0.8**30)
    assert res.pvalue_at(-0.02, "greater") == pytest.approx(0.98**30)
    assert not any(math.isnan(v) for v in (res.statistic, res.se, res.pvalue))


@pytest.mark.parametrize("n", [2, 3])
def test_equal_differences_from_few_items_are_no_evidence(n: int) -> None:
    x = np.linspace(0.2, 0.8, n)
    res = continuous_test(x, x + 0.1)
    low, high = res.confidence_interval(0.9, "two-sided")
    assert high - low > 0.5  # never a zero-width interval (scores span 0.2-0.9)
    assert res.pvalue_at(0.0, "greater") > 0.2
    assert res.pvalue_at(-0.1, "greater") > 0.05  # nor non-inferiority at margin 0.1
    grouped = paired_t(np.repeat(x, 4), np.repeat(x, 4) + 0.1, groups=np.repeat(np.arange(n), 4).tolist())
    assert grouped.clustered and grouped.pvalue_at(-0.1, "greater") > 0.05
    assert any("groups: the interval is unreliable" in note for note in grouped.notes)


def test_two_groups_keep_the_t_on_one_df_with_a_warning() -> None:
    # No floor on G: the t on 1 df holds its size with 2 normal groups (0.051 per side), and
    # refusing there would not fix skewed group effects, which fail alike at G = 2-5.
    rng = np.random.default_rng(4)
    base = rng.uniform(0.2, 0.8, 40)
    cand = base + 0.3 + rng.normal(0, 0.05, 40)
    res = paired_t(base, cand, groups=[i // 20 for i in range(40)])
    assert res.n_groups == 2 and res.df == pytest.approx(1.0) and "only 2 groups" in res.note
    low, high = res.confidence_interval(0.9, "two-sided")
    assert math.isfinite(low) and low < 0.3 < high
    assert res.test == "paired_t_clustered"  # the skewness check needs 5 units


def test_many_equal_differences_do_bound_the_mean() -> None:
    x = np.linspace(0, 1, 500)
    res = continuous_test(x, x + 0.1)
    assert res.pvalue_at(0.0, "greater") < 1e-10  # 500 items all better by 0.1
    low, _ = res.confidence_interval(0.9, "two-sided")
    assert 0.09 < low < 0.1


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
    assert res.test == "paired_t_clustered+skew_t" and res.clustered and res.n_groups == 40
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


def test_skewed_or_small_samples_leave_the_t() -> None:
    rng = np.random.default_rng(4)
    normal = rng.normal(0.02, 0.1, 200)
    assert t_is_calibrated(normal)
    res = continuous_test(np.zeros(200), normal, rng=0)
    # The skewness-corrected t is checked beside every test of a continuous mean.
    assert res.test == "paired_t+skew_t" and res.df == 199
    skewed = np.where(rng.random(100) < 0.1, -0.9, 0.1)
    assert not t_is_calibrated(skewed)
    res = continuous_test(np.zeros(100), skewed, rng=0)
    assert res.test == "sign_flip+bootstrap_t+skew_t" and res.notes
    small = continuous_test(np.zeros(8), normal[:8], rng=0)
    assert small.test == "sign_flip_exact+bootstrap_t+skew_t"


def test_bootstrap_t_interval_inverts_its_pvalue() -> None:
    rng = np.random.default_rng(5)
    d = np.where(rng.random(60) < 0.15, -0.8, 0.15)
    res = continuous_test(np.zeros(60), d, rng=1, n_resamples=4000)
    low, high = res.confidence_interval(0.9, "two-sided")
    for bound, alt in ((low, "greater"), (high, "less")):
        assert res.pvalue_at(bound, alt) >= 0.05  # the bound itself is not rejected
        step = 1e-6 if alt == "greater" else -1e-6
        assert res.pvalue_at(bound - step, alt) < 0.05  # just beyond it is
    again = continuous_test(np.zeros(60), d, rng=1, n_resamples=4000)
    assert again.confidence_interval(0.9) == res.confidence_interval(0.9)  # deterministic given rng


def test_exact_sign_flip_matches_scipy_and_inverts() -> None:
    b, c = _data(10, seed=6)
    res = continuous_test(b, c, rng=0)
    flip = res.inference.inner.parts[0].parts[0]  # type: ignore[attr-defined]
    ref = permutation_test(
        (c - b + 0.03,),
        np.mean,
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="greater",
    )
    assert flip.pvalue(-0.03, "greater") == pytest.approx(ref.pvalue)
    low, _ = flip.interval(0.9)
    assert flip.pvalue(low, "greater") >= 0.05 > flip.pvalue(low - 1e-6, "greater")
    # 4 items cannot show anything; the interval stops at the scores' range instead of infinity.
    four = continuous_test(b[:4], c[:4], rng=0)
    low4, high4 = four.confidence_interval(0.9, "two-sided")
    assert four.pvalue_at(-0.2, "greater") > 0.05 and -1.0 <= low4 < -0.2 and 0.2 < high4 <= 1.0
