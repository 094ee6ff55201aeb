"""Result objects of the paired tests, shaped like scipy's (``statistic``, ``pvalue``,
``confidence_interval(confidence_level)``), plus the small helpers every test module shares."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from tunegate.harness.errors import StatsError

Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "greater", "less")

RngLike = np.random.Generator | int | None


class ConfidenceInterval(NamedTuple):
    low: float
    high: float


class Inference(Protocol):
    """How a test turns its data into intervals and p-values for any null value."""

    def interval(self, confidence_level: float) -> tuple[float, float]:
        """Two-sided interval for the delta at ``confidence_level``."""
        ...

    def pvalue(self, null: float, alternative: Alternative) -> float:
        """p-value of H0: delta == null (one-sided: <= or >=) against ``alternative``."""
        ...


@dataclass(frozen=True)
class PairedTestResult:
    """One paired comparison of candidate against base.

    ``statistic`` is the observed delta (candidate - base: a difference of means, or of corpus
    scores); ``pvalue`` tests H0: delta == ``null_value`` against ``alternative``; ``se`` is the
    standard error of the delta (clustered when ``clustered``). ``details`` holds test-specific
    figures (t and df, the discordant counts b and c, ...). ``confidence_interval`` follows
    ``alternative`` as scipy does (one-sided: one infinite bound); pass ``"two-sided"`` for both.
    ``df``: the degrees of freedom of the t reference for the MDE (n - 1, or G - 1 with groups)
    when the test is a test of mean(d); None for the binary and corpus tests (normal quantiles).
    ``notes``: warnings about the result ("only 3 groups: the interval is unreliable"); ``note``
    is the first of them, kept for older callers.
    """

    test: str
    statistic: float
    pvalue: float
    alternative: Alternative
    n: int
    base_mean: float
    candidate_mean: float
    se: float
    inference: Inference = field(repr=False, compare=False)
    null_value: float = 0.0
    clustered: bool = False
    n_groups: int | None = None
    n_resamples: int | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    note: str = ""
    df: float | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # One source of truth for the warnings: ``note`` is the first of ``notes`` (or given alone).
        if self.note and self.note not in self.notes:
            object.__setattr__(self, "notes", (self.note, *self.notes))
        elif self.notes and not self.note:
            object.__setattr__(self, "note", self.notes[0])

    def confidence_interval(
        self, confidence_level: float = 0.95, alternative: Alternative | None = None
    ) -> ConfidenceInterval:
        """Interval for the delta; one-sided (an infinite bound) when the alternative is."""
        check_level(confidence_level)
        alt = alternative or self.alternative
        check_alternative(alt)
        if alt == "two-sided":
            low, high = self.inference.interval(confidence_level)
            return ConfidenceInterval(low, high)
        if confidence_level <= 0.5:
            raise StatsError(f"a one-sided confidence_level must be above 0.5, got {confidence_level!r}")
        low, high = self.inference.interval(1.0 - 2.0 * (1.0 - confidence_level))
        return ConfidenceInterval(low, math.inf) if alt == "greater" else ConfidenceInterval(-math.inf, high)

    def pvalue_at(self, null: float, alternative: Alternative = "greater") -> float:
        """p-value of the same data against another null (e.g. -margin for non-inferiority)."""
        check_alternative(alternative)
        return float(self.inference.pvalue(float(null), alternative))


def mean_result(
    test: str,
    b: np.ndarray,
    c: np.ndarray,
    inference: Inference,
    alternative: Alternative,
    *,
    se: float,
    details: Mapping[str, float],
    notes: tuple[str, ...],
    df: float | None = None,
    n_groups: int | None = None,
    n_resamples: int | None = None,
) -> PairedTestResult:
    """A test of mean(c - b) whose p at null 0 and interval both come from ``inference``."""
    return PairedTestResult(
        test=test,
        statistic=float((c - b).mean()),
        pvalue=inference.pvalue(0.0, alternative),
        alternative=alternative,
        n=int(b.size),
        base_mean=float(b.mean()),
        candidate_mean=float(c.mean()),
        se=se,
        inference=inference,
        clustered=n_groups is not None and n_groups < b.size,
        n_groups=n_groups,
        n_resamples=n_resamples,
        details=details,
        df=df,
        notes=notes,
    )


def as_rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def check_level(confidence_level: float) -> None:
    if not 0.0 < confidence_level < 1.0:
        raise StatsError(f"confidence_level must be in (0, 1), got {confidence_level!r}; e.g. 0.95")


def check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise StatsError(f"alternative must be one of {list(ALTERNATIVES)}, got {alternative!r}")


def check_resamples(n_resamples: int) -> None:
    if int(n_resamples) < 1:
        raise StatsError(f"n_resamples must be >= 1, got {n_resamples!r}; use 10_000 for alpha=0.01")


def paired_arrays(base: object, candidate: object) -> tuple[np.ndarray, np.ndarray]:
    """Float arrays of equal length without NaN; the comparison drops failed items before."""
    b = np.asarray(base, dtype=float).reshape(-1)
    c = np.asarray(candidate, dtype=float).reshape(-1)
    if b.shape != c.shape:
        raise StatsError(
            f"paired scores differ in length: base has {b.size}, candidate {c.size}; "
            "score both systems on the same items"
        )
    if not (np.isfinite(b).all() and np.isfinite(c).all()):
        bad = int((~np.isfinite(b) | ~np.isfinite(c)).sum())
        raise StatsError(
            f"{bad} paired score(s) are NaN or infinite; drop failed items first "
            "(tunegate.harness.compare.compare_scores does this and counts them as n_failed)"
        )
    return b, c


def paired_sample(
    base: object, candidate: object, alternative: str, n_resamples: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The checks a paired test starts with, in one place: ``alternative`` (and ``n_resamples``
    for a resampling test) are valid, the scores pair up without NaN (``paired_arrays``), and
    there is at least one pair."""
    check_alternative(alternative)
    if n_resamples is not None:
        check_resamples(n_resamples)
    b, c = paired_arrays(base, candidate)
    if b.size == 0:
        raise StatsError("no paired items to compare (n == 0)")
    return b, c


