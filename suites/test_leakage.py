"""Leakage: no eval item may appear in the candidate's own training data.

This file only declares what to check; the check is ``tunegate.harness.leakage.run_leakage_check``. The
training files come from ``--train-data`` or the adapter's ``tunegate.json`` (written by
``tunegate train``). Checked: every suite under ``suites/data`` (training, dev and calibration
files excluded by the rule in ``tunegate.harness.leakage.discover``; a suite file that fails to load is
an error) and the packaged general suites. Prompts and reference answers are compared with the
training prompts and answers; flagged training examples are put to the candidate through the
run's cached generation (the memorisation probe). Without this file the same check still runs
for every candidate whose training data is known (``RunState.automatic_checks``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tunegate import LeakageConfig, ModelHandle, RunState, Suite, discover_suites, general

DATA = Path(__file__).parent / "data"
MAX_NEW_TOKENS = 160
"""Answer budget of the suites under suites/data (a support answer fits in ~130 tokens); the probe uses it."""
CONFIG = LeakageConfig()
"""Defaults: fail on any exact duplicate, or on more than 1% of items overlapping training."""


def eval_suites() -> list[Suite]:
    return discover_suites(DATA, max_new_tokens=MAX_NEW_TOKENS) + general.suites()


def test_eval_suites_do_not_overlap_training_data(tunegate_run: RunState, candidate: ModelHandle) -> None:
    section = tunegate_run.leakage(candidate, suites=eval_suites(), config=CONFIG)
    if section is None:
        pytest.skip("no --train-data and no tunegate.json beside the adapter: no training data to check against")
    section.assert_passed()
