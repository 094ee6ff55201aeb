"""Catastrophic forgetting: the candidate must not get worse at things it was not trained for.

The gates ship with tunegate (``tunegate.forgetting``: the four general-capability suites and
their union gated for non-inferiority, and KL drift on general text with its limit); importing
them here runs them in this project's suite, as ``--forgetting`` does in any project.
"""

from __future__ import annotations

from tunegate.forgetting import (  # noqa: F401  (collected here)
    GATES,
    MAX_KL,
    test_general_capability_does_not_regress,
    test_kl_drift_on_general_text,
)
