"""The packaged forgetting gates, as a pytest suite: collected by ``--forgetting`` in any project.

Each general-capability suite (factual QA, arithmetic, instruction following with a checkable
format, reading comprehension) is gated for non-inferiority with its packaged margin, and so is
their union, which has the power to see a small drop; always against the base, also in a run with a
reference in production (``--reference``). KL drift of next-token distributions on
general text is a gate too (limit: ``MAX_KL``; docs/gates.md, "KL drift"). A project's own suite
file may import these tests to run them without the switch (suites/test_forgetting.py does).
"""

from __future__ import annotations

from typing import Any

import pytest

from tunegate.harness import general
from tunegate.harness.forgetting import DEFAULT_MAX_KL, assert_drift_within, default_drift_texts

GATES = general.gates()
"""(suite, margin) pairs: 0.10 per task, 0.05 for general/all."""
MAX_KL = DEFAULT_MAX_KL
"""Nats per token of KL(base || candidate) on the built-in general texts (docs/gates.md)."""


@pytest.mark.parametrize(("suite", "margin"), GATES, ids=[s.name.removeprefix("general/") for s, _ in GATES])
def test_general_capability_does_not_regress(compare: Any, tunegate_run: Any, suite: Any, margin: float) -> None:
    # Forgetting is measured against the base, also when a reference in production is given.
    comparison = compare(suite, general.correct(), against="base")
    tunegate_run.mark_forgetting(comparison).assert_no_regression(margin=margin)


def test_kl_drift_on_general_text(tunegate_run: Any, candidate: Any) -> None:
    report = tunegate_run.drift(candidate, default_drift_texts(), max_kl=MAX_KL)
    assert_drift_within(report, max_kl=MAX_KL)
