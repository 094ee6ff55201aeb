"""Paired significance tests, intervals, power and multiple-comparison control.

The unit is the item: d_i = candidate_i - base_i, both systems scored on the same items. Which
test a comparison gets depends on the metric's kind (``tunegate.harness.metrics.base.Kind``):

- **binary** (0/1 per item) -> ``mcnemar_exact``: one test at every null, 0 included: Tango's
  score statistic orders the outcomes, the p-value is exact and unconditional (maximised over
  the discordance rate; at null 0 the exact unconditional McNemar test) at n <= 1000, made
  monotone in the null, and the interval inverts it, so p and interval cannot disagree; above
  1000 items Tango's normal score test. The SE for power is Agresti-Min's adjusted Wald.
  Pairwise judge wins/losses are binary too (base=1 where base won, candidate=1 where the
  candidate won, both 0 on ties).
- **continuous** (ROUGE-L, BERTScore, judge scores) -> ``continuous_test``: the paired t on d
  only where it is calibrated (n >= 30 and |skewness| <= 0.1 sqrt(n)); otherwise the studentised
  bootstrap (bootstrap-t), and at n <= 16 also the exact sign-flip permutation test; always
  also the skewness-corrected t (Hall's transformation of Johnson's modified t, ``_skew``); all
  must reject. Fewer than 5 items differing from the rest: Hoeffding's bound. Differences that
  take only the values -k, 0 and +k (sparse Likert deltas) -> the exact unconditional test of the
  paired-binary model (``trinomial_exact``). Intervals invert the same tests and never exceed
  the score range.
- **corpus** (BLEU, chrF, TER) -> paired bootstrap over items (``corpus_bootstrap``): a corpus
  score is not a mean of item scores, so items are resampled (one index draw for both systems),
  their sufficient statistics summed and the corpus score recomputed; approximate randomization
  (``approximate_randomization``) is the check. BCa interval, centred p (Berg-Kirkpatrick).
- **groups** (items sharing a source document; fewer groups than items): binary and continuous
  -> the CR2 (Bell-McCaffrey) clustered t on Imbens-Kolesar degrees of freedom, which holds with
  unequal group sizes, with the skewness-corrected t on the group level beside it (both must
  reject; below 5 groups the result notes that the interval is unreliable); corpus -> the
  delete-one-group jackknife t on G - 1 df. Never a bootstrap of whole groups.
- **no spread** (every item or group with the same d): no standard error exists, and a sample
  without spread is not evidence that the population has none. The zero-spread bound
  (``ZeroSpreadInference``) replaces the test: p = ((m + W) / (v + W))^n for "delta > m" with W
  the observed score range, so 2 or 3 equal differences never show an improvement or
  non-inferiority.

Slices (``slice_tests``): the same test per tag value, Holm-corrected across slices; binary
flips (``flips``) list the items that went right -> wrong and back.

Every result has ``statistic`` (the delta), ``pvalue`` and ``confidence_interval(level)``, and
``pvalue_at(null, alternative)`` for the gates' shifted nulls, from the same test the interval
inverts. Power: ``minimum_detectable_effect`` and ``items_needed`` (t quantiles on ``df``);
many claims: ``holm``. Degenerate data give plain answers: all-zero d is
"no difference" (p = 1, with the zero-spread interval around 0); one item is "no test possible"
(p = 1, infinite interval). ``df`` (t-based results: n - 1 or G - 1, else None) feeds the MDE's
t quantiles; ``notes`` carries warnings such as too few groups.
"""

from __future__ import annotations

from tunegate.harness.stats._binary import (
    adjusted_se,
    mcnemar_exact,
    mcnemar_pvalue,
    tango_interval,
    tango_z,
    wilson_interval,
)
from tunegate.harness.stats._bootstrap import (
    BootstrapInference,
    bca_parameters,
    bootstrap_units,
    cluster_bootstrap,
    group_codes,
    paired_bootstrap,
)
from tunegate.harness.stats._continuous import (
    clustered_se,
    continuous_test,
    paired_t,
    sign_flip_test,
    skewness,
    t_is_calibrated,
    wilcoxon_check,
)
from tunegate.harness.stats._corpus import (
    approximate_randomization,
    corpus_bootstrap,
    corpus_cluster_jackknife,
)
from tunegate.harness.stats._dispatch import MIN_GROUPS_FOR_CLT, cluster_count, paired_test, robustness_check
from tunegate.harness.stats._multiple import holm
from tunegate.harness.stats._power import DEFAULT_POWER, items_needed, minimum_detectable_effect, t_sum, z_sum
from tunegate.harness.stats._resample import resample_sums, swap_sums
from tunegate.harness.stats._results import (
    ALTERNATIVES,
    Alternative,
    ConfidenceInterval,
    Inference,
    NormalInference,
    PairedTestResult,
)
from tunegate.harness.stats._robust import (
    BootstrapTInference,
    SignFlipInference,
    ZeroSpreadInference,
    bootstrap_t,
    sign_flip_exact,
)
from tunegate.harness.stats._slices import (
    SliceResult,
    failing_ids,
    finite_or_none,
    flips,
    order_slices,
    slice_tests,
)

# The public names: the dispatcher and the tests it dispatches to (as documented above), their
# results, power and Holm. The other names imported above are building blocks of those tests;
# they stay importable for this package's own tests and benchmarks but are not part of the API.
__all__ = [
    "ALTERNATIVES",
    "DEFAULT_POWER",
    "MIN_GROUPS_FOR_CLT",
    "Alternative",
    "ConfidenceInterval",
    "Inference",
    "PairedTestResult",
    "SliceResult",
    "approximate_randomization",
    "continuous_test",
    "corpus_bootstrap",
    "finite_or_none",
    "flips",
    "holm",
    "items_needed",
    "mcnemar_exact",
    "minimum_detectable_effect",
    "order_slices",
    "paired_bootstrap",
    "paired_test",
    "sign_flip_test",
    "slice_tests",
]