@dataclass(frozen=True)
class NormalInference:
    """Intervals and p-values from (estimate - null) / se ~ t(df) (df=None: standard normal)."""

    estimate: float
    se: float
    df: float | None = None

    def _cdf(self, x: float) -> float:
        return float(ndtr(x)) if self.df is None else float(stdtr(self.df, x))

    def _ppf(self, q: float) -> float:
        return float(ndtri(q)) if self.df is None else float(stdtrit(self.df, q))

    def interval(self, confidence_level: float) -> tuple[float, float]:
        if not math.isfinite(self.se):
            return (-math.inf, math.inf)
        half = self._ppf(0.5 + confidence_level / 2.0) * self.se
        return (self.estimate - half, self.estimate + half)

    def pvalue(self, null: float, alternative: Alternative) -> float:
        gap = self.estimate - null
        if not math.isfinite(self.se):
            return 1.0
        if self.se == 0.0:
            # Every difference equal: the data are exact, no sampling spread to test against.
            if gap == 0.0:
                return 1.0
            if alternative == "two-sided":
                return 0.0
            return 0.0 if (gap > 0) == (alternative == "greater") else 1.0
        z = gap / self.se
        if alternative == "greater":
            return 1.0 - self._cdf(z)
        if alternative == "less":
            return self._cdf(z)
        return min(1.0, 2.0 * (1.0 - self._cdf(abs(z))))


def one_sided_from_counts(dist: np.ndarray, observed: float, null: float, alternative: Alternative) -> float:
    """Resampling p-value (count + 1) / (R + 1) from a distribution centred on ``observed``.

    The shift follows Berg-Kirkpatrick et al. (2012): a bootstrap delta* is "as extreme" when
    delta* - delta >= delta - null. ``>=`` (not ``>``) keeps identical systems at p = 1.
    """
    gap = observed - null
    centred = dist - observed
    # Rounding in the resampled sums must not turn an exact tie into a strict inequality.
    tol = 1e-12 * max(1.0, abs(observed), abs(null))
    if alternative == "greater":
        count = int(np.count_nonzero(centred >= gap - tol))
    elif alternative == "less":
        count = int(np.count_nonzero(centred <= gap + tol))
    else:
        count = int(np.count_nonzero(np.abs(centred) >= abs(gap) - tol))
    return (count + 1) / (dist.size + 1)


ONE_UNIT = "one item (or group) cannot estimate the spread of the delta: no test possible"


@dataclass(frozen=True)
class Uninformative:
    """Inference with no information (a single unit): every interval is infinite, p = 1."""

    def interval(self, confidence_level: float) -> tuple[float, float]:
        return (-math.inf, math.inf)

    def pvalue(self, null: float, alternative: Alternative) -> float:
        return 1.0
