from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests

from tunegate.harness.errors import StatsError
from tunegate.harness.stats import holm, items_needed, minimum_detectable_effect, z_sum

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_mde_is_z_sum_times_se() -> None:
    assert z_sum() == pytest.approx(norm.ppf(0.95) + norm.ppf(0.8))
    assert minimum_detectable_effect(0.01) == pytest.approx(0.01 * (norm.ppf(0.95) + norm.ppf(0.8)))
    assert minimum_detectable_effect(float("nan")) == math.inf


def test_items_needed_is_the_textbook_formula() -> None:
    sd, n, margin = 0.3, 100, 0.02
    se = sd / math.sqrt(n)
    expected = (norm.ppf(0.95) + norm.ppf(0.8)) ** 2 * sd**2 / margin**2
    assert items_needed(se, n, margin) == math.ceil(expected)
    assert items_needed(se, n, 0.0) is None
    assert items_needed(float("nan"), n, margin) is None


def test_bad_alpha_or_power_is_named() -> None:
    with pytest.raises(StatsError, match="power must be in"):
        z_sum(0.05, 1.5)


def test_holm_matches_statsmodels() -> None:
    p = np.random.default_rng(0).random(8) ** 3
    # Reference: statsmodels.stats.multitest.multipletests(p, method="holm") (not its Holm-Sidak default)
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])


def test_holm_edge_cases() -> None:
    assert holm([]).size == 0
    assert holm([0.2]).tolist() == [0.2]
    with pytest.raises(StatsError, match=r"p-values must lie in \[0, 1\]"):
        holm([0.1, 1.2])
