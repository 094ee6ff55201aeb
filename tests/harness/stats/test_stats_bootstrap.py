from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy.stats import bootstrap

from tunegate.harness.errors import StatsError
from tunegate.harness.stats import (
    BootstrapInference,
    _resample,
    bca_parameters,
    cluster_bootstrap,
    clustered_se,
    group_codes,
    paired_bootstrap,
    paired_t,
    resample_sums,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _pair(n: int = 60, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = rng.normal(0.5, 0.2, n)
    return b, b + rng.normal(0.05, 0.15, n)


def test_bca_interval_agrees_with_scipy_bootstrap_paired_bca() -> None:
    b, c = _pair()
    ours = paired_bootstrap(b, c, n_resamples=20_000, rng=0)
    # Reference: scipy.stats.bootstrap((b, c), stat, paired=True, method="BCa")
    ref = bootstrap(
        (b, c),
        lambda x, y, axis=-1: np.mean(y - x, axis=axis),
        paired=True,
        method="BCa",
        n_resamples=20_000,
        rng=1,
    ).confidence_interval
    width = ref.high - ref.low
    low, high = ours.confidence_interval(0.95)
    assert low == pytest.approx(ref.low, abs=0.05 * width)
    assert high == pytest.approx(ref.high, abs=0.05 * width)
    assert ours.note == "interval: BCa"


def test_one_index_draw_keeps_the_pairing() -> None:
    # Strongly correlated systems: an unpaired bootstrap (independent draws) would be ~10x wider.
    rng = np.random.default_rng(2)
    b = rng.random(400)
    c = b + rng.normal(0.01, 0.02, 400)
    low, high = paired_bootstrap(b, c, n_resamples=4000, rng=0).confidence_interval()
    t_low, t_high = paired_t(b, c).confidence_interval()
    assert high - low == pytest.approx(t_high - t_low, rel=0.1)
    unpaired = bootstrap((c, b), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis), n_resamples=2000, rng=0)
    assert (high - low) < 0.2 * (unpaired.confidence_interval.high - unpaired.confidence_interval.low)


@pytest.mark.parametrize("values", [np.array([-1.0, 0.0, 0.0, 1.0, 0.0]), np.linspace(-1, 1, 7)])
def test_resampling_paths_have_bootstrap_moments(values: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    # Few distinct values take the multinomial shortcut, many take the index path: same law.
    stats = np.tile(values, 200)[:, None]
    m = stats.shape[0]
    for shortcut in (0, 1 << 62):
        monkeypatch.setattr(_resample, "SHORTCUT_MIN_WORK", shortcut)
        sums = resample_sums(stats, 4000, np.random.default_rng(0))[:, 0]
        assert sums.mean() == pytest.approx(m * stats.mean(), abs=4 * math.sqrt(m * stats.var() / 4000))
        assert sums.var() == pytest.approx(m * stats.var(), rel=0.1)


def test_count_matrix_path_sums_rows_together() -> None:
    rng = np.random.default_rng(0)
    stats = rng.integers(0, 9, (300, 6)).astype(float)
    sums = resample_sums(stats, 3000, rng)
    assert sums.shape == (3000, 6)
    assert sums.mean(axis=0) == pytest.approx(300 * stats.mean(axis=0), rel=0.02)


def test_identical_systems_give_p_one_and_a_zero_interval() -> None:
    x = np.random.default_rng(0).random(50)
    res = paired_bootstrap(x, x, n_resamples=500, rng=0, alternative="greater")
    assert res.pvalue == 1.0
    assert tuple(res.confidence_interval(0.95, "two-sided")) == (0.0, 0.0)
    assert res.note == "interval: exact"


def test_centred_p_value_has_floor_one_over_r_plus_one() -> None:
    b, c = _pair(200)
    res = paired_bootstrap(b, c + 1.0, n_resamples=999, rng=0, alternative="greater")
    assert res.pvalue == pytest.approx(1 / 1000)


def test_bca_falls_back_to_percentile_when_undefined() -> None:
    dist = np.linspace(1.0, 2.0, 1001)
    z0, _ = bca_parameters(dist, 0.5, np.linspace(0, 1, 10))
    assert z0 == -math.inf
    inf = BootstrapInference(0.5, dist, z0, 0.0)
    assert inf.method == "percentile"
    assert inf.interval(0.9) == pytest.approx((1.05, 1.95))


def test_cluster_bootstrap_resamples_whole_groups() -> None:
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(20), 10)
    d = rng.normal(0.02, 0.05, 200) + rng.normal(0, 0.1, 20)[groups]
    res = cluster_bootstrap(np.zeros(200), d, groups.tolist(), n_resamples=4000, rng=0)
    assert res.test == "cluster_bootstrap" and res.clustered and res.n_groups == 20
    codes, g = group_codes(groups.tolist(), 200)
    # The bootstrap SE lacks the G/(G-1) factor; compare without it.
    assert res.se == pytest.approx(clustered_se(d, codes, g) * math.sqrt((g - 1) / g), rel=0.1)
    assert res.se > 2 * paired_bootstrap(np.zeros(200), d, n_resamples=2000, rng=0).se


def test_single_item_bootstrap_is_uninformative() -> None:
    res = paired_bootstrap([0.1], [0.4], n_resamples=100, rng=0)
    assert res.pvalue == 1.0 and res.confidence_interval() == (-math.inf, math.inf)
    assert math.isnan(res.se)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(StatsError, match="n_resamples must be >= 1, got 0"):
        paired_bootstrap([1.0, 2.0], [1.0, 2.0], n_resamples=0)
    with pytest.raises(StatsError, match="base has 2, candidate 3"):
        paired_bootstrap([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(StatsError, match="NaN"):
        paired_bootstrap([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(StatsError, match="confidence_level must be in"):
        paired_bootstrap([1.0, 2.0, 3.0], [1.0, 2.5, 3.0], n_resamples=10, rng=0).confidence_interval(95)
