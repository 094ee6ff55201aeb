"""Tests of mean(d) that stay calibrated where the paired t does not: few items, skewed or
discrete differences, and no spread at all.

Three inferences, each giving p-values for any shifted null m and the interval obtained by
inverting that same test (so a gate's p-value and its interval can never disagree):

- ``ZeroSpreadInference``: every difference equals v. A sample without spread is no evidence
  that the population has none: if a fraction q of items could differ, all n agree with
  probability (1 - q)^n. Differences are bounded by the observed score range W (d lies in
  [-W, W]), so H0 "mean <= m" allows a fraction (v - m) / (v + W) at -W, and
  p = ((m + W) / (v + W))^n (exact for that worst case; the "rule of three" at n = 2, 3 gives
  p far above any alpha). Inverting gives the bound -W + (v + W) a^(1/n).
- ``BootstrapTInference``: the studentised (bootstrap-t) test. T* = (mean* - mean) / se* over
  paired resamples; p(m) = (#{T* >= (mean - m) / se} + 1) / (R + 1). A resample without spread
  has T* = +-inf, which is what keeps a sample with one rare large loss from "showing" a gain.
- ``SignFlipInference``: the exact sign-flip permutation test of the mean of d - m over all 2^n
  sign patterns (n <= ``EXACT_FLIP_MAX``); its smallest p is 2^-n, so 4 or fewer items can never
  reject at alpha = 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import product

import numpy as np
from scipy.special import ndtri

from tunegate.harness.stats._resample import resample_sums
from tunegate.harness.stats._results import Alternative, Inference

EXACT_FLIP_MAX = 16
_BISECTION_STEPS = 45


def _two_sided(p_greater: float, p_less: float) -> float:
    return min(1.0, 2.0 * min(p_greater, p_less))


class OneSidedPair:
    """An inference given by its two one-sided p-values; ``pvalue`` serves every alternative."""

    def _p_greater(self, null: float) -> float:
        raise NotImplementedError

    def _p_less(self, null: float) -> float:
        raise NotImplementedError

    def pvalue(self, null: float, alternative: Alternative) -> float:
        if alternative == "greater":
            return self._p_greater(null)
        if alternative == "less":
            return self._p_less(null)
        return _two_sided(self._p_greater(null), self._p_less(null))


@dataclass(frozen=True)
class ZeroSpreadInference(OneSidedPair):
    """All ``units`` differences equal ``value``; differences can range over [-width, width]."""

    value: float
    units: int
    width: float

    def _p_greater(self, null: float) -> float:
        v, w = self.value, self.width
        if v <= null:
            return 1.0
        if null <= -w:
            return 0.0
        return float(((null + w) / (v + w)) ** self.units)

    def _p_less(self, null: float) -> float:
        v, w = self.value, self.width
        if v >= null:
            return 1.0
        if null >= w:
            return 0.0
        return float(((w - null) / (w - v)) ** self.units)

    def interval(self, confidence_level: float) -> tuple[float, float]:
        shrink = ((1.0 - confidence_level) / 2.0) ** (1.0 / self.units)
        v, w = self.value, self.width
        return (-w + (v + w) * shrink, w - (w - v) * shrink)

    def equivalent_se(self) -> float:
        """The SE a normal test would need for the same one-sided 95% bound (for the MDE)."""
        low, _ = self.interval(0.90)
        return (self.value - low) / float(ndtri(0.95))


def zero_spread_width(base: np.ndarray, candidate: np.ndarray, value: float) -> float:
    """W: the observed score range (both systems), and at least 1 and |value|.

    The floor matters: a few items tell little about the range either (scores of 0.9-1.0 on
    ten items say nothing about the item that scores 0), so scores are taken to span at least
    one unit, the whole range of a [0, 1] metric."""
    scores = np.concatenate([base, candidate])
    width = float(np.ptp(scores)) if scores.size else 0.0
    return max(width, 1.0, abs(value))


@dataclass(frozen=True)
class BootstrapTInference(OneSidedPair):
    """Bootstrap-t p-values and the interval that inverts them (closed form)."""

    mean: float
    se: float
    t_sorted: np.ndarray = field(repr=False)

    def _p_greater(self, null: float) -> float:
        t = (self.mean - null) / self.se
        count = self.t_sorted.size - int(np.searchsorted(self.t_sorted, t, side="left"))
        return (count + 1) / (self.t_sorted.size + 1)

    def _p_less(self, null: float) -> float:
        t = (self.mean - null) / self.se
        count = int(np.searchsorted(self.t_sorted, t, side="right"))
        return (count + 1) / (self.t_sorted.size + 1)

    def interval(self, confidence_level: float) -> tuple[float, float]:
        # Lower bound: the smallest m with p_greater(m) >= tail, i.e. at least `need` of the T*
        # at or above t(m) = (mean - m) / se; the upper bound mirrors it.
        tail = (1.0 - confidence_level) / 2.0
        r = self.t_sorted.size
        need = math.ceil(tail * (r + 1) - 1 - 1e-9)
        if need <= 0:
            return (-math.inf, math.inf)
        if need > r:
            return (self.mean, self.mean)
        q_high = float(self.t_sorted[r - need])
        q_low = float(self.t_sorted[need - 1])
        low = -math.inf if q_high == math.inf else self.mean - q_high * self.se
        high = math.inf if q_low == -math.inf else self.mean - q_low * self.se
        return (min(low, self.mean), max(high, self.mean))


def bootstrap_t(d: np.ndarray, n_resamples: int, rng: np.random.Generator) -> BootstrapTInference:
    """Studentised bootstrap of mean(d) (d has some spread)."""
    n = d.size
    mean = float(d.mean())
    x = d - mean  # centred: the resampled variance loses no digits to a large common offset
    se = float(x.std(ddof=1)) / math.sqrt(n)
    sums = resample_sums(np.c_[x, x * x], n_resamples, rng)
    diff = sums[:, 0] / n
    var = np.maximum(sums[:, 1] - n * diff * diff, 0.0) / (n - 1)
    se_star = np.sqrt(var / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A resample without spread (every draw the same item value) has T* = +-inf.
        t = np.where(se_star > 1e-9 * se, diff / se_star, np.sign(diff) * np.inf)
    t = np.nan_to_num(t, nan=0.0, posinf=np.inf, neginf=-np.inf)
    return BootstrapTInference(mean, se, np.sort(t))


@dataclass(frozen=True)
class SignFlipInference:
    """Sign-flip test of mean(d) = m: sum(s_i (d_i - m)) over all 2^n sign patterns (exact,
    p = count / 2^n) or over R random ones (p = (count + 1) / (R + 1))."""

    total: float
    n: int
    flipped: np.ndarray = field(repr=False)  # S @ d, one per pattern
    signs: np.ndarray = field(repr=False)  # S @ 1
    exact: bool = True

    def _p(self, count: int) -> float:
        size = self.flipped.size
        return count / size if self.exact else (count + 1) / (size + 1)

    def _count(self, null: float, greater: bool) -> int:
        obs = self.total - self.n * null
        dist = self.flipped - null * self.signs
        tol = 1e-9 * max(1.0, abs(obs), float(np.max(np.abs(self.flipped))))
        if greater:
            return int(np.count_nonzero(dist >= obs - tol))
        return int(np.count_nonzero(dist <= obs + tol))

    def pvalue(self, null: float, alternative: Alternative) -> float:
        if alternative == "two-sided":
            return _two_sided(self._p(self._count(null, True)), self._p(self._count(null, False)))
        return self._p(self._count(null, alternative == "greater"))

    def interval(self, confidence_level: float) -> tuple[float, float]:
        tail = (1.0 - confidence_level) / 2.0
        mean = self.total / self.n
        # Below min(d) (above max(d)) only the identity pattern is as extreme: p = 2^-n there.
        span = 2.0 * float(np.max(np.abs(self.flipped))) + 1.0
        return (
            self._bound(tail, "greater", mean - span, mean),
            self._bound(tail, "less", mean, mean + span),
        )

    def _bound(self, tail: float, alternative: Alternative, lo: float, hi: float) -> float:
        # p_greater(m) grows with m (p_less falls): bisect for where it crosses the tail.
        greater = alternative == "greater"
        # Far out only the identity pattern is as extreme: the smallest p the test can give.
        if self._p(1 if self.exact else 0) >= tail:
            return -math.inf if greater else math.inf
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            accepted = self.pvalue(mid, alternative) >= tail
            if accepted == greater:
                hi = mid
            else:
                lo = mid
        return hi if greater else lo


def sign_flip_exact(d: np.ndarray) -> SignFlipInference:
    n = d.size
    if n > EXACT_FLIP_MAX:
        raise ValueError(f"exact sign flips enumerate 2^n patterns; n={n} > {EXACT_FLIP_MAX}")
    signs = np.array(list(product((1.0, -1.0), repeat=n)))
    return SignFlipInference(float(d.sum()), n, signs @ d, signs.sum(axis=1))


def sign_flip_random(d: np.ndarray, n_resamples: int, rng: np.random.Generator) -> SignFlipInference:
    """R random sign patterns; only S @ d and S @ 1 are kept (memory O(R)).

    With few distinct values (Likert or 0/1 deltas) only how many items of each value keep
    their sign matters: one binomial draw per value, the same distribution for far less work.
    """
    n = d.size
    total = float(d.sum())
    values, counts = np.unique(d, return_counts=True)
    if values.size <= 64:
        kept = rng.binomial(counts, 0.5, size=(n_resamples, counts.size)).astype(float)
        flipped = (2.0 * kept - counts) @ values
        signs = 2.0 * kept.sum(axis=1) - n
        return SignFlipInference(total, n, flipped, signs, exact=False)
    flipped = np.empty(n_resamples)
    signs = np.empty(n_resamples)
    chunk = max(1, (1 << 22) // max(n, 1))
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        raw = np.frombuffer(rng.bytes((size * n + 7) // 8), dtype=np.uint8)
        bits = np.unpackbits(raw, count=size * n).reshape(size, n)
        # s = 2 bit - 1: S @ d = 2 (bits @ d) - sum(d), S @ 1 = 2 sum(bits) - n.
        flipped[start : start + size] = 2.0 * (bits @ d) - total
        signs[start : start + size] = 2.0 * bits.sum(axis=1, dtype=np.int64) - n
    return SignFlipInference(total, n, flipped, signs, exact=False)


def sign_flip(d: np.ndarray, n_resamples: int, rng: np.random.Generator) -> SignFlipInference:
    """Exact at n <= EXACT_FLIP_MAX, else ``n_resamples`` random patterns."""
    return sign_flip_exact(d) if d.size <= EXACT_FLIP_MAX else sign_flip_random(d, n_resamples, rng)


@dataclass(frozen=True)
class EitherInference:
    """Rejects only when every inference rejects: p = max, interval = the hull of the intervals.

    Valid when any one of them is (a sign-flip test is exact for symmetric d; the bootstrap-t
    handles skew): used at small n, where each one alone has a known weak spot.
    """

    parts: tuple[Inference, ...]

    def pvalue(self, null: float, alternative: Alternative) -> float:
        return max(p.pvalue(null, alternative) for p in self.parts)

    def interval(self, confidence_level: float) -> tuple[float, float]:
        bounds = [p.interval(confidence_level) for p in self.parts]
        return (min(b[0] for b in bounds), max(b[1] for b in bounds))


MIN_CARRIERS = 5


def carriers(d: np.ndarray) -> int:
    """Items whose difference is not the most common one: the items that carry the effect."""
    _, counts = np.unique(d, return_counts=True)
    return int(d.size - counts.max())


@dataclass(frozen=True)
class HoeffdingInference(OneSidedPair):
    """Hoeffding's (1963) bound for a mean of differences confined to [-width, width].

    Valid for any distribution on that range, with no symmetry or variance assumption:
    p(delta <= m) = exp(-2 n (mean - m)^2 / (2 width)^2) when mean > m. Used when fewer than
    MIN_CARRIERS items differ from the rest, where resampling has nothing to resample: the
    bootstrap-t then gave an interval of -713574 on a 0-1 metric (one item moved) or missed a
    candidate better on every item (p 0.36 with 19 items at +1.0 and one at +0.86).
    """

    mean: float
    n: int
    width: float

    def _p_greater(self, null: float) -> float:
        gap = self.mean - null
        return 1.0 if gap <= 0 else float(math.exp(-2.0 * self.n * gap * gap / (2.0 * self.width) ** 2))

    def _p_less(self, null: float) -> float:
        gap = null - self.mean
        return 1.0 if gap <= 0 else float(math.exp(-2.0 * self.n * gap * gap / (2.0 * self.width) ** 2))

    def interval(self, confidence_level: float) -> tuple[float, float]:
        tail = (1.0 - confidence_level) / 2.0
        half = 2.0 * self.width * math.sqrt(math.log(1.0 / tail) / (2.0 * self.n))
        return (max(-self.width, self.mean - half), min(self.width, self.mean + half))


@dataclass(frozen=True)
class BoundedInference:
    """Any inference, its interval clipped to the differences' possible range [-width, width]:
    no interval is wider than the metric's scale allows (a resample without spread once gave
    +1.8e+07 on a 0-1 metric). p-values are unchanged."""

    inner: Inference
    width: float

    def pvalue(self, null: float, alternative: Alternative) -> float:
        return self.inner.pvalue(null, alternative)

    def interval(self, confidence_level: float) -> tuple[float, float]:
        low, high = self.inner.interval(confidence_level)
        return (max(low, -self.width), min(high, self.width))
