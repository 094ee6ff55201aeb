"""Catastrophic forgetting: the candidate must not get worse at things it was not trained for.

This file only declares what to check. The general-capability suites ship with tunegate
(``harness.general``: factual QA, arithmetic, instruction following with a checkable format,
reading comprehension) and each is gated for non-inferiority with its packaged margin, as is their
union, which has the power to see a small drop. KL drift of next-token distributions on general
text is a gate too, with the limit declared here (see docs/gates.md, "KL drift").
"""

from __future__ import annotations

from typing import Any

import pytest

from harness import general
from harness.forgetting import DEFAULT_MAX_KL, assert_drift_within, default_drift_texts

GATES = general.gates()
"""(suite, margin) pairs: 0.10 per task, 0.05 for general/all."""
MAX_KL = DEFAULT_MAX_KL
"""Nats per token of KL(base || candidate) on the built-in general texts (1.0; docs/gates.md)."""


@pytest.mark.parametrize(("suite", "margin"), GATES, ids=[s.name.removeprefix("general/") for s, _ in GATES])
def test_general_capability_does_not_regress(
    compare: Any, tunegate_run: Any, suite: Any, margin: float
) -> None:
    tunegate_run.mark_forgetting(compare(suite, general.correct())).assert_no_regression(margin=margin)


def test_kl_drift_on_general_text(tunegate_run: Any, candidate: Any) -> None:
    report = tunegate_run.drift(candidate, default_drift_texts())
    assert_drift_within(report, max_kl=MAX_KL)
