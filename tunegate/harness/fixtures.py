"""Types of the fixtures a suite receives, for type hints in a user's suite files.

The plugin's fixtures (``tunegate.shell.pytest_run``) return plain callables and objects; these
Protocols say what a suite may rely on, so a suite can write ``def test_x(compare: Compare)``
instead of ``Any`` and have a type checker catch ``compare(metric, suite)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from tunegate.harness.compare import Comparison
    from tunegate.harness.data import Suite
    from tunegate.harness.metrics.base import Metric, PairwiseMetric


class Compare(Protocol):
    """The ``compare`` fixture: ``compare(suite, metric)`` scores the candidate and the model it is
    paired with on ``suite``: the reference in production when the run has one (``--reference``),
    else the base; ``against="base"`` or ``against="reference"`` picks the pair.

    The returned ``Comparison`` is gated with ``.assert_improves(min_delta=...)`` or
    ``.assert_no_regression(margin=...)``.
    """

    def __call__(
        self, suite: Suite, metric: Metric | PairwiseMetric, /, *, against: Literal["base", "reference"] | None = None
    ) -> Comparison: ...


class Judge(Protocol):
    """The ``judge`` fixture (``--judge``): rubric metrics scored by an LLM judge."""

    def rubric(self, name: str) -> Metric:
        """A continuous metric: each output scored on the rubric ``name`` (a packaged name or a path)."""
        ...

    def pairwise(self, name: str) -> PairwiseMetric:
        """A binary metric: base and candidate outputs judged side by side on the rubric ``name``."""
        ...
