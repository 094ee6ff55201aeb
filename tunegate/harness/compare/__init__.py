"""Base-vs-candidate comparisons and their gates (superiority and non-inferiority).

``compare_scores`` pairs two systems' per-item scores by id, resolves unscored items, runs the
paired test the metric's kind calls for (see ``tunegate.harness.stats``), breaks the result down by tag
slices and lists flipped items. A ``Comparison`` is then gated inside a test:

    result = compare_scores(suite="support/eval", metric_name="exact_match", kind="binary",
                            ids=ids, base=base_scores, candidate=cand_scores)
    result.assert_no_regression(margin=0.02)

Modules: ``alignment`` (pairing by id, unscored items and coverage), ``decision`` (the one
decision function and Holm), ``result`` (Comparison, GateRecord), ``messages`` (the paragraphs).
"""

from __future__ import annotations

from tunegate.harness.compare.alignment import Coverage
from tunegate.harness.compare.decision import (
    PASSING,
    VERDICTS,
    GateType,
    Verdict,
    apply_holm,
    decide,
    decide_gate,
)
from tunegate.harness.compare.result import AdvisoryGateWarning, Comparison, GateRecord
from tunegate.harness.compare.scoring import DEFAULT_COVERAGE_FLOOR, SLICE_RESAMPLES, compare_scores

__all__ = [
    "DEFAULT_COVERAGE_FLOOR",
    "PASSING",
    "SLICE_RESAMPLES",
    "VERDICTS",
    "AdvisoryGateWarning",
    "Comparison",
    "Coverage",
    "GateRecord",
    "GateType",
    "Verdict",
    "apply_holm",
    "compare_scores",
    "decide",
    "decide_gate",
]
