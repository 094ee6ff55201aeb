"""Issue 22's edges: unequal and few groups (CR2 / Imbens-Kolesar), binary margins beyond
n = 40 by exact enumeration, sparse Likert deltas, and missing scores, through the public path.
The whole table at 1000 runs is ``python bench/stats.py --only-edges --edges 1000``; the slow
test below runs every cell at 300 runs."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy.linalg import fractional_matrix_power

from tunegate.harness.compare import compare_scores
from tunegate.harness.metrics.base import MetricScores
from tunegate.harness.stats import paired_t
from tunegate.harness.stats._clustered import cr2_se_df
from tunegate.harness.stats.edge_cases import (
    UNEQUAL,
    binary_exact_size,
    calibrate_cell,
    cells,
    continuous_clusters,
    geometric_sizes,
    likert_exact_size,
    mc_bound,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _codes(sizes: tuple[int, ...]) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def test_cr2_closed_form_matches_the_matrix_definition() -> None:
    # Bell-McCaffrey: V = (X'X)^-1 sum_g X_g' A_g e_g e_g' A_g X_g (X'X)^-1, A_g = (I - H_gg)^(-1/2).
    sizes = (7, 3, 5, 12)
    codes = _codes(sizes)
    d = np.random.default_rng(0).normal(size=codes.size)
    n = d.size
    e = d - d.mean()
    total = 0.0
    for g, size in enumerate(sizes):
        a = fractional_matrix_power(np.eye(size) - np.full((size, size), 1.0 / n), -0.5)
        total += float(np.sum(a @ e[codes == g])) ** 2
    se, df = cr2_se_df(d, codes, len(sizes))
    assert se == pytest.approx(math.sqrt(total) / n, rel=1e-9)
    assert 1.0 < df < len(sizes) - 1


def test_equal_groups_give_the_textbook_t_on_group_means() -> None:
    sizes = (8,) * 6
    codes = _codes(sizes)
    d = np.random.default_rng(1).normal(size=codes.size) + np.repeat(np.random.default_rng(2).normal(size=6), 8)
    se, df = cr2_se_df(d, codes, 6)
    means = np.bincount(codes, weights=d) / 8
    assert se == pytest.approx(float(means.std(ddof=1)) / math.sqrt(6), rel=1e-9)
    assert df == pytest.approx(5.0)


def test_unequal_groups_hold_their_size_where_the_plain_t_did_not() -> None:
    sizes = geometric_sizes(10)
    draw = continuous_clusters(sizes)
    base, cand = draw(np.random.default_rng(3), 300, 0.0)
    groups = [f"g{g}" for g in _codes(sizes)]
    claims = sum(
        paired_t(base[r], cand[r], groups=groups).pvalue_at(0.0, side) < 0.05
        for r in range(300)
        for side in ("greater", "less")
    )
    assert claims / 600 <= mc_bound(600)  # CR1 with G - 1 df: about 0.074 per side here


def test_five_unequal_groups_claim_a_clear_gain_with_few_df() -> None:
    # CR2 with Imbens-Kolesar df (about 1.4 here, not G - 1 = 4) holds its size with sizes
    # 120/40/20/12/8 (edge table: 0.02-0.06), so no blanket floor: a clear gain is shown.
    codes = _codes(UNEQUAL)
    rng = np.random.default_rng(4)
    base = rng.uniform(0.2, 0.8, codes.size)
    cand = base + 0.3 + rng.normal(0, 0.05, codes.size)
    res = paired_t(base, cand, groups=list(codes))
    assert res.pvalue_at(0.0, "greater") < 0.05 and res.df is not None and res.df < 2
    assert res.n_groups == 5 and "5 groups carry 1.4 degrees of freedom" in res.note


@pytest.mark.parametrize(("n", "null"), [(41, 0.05), (41, -0.05)])
def test_binary_margin_beyond_40_items_is_exact(n: int, null: float) -> None:
    row = binary_exact_size(n, null)
    assert row["exact_size"] <= 0.0505
    if null > 0:
        assert row["tango_normal_size"] > 0.07  # the 0.077: what the normal p allowed


def test_enumerated_rejections_are_the_public_gates_verdicts() -> None:
    # The enumeration decides outcomes by the exact tests' critical values; the gate decides
    # by its own p. Both must agree outcome by outcome (here n = 41, min_delta = 0.05).
    from tunegate.harness.stats._binary_exact import exact_tail  # noqa: F401  (cache shared)

    n = 41
    ids = [f"i{k}" for k in range(n)]
    for x, y in [(8, 0), (9, 1), (7, 0), (10, 2), (12, 3), (11, 3), (6, 0)]:
        base = np.r_[np.zeros(x), np.ones(y), np.ones(n - x - y)]
        cand = np.r_[np.ones(x), np.zeros(y), np.ones(n - x - y)]
        comp = compare_scores(
            suite="s", metric_name="acc", kind="binary", ids=ids, base=MetricScores(base), candidate=MetricScores(cand)
        )
        verdict = comp.evaluate("improves", 0.05, 0.05).verdict
        p = comp.result.pvalue_at(0.05, "greater")
        assert (verdict == "IMPROVED") == (p < 0.05)


def test_sparse_asymmetric_likert_at_ten_items_is_exact() -> None:
    row = likert_exact_size(10)
    assert row["exact_size"] <= 0.0505


@pytest.mark.slow
def test_sparse_asymmetric_likert_at_thirty_items_is_exact() -> None:
    # The paired t reached 0.0528 here; the exact trinomial test holds alpha for every law.
    row = likert_exact_size(30)
    assert row["exact_size"] <= 0.0505, row


def test_a_small_skewed_sample_says_so() -> None:
    right = np.array([-0.12, -0.11, -0.105, -0.1, -0.095, -0.09, -0.08, -0.06, 0.0, 0.2])
    res = paired_t(np.zeros(10), right)  # no warning from the plain t: the gates' tests carry it
    assert not any("skewness" in x for x in res.notes)
    from tunegate.harness.stats import continuous_test

    res = continuous_test(np.zeros(10), right, rng=0)
    assert any("long right tail" in x and "a claim of a drop" in x for x in res.notes), res.notes
    mirrored = continuous_test(np.zeros(10), -right, rng=0)
    assert any("long left tail" in x for x in mirrored.notes)
    symmetric = continuous_test(np.zeros(10), np.linspace(-0.1, 0.1, 10), rng=0)
    assert not any("tail" in x for x in symmetric.notes)
    big = continuous_test(np.zeros(20), np.r_[np.linspace(-0.12, -0.08, 19), 1.9], rng=0)
    assert not any("tail" in x for x in big.notes)  # from 20 items the skew check decides alone


def test_missing_candidate_scores_count_against_it() -> None:
    # A/A data where the candidate fails to produce a scorable answer on 3 of 40 items: those
    # count at the worst score, so the candidate cannot show non-inferiority by dropping them.
    rng = np.random.default_rng(5)
    base = rng.uniform(0.6, 1.0, 40)
    cand = base + rng.normal(0, 0.01, 40)
    cand[:3] = np.nan
    comp = compare_scores(
        suite="s",
        metric_name="m",
        kind="continuous",
        ids=[f"i{k}" for k in range(40)],
        base=MetricScores(base),
        candidate=MetricScores(cand, failures=["unparseable"] * 3 + [None] * 37),
        n_resamples=1000,
        worst=0.0,
    )
    assert comp.result.statistic < -0.01  # 3 items at the declared worst score, not dropped
    assert comp.evaluate("no_regression", 0.02, 0.05).verdict != "NON_INFERIOR"


# Open cells, docs/statistics.md 5 (edge table, 1000 runs): skewed group effects at G = 5 (0.116
# false REGRESSED) and G = 10 (0.079), lognormal (0.087-0.112) and exponential (0.076-0.087)
# deltas at n = 10, in the direction opposite the tail, and lognormal at n = 15 (0.086 with the
# tail on the losing side; 0.069 with it on the winning side, too near the 300-run bound to
# assert). Sections 2.2-2.3 and 5 give the measured price of holding them (15-40% of the t's
# power on normal data, more than the 10% allowed).
KNOWN = {
    ("skewed_group_effect_G5", 40),
    ("skewed_group_effect_G10", 80),
    ("lognormal_deltas", 10),
    ("lognormal_deltas_left", 10),
    ("exponential_deltas", 10),
    ("exponential_deltas_left", 10),
    ("lognormal_deltas", 15),
    ("lognormal_deltas_left", 15),
}


@pytest.mark.slow
@pytest.mark.parametrize("cell", [c for c in cells() if (c.name, c.n) not in KNOWN], ids=lambda c: f"{c.name}-{c.kind}-{c.n}")
def test_edge_cell_holds_its_size(cell) -> None:  # type: ignore[no-untyped-def]
    row = calibrate_cell(cell, 300)
    assert row["ok"], row


@pytest.mark.slow
@pytest.mark.parametrize("n", [60, 100, 200, 300])
def test_binary_margins_exact_to_300(n: int) -> None:
    for null in (0.05, -0.05):
        assert binary_exact_size(n, null)["exact_size"] <= 0.0505
