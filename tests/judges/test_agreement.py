from __future__ import annotations

import math

import numpy as np
import pytest

from tunegate.judges.agreement import cohen_kappa, confusion_matrix, to_label, weight_matrix


def test_quadratic_kappa_matches_a_hand_computation() -> None:
    # a = [1,2,3,4], b = [1,2,3,3]; W = ((i-j)/3)^2. Observed weighted disagreement: (1/4)(1/9) = 1/36.
    # Expected: marginals a = 1/4 each, b = (1/4, 1/4, 1/2, 0); sum W*E = 8/36. kappa = 1 - 1/8.
    assert cohen_kappa([1, 2, 3, 4], [1, 2, 3, 3], [1, 2, 3, 4]) == pytest.approx(0.875)


def test_unweighted_kappa_matches_a_hand_computation() -> None:
    # 2x2: observed agreement 0.7; marginals (0.5, 0.5) and (0.6, 0.4) -> chance 0.5; kappa = 0.4.
    a = [1] * 5 + [2] * 5
    b = [1, 1, 1, 1, 2, 1, 1, 2, 2, 2]
    assert cohen_kappa(a, b, [1, 2], weights="none") == pytest.approx(0.4)


@pytest.mark.parametrize("wt", ["quadratic", "linear", "none"])
def test_kappa_matches_statsmodels(wt: str) -> None:
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    rng = np.random.default_rng(7)
    for _ in range(5):
        a = rng.integers(1, 6, 60)
        b = np.clip(a + rng.integers(-2, 3, 60), 1, 5)
        table = confusion_matrix(list(a), list(b), [1, 2, 3, 4, 5])
        expected = inter_rater.cohens_kappa(table, wt=None if wt == "none" else wt, return_results=False)
        assert cohen_kappa(list(a), list(b), [1, 2, 3, 4, 5], weights=wt) == pytest.approx(expected)  # type: ignore[arg-type]


def test_edge_cases() -> None:
    assert cohen_kappa([1, 2, 3, 5], [1, 2, 3, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa([3, 3, 3], [3, 3, 3], [1, 2, 3, 4, 5]))  # no variation: undefined, not 1
    assert math.isnan(cohen_kappa([], [], [1, 2]))
    assert cohen_kappa([1, 5, 1, 5], [5, 1, 5, 1], [1, 2, 3, 4, 5]) < 0  # systematic disagreement
    with pytest.raises(ValueError, match="label 7 is not one of"):
        confusion_matrix([1], [7], [1, 2])
    with pytest.raises(ValueError, match="different numbers of items"):
        confusion_matrix([1, 2], [1], [1, 2])


def test_confusion_matrix_weights_and_rounding() -> None:
    m = confusion_matrix([1, 1, 2, 3], [1, 2, 2, 1], [1, 2, 3])
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    assert weight_matrix(3).tolist() == [[0, 0.25, 1], [0.25, 0, 0.25], [1, 0.25, 0]]
    assert [to_label(x, [1, 2, 3, 4, 5]) for x in (0.2, 1.49, 1.5, 4.7, 9.0)] == [1, 1, 2, 5, 5]
