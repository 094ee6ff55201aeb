"""The packaged forgetting gates, for a project's own suite file.

Importing the two tests into a suite file runs them there, as ``--forgetting`` does for the whole
run::

    from tunegate.forgetting import test_general_capability_does_not_regress, test_kl_drift_on_general_text

``GATES`` lists the (suite, margin) pairs and ``MAX_KL`` the KL drift limit (docs/gates.md).
"""

from __future__ import annotations

from tunegate.harness.general.forgetting_suite import (
    GATES,
    MAX_KL,
    test_general_capability_does_not_regress,
    test_kl_drift_on_general_text,
)

__all__ = ["GATES", "MAX_KL", "test_general_capability_does_not_regress", "test_kl_drift_on_general_text"]
