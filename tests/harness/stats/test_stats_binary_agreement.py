"""Binary gates: the p-value and the interval come from one test, so they cannot disagree.

For every outcome at n = 10 and on a grid of outcomes (every step-th x and y) for n = 41..300, at nulls 0, +-min_delta and +-margin: "p of
H0 delta <= m is below alpha" holds exactly when the lower bound of the (1 - 2 alpha) interval
is above m (and mirrored for the upper bound). The issue's case: n = 50, 3 items right -> wrong
and none back used to be REGRESSED by its interval with McNemar p = 0.125 for the drop.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tunegate.harness.stats import mcnemar_exact
from tunegate.harness.stats._binary import McNemarInference
from tunegate.harness.stats._binary_exact import tango_z_array

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ALPHA = 0.05
NULLS = (0.0, 0.02, -0.02, 0.05, -0.05, 0.1, -0.1)


def _disagreements(n: int, outcomes: list[tuple[int, int]]) -> list[tuple[int, int, float, str]]:
    bad = []
    for x, y in outcomes:
        inf = McNemarInference(x, y, n)
        low, high = inf.interval(1.0 - 2.0 * ALPHA)
        for m in NULLS:
            if (inf.pvalue(m, "greater") < ALPHA) != (low > m):
                bad.append((x, y, m, "greater"))
            if (inf.pvalue(m, "less") < ALPHA) != (high < m):
                bad.append((x, y, m, "less"))
    return bad


def _grid(n: int, step: int, cap: int) -> list[tuple[int, int]]:
    return [(x, y) for x in range(0, min(n, cap) + 1, step) for y in range(0, min(n - x, cap) + 1, step)]


def test_the_issue_case_regressed_with_a_p_that_agrees() -> None:
    b, c = np.r_[np.ones(3), np.zeros(47)], np.zeros(50)
    res = mcnemar_exact(b, c)
    low, high = res.confidence_interval(0.9, "two-sided")
    assert (res.pvalue_at(0.0, "less") < ALPHA) == (high < 0)


@pytest.mark.parametrize("n", [10, 41])
def test_p_and_interval_agree_on_every_outcome_small_n(n: int) -> None:
    outcomes = [(x, y) for x in range(n + 1) for y in range(n + 1 - x) if x + y <= 5]
    assert _disagreements(n, outcomes) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n", "step", "cap"), [(10, 1, 10), (41, 2, 20), (60, 3, 30), (100, 4, 36), (200, 8, 64), (300, 10, 60)]
)
def test_p_and_interval_agree_on_a_grid_of_outcomes(n: int, step: int, cap: int) -> None:
    assert _disagreements(n, _grid(n, step, cap)) == []


@pytest.mark.parametrize("n", [10, 50, 300])
@pytest.mark.parametrize("null", [-0.3, -0.05, 0.0, 0.05, 0.2])
def test_tango_z_increases_with_x_at_fixed_discordance(n: int, null: float) -> None:
    # The threshold search in _binary_exact relies on it: checked on every discordant count.
    for k in range(n + 1):
        x = np.arange(k + 1)
        assert np.all(np.diff(tango_z_array(x, k - x, n, null)) > 0)
