"""The whole calibration table at 1000 runs per scenario (stats level: ``paired_test`` and the
gates' decision rule, see ``tunegate.harness.stats.calibration``); ``bench/stats.py`` prints the same table.

Each row: false IMPROVED and false REGRESSED at true delta 0, false NON_INFERIOR at true delta
-margin, all at most alpha + 3 Monte-Carlo standard errors.
"""

from __future__ import annotations

import os

import pytest

from tunegate.harness.stats.calibration import calibrate, mc_bound, power, scenarios

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RUNS = 1000
ALPHA = 0.05


@pytest.mark.slow
@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s.label().replace(" ", "-"))
def test_calibration_row(scenario) -> None:  # type: ignore[no-untyped-def]
    row = calibrate(scenario, RUNS, alpha=ALPHA)
    bound = mc_bound(ALPHA, RUNS)
    for key in ("false_improved", "false_regressed", "false_non_inferior"):
        assert row[key] is None or row[key] <= bound, f"{scenario.label()}: {key} {row[key]} > {bound:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "n", "effect", "least"), [("normal", 200, 0.035, 0.7), ("skewed", 100, 0.1, 0.8)]
)
def test_power_with_a_planted_effect(name: str, n: int, effect: float, least: float) -> None:
    scenario = next(s for s in scenarios() if s.name == name and s.n == n)
    assert power(scenario, effect, 500, alpha=ALPHA) >= least
