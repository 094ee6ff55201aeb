"""Calibration at the edges, measured through the public path: ``compare_scores`` and the gates.

Cells: unequal group sizes (10:1 and wider), geometric sizes, skewed group effects,
heavy-tailed item deltas at n = 10-50, sparse asymmetric Likert deltas, and binary gates with
``min_delta > 0`` or a margin at n = 41-300. Simulated cells draw every run's data at once
(numpy, one array per cell), then run ``compare_scores`` and the gate's own verdict
(``Comparison.evaluate``, which applies ``tunegate.harness.compare.decision.decide``) per run.
Exact cells enumerate every outcome instead of simulating:

- binary: all (x, y) outcomes of n items; the gate rejects where the test's p is below alpha,
  and the size is the largest rejection probability over a fine grid of the discordance rate
  (the nuisance), at delta = min_delta (superiority) or -margin (non-inferiority);
- sparse Likert: all (minus, zero, plus) counts of n deltas in {-1, 0, +1} at mean -margin,
  worst case over P(+1); each outcome's verdict comes from the public path.

``power_table`` plants effects and compares with the textbook test on the same data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import gammaln, ndtr, stdtr

from tunegate.harness.compare import compare_scores
from tunegate.harness.metrics.base import Kind, MetricScores
from tunegate.harness.stats._binary import mcnemar_pvalue, tango_z
from tunegate.harness.stats._binary_exact import NULL_STEPS, exact_tail, tango_z_array

ALPHA = 0.05
# Draws every run of a cell at once: (runs, n) deltas (or base, candidate pairs) for a true delta.
Draw = Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Cell:
    name: str
    kind: Kind
    n: int
    sizes: tuple[int, ...] | None
    margin: float
    draw: Draw

    @property
    def groups(self) -> list[str] | None:
        if self.sizes is None:
            return None
        return [f"g{g}" for g, size in enumerate(self.sizes) for _ in range(size)]


def geometric_sizes(n_groups: int, ratio: float = 10.0, smallest: int = 4) -> tuple[int, ...]:
    """Sizes growing geometrically from ``smallest`` to ``ratio`` times it."""
    growth = ratio ** (1.0 / (n_groups - 1))
    return tuple(int(round(smallest * growth**g)) for g in range(n_groups))


def _group_index(sizes: tuple[int, ...]) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def continuous_clusters(sizes: tuple[int, ...], effect: str = "normal") -> Draw:
    """d = group effect (normal sd 0.1, or exponential(0.1) - 0.1: skewed) + item noise N(0, 0.1)."""
    idx = _group_index(sizes)

    def draw(rng: np.random.Generator, runs: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
        g = len(sizes)
        a = rng.exponential(0.1, (runs, g)) - 0.1 if effect == "skewed" else rng.normal(0, 0.1, (runs, g))
        d = a[:, idx] + rng.normal(0, 0.1, (runs, idx.size)) + delta
        base = rng.uniform(0.2, 0.8, (runs, idx.size))
        return base, base + d

    return draw


def binary_clusters(sizes: tuple[int, ...]) -> Draw:
    """Discordant cells 0.08 +- a group effect U(-0.06, 0.06); delta moves them apart. Agreeing
    items are right 60% of the time."""
    idx = _group_index(sizes)

    def draw(rng: np.random.Generator, runs: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
        a = rng.uniform(-0.06, 0.06, (runs, len(sizes)))
        px = np.clip(0.08 + a[:, idx] + delta / 2, 0, 1)
        py = np.clip(0.08 - a[:, idx] - delta / 2, 0, 1)
        return _binary_from_cells(rng, px, py)

    return draw


def _binary_from_cells(rng: np.random.Generator, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u = rng.random(px.shape)
    agree = (rng.random(px.shape) < 0.6).astype(float)
    x, y = u < px, (u >= px) & (u < px + py)
    return np.where(x, 0.0, np.where(y, 1.0, agree)), np.where(x, 1.0, np.where(y, 0.0, agree))


def heavy_tailed(n: int, law: str) -> Draw:
    """Mean-zero deltas: lognormal(0, 1) - e^(1/2) (skewness 6.2) or exponential(1) - 1
    (skewness 2), scaled by 0.1; ``sign`` -1 puts the long tail on the losing side."""
    mean = math.exp(0.5) if law.startswith("lognormal") else 1.0
    sign = -1.0 if law.endswith("-left") else 1.0

    def draw(rng: np.random.Generator, runs: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
        raw = rng.lognormal(0, 1, (runs, n)) if law.startswith("lognormal") else rng.exponential(1, (runs, n))
        d = sign * 0.1 * (raw - mean) + delta
        base = rng.uniform(0.3, 0.7, (runs, n))
        return base, base + d

    return draw


def normal_items(n: int, sd: float = 0.2) -> Draw:
    def draw(rng: np.random.Generator, runs: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
        base = rng.uniform(0.2, 0.8, (runs, n))
        return base, base + rng.normal(delta, sd, (runs, n))

    return draw


def binary_items(n: int, discordant: float = 0.16) -> Draw:
    def draw(rng: np.random.Generator, runs: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
        px = np.full((runs, n), (discordant + delta) / 2)
        return _binary_from_cells(rng, px, discordant - px)

    return draw


def likert_items(n: int, moved: float = 0.35) -> Draw:
    """Grades 2-4 that move one step up or down on a share ``moved`` of items; delta sets the
    balance: P(+1) = (moved + delta) / 2, P(-1) = (moved - delta) / 2."""

    def draw(rng: np.random.Generator, runs: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
        base = rng.integers(2, 5, (runs, n)).astype(float)
        u = rng.random((runs, n))
        up = (moved + delta) / 2.0
        d = np.where(u < up, 1.0, np.where(u < moved, -1.0, 0.0))
        return base, base + d

    return draw


UNEQUAL = (120, 40, 20, 12, 8)


def cells() -> list[Cell]:
    """The simulated edge cells (parameters chosen here, listed in docs/statistics.md)."""
    out = [
        Cell("unequal_groups", "binary", sum(UNEQUAL), UNEQUAL, 0.05, binary_clusters(UNEQUAL)),
        Cell("unequal_groups", "continuous", sum(UNEQUAL), UNEQUAL, 0.05, continuous_clusters(UNEQUAL)),
    ]
    for g in (10, 20):
        sizes = geometric_sizes(g)
        out.append(Cell(f"geometric_groups_G{g}", "continuous", sum(sizes), sizes, 0.05, continuous_clusters(sizes)))
        big = tuple(3 * s for s in sizes)
        out.append(Cell(f"geometric_groups_G{g}", "binary", sum(big), big, 0.05, binary_clusters(big)))
    for g in (5, 10, 15, 20):
        eq = (8,) * g
        out.append(Cell(f"skewed_group_effect_G{g}", "continuous", 8 * g, eq, 0.05, continuous_clusters(eq, "skewed")))
    for n in (10, 15, 20, 25, 30, 50):
        out.append(Cell("lognormal_deltas", "continuous", n, None, 0.05, heavy_tailed(n, "lognormal")))
        out.append(Cell("lognormal_deltas_left", "continuous", n, None, 0.05, heavy_tailed(n, "lognormal-left")))
    for n in (10, 15):
        out.append(Cell("exponential_deltas", "continuous", n, None, 0.05, heavy_tailed(n, "exponential")))
        out.append(Cell("exponential_deltas_left", "continuous", n, None, 0.05, heavy_tailed(n, "exponential-left")))
    return out


def _compare(cell: Cell, base: np.ndarray, cand: np.ndarray, seed: int, n_resamples: int) -> Any:
    ids = [f"i{k}" for k in range(base.size)]
    return compare_scores(
        suite="edge",
        metric_name="m",
        kind=cell.kind,
        ids=ids,
        base=MetricScores(np.asarray(base, dtype=float)),
        candidate=MetricScores(np.asarray(cand, dtype=float)),
        groups=cell.groups,
        seed=seed,
        n_resamples=n_resamples,
    )


def mc_bound(runs: int, alpha: float = ALPHA) -> float:
    return alpha + 3.0 * math.sqrt(alpha * (1.0 - alpha) / runs)


def calibrate_cell(cell: Cell, runs: int, *, n_resamples: int = 1_000, seed: int = 0) -> dict[str, Any]:
    """False IMPROVED / REGRESSED at delta 0 and false NON_INFERIOR at delta -margin."""
    rng = np.random.default_rng([seed, cell.n, len(cell.name)])
    b0, c0 = cell.draw(rng, runs, 0.0)
    b1, c1 = cell.draw(rng, runs, -cell.margin)
    improved = regressed = non_inf = 0
    for r in range(runs):
        comp = _compare(cell, b0[r], c0[r], r, n_resamples)
        verdict = comp.evaluate("improves", 0.0, ALPHA).verdict
        improved += verdict == "IMPROVED"
        regressed += verdict == "REGRESSED"
        comp = _compare(cell, b1[r], c1[r], r, n_resamples)
        non_inf += comp.evaluate("no_regression", cell.margin, ALPHA).verdict == "NON_INFERIOR"
    bound = mc_bound(runs)
    rates = {"false_improved": improved / runs, "false_regressed": regressed / runs, "false_non_inferior": non_inf / runs}
    return {
        "cell": cell.name,
        "kind": cell.kind,
        "n": cell.n,
        "G": len(cell.sizes) if cell.sizes else None,
        "sizes": f"{min(cell.sizes)}-{max(cell.sizes)}" if cell.sizes else None,
        "runs": runs,
        **rates,
        "bound": round(bound, 4),
        "ok": all(v <= bound for v in rates.values()),
    }


# -- exact cells -----------------------------------------------------------------------------


def _outcomes(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = xs + ys <= n
    x, y = xs[keep], ys[keep]
    logc = gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(y + 1.0) - gammaln(n - x - y + 1.0)
    return x, y, logc


def binary_exact_size(n: int, null: float, *, grid: int = 400) -> dict[str, Any]:
    """Worst-case P(the gate rejects H0 delta <= null) at delta = null, by enumeration.

    Superiority with ``min_delta = null > 0``: IMPROVED when p < alpha; non-inferiority with
    margin -null: NON_INFERIOR when the lower bound is above -margin, the same event (the
    agreement test). Only outcomes with x - y > n * null can reject; each gets its p.
    """
    x, y, logc = _outcomes(n)
    cand = np.flatnonzero(x - y > n * null)
    reject = np.zeros(x.size, dtype=bool)
    keep = np.ones(cand.size, dtype=bool)
    # The gate's p is the running max of the exact p over grid nulls up to ``null`` (and at it):
    # it rejects where every one of those exact tests rejects. Each exact test rejects where its
    # Tango z is at least a critical value (its p falls as z grows); grid nulls more than 0.5
    # below are 8+ standard errors away for n >= 41 and reject every candidate outcome.
    top = math.floor(null * NULL_STEPS + 1e-9)
    nulls = sorted({null, *(j / NULL_STEPS for j in range(max(top - NULL_STEPS // 2, -NULL_STEPS + 1), top + 1))})
    for g in nulls:
        z = tango_z_array(x[cand], y[cand], n, g)
        order = np.argsort(z)
        lo, hi = 0, order.size  # first position (in z order) whose outcome rejects
        while lo < hi:
            mid = (lo + hi) // 2
            i = cand[order[mid]]
            if exact_tail(int(x[i]), int(y[i]), n, g, True) < ALPHA:
                hi = mid
            else:
                lo = mid + 1
        crit = z[order[lo]] if lo < order.size else math.inf
        keep &= z >= crit - 1e-9 * max(1.0, abs(crit))
    reject[cand[keep]] = True
    d = np.linspace(abs(null), 1.0, grid)[1:]
    px, py = (d + null) / 2.0, (d - null) / 2.0
    xr, yr, cr = x[reject], y[reject], logc[reject]
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = cr[None, :] + xr[None, :] * np.log(px)[:, None] + yr[None, :] * np.log(py)[:, None]
        logp = logp + (n - xr - yr)[None, :] * np.log(np.maximum(1.0 - d, 1e-300))[:, None]
    size = np.exp(np.where(np.isnan(logp), -np.inf, logp)).sum(axis=1)
    asym = _tango_normal_size(n, null, x, y, logc, d)
    return {
        "cell": "binary_margin",
        "n": n,
        "null": null,
        "exact_size": round(float(size.max()), 4),
        "tango_normal_size": round(asym, 4),
        "ok": float(size.max()) <= 0.0505,
    }


def _tango_normal_size(n: int, null: float, x: np.ndarray, y: np.ndarray, logc: np.ndarray, d: np.ndarray) -> float:
    z = np.array([tango_z(int(a), int(b), n, null) for a, b in zip(x, y, strict=True)])
    rej = (1.0 - ndtr(z)) < ALPHA
    xr, yr, cr = x[rej], y[rej], logc[rej]
    px, py = (d + null) / 2.0, (d - null) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = cr[None, :] + xr[None, :] * np.log(px)[:, None] + yr[None, :] * np.log(py)[:, None]
        logp = logp + (n - xr - yr)[None, :] * np.log(np.maximum(1.0 - d, 1e-300))[:, None]
    return float(np.exp(np.where(np.isnan(logp), -np.inf, logp)).sum(axis=1).max())


def likert_exact_size(n: int, margin: float = 0.1, plus: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)) -> dict[str, Any]:
    """Sparse Likert deltas in {-1, 0, +1} with mean -margin: P(NON_INFERIOR), worst over P(+1).

    Every (minus, zero, plus) count of n items is run once through the public path (its
    resampling seeded), and weighted by its trinomial probability."""
    cell = Cell("likert_sparse", "continuous", n, None, margin, normal_items(n))
    passes: list[tuple[int, int]] = []
    for minus in range(n + 1):
        for up in range(n + 1 - minus):
            if up - minus <= -margin * n - 3 * math.sqrt(n):
                continue  # mean far below -margin: the interval cannot clear it (checked in tests)
            d = np.r_[-np.ones(minus), np.ones(up), np.zeros(n - minus - up)]
            base = np.full(n, 3.0)
            comp = _compare(cell, base, base + d, 0, 2_000)
            if comp.evaluate("no_regression", margin, ALPHA).verdict == "NON_INFERIOR":
                passes.append((minus, up))
    worst, at = 0.0, 0.0
    for p_plus in plus:
        p_minus = p_plus + margin
        prob = 0.0
        for minus, up in passes:
            if p_plus == 0.0 and up:
                continue
            logp = (
                gammaln(n + 1.0)
                - gammaln(minus + 1.0)
                - gammaln(up + 1.0)
                - gammaln(n - minus - up + 1.0)
                + minus * math.log(p_minus)
                + (up * math.log(p_plus) if up else 0.0)
                + (n - minus - up) * math.log(1.0 - p_minus - p_plus)
            )
            prob += math.exp(logp)
        if prob > worst:
            worst, at = prob, p_plus
    return {"cell": "likert_sparse_asymmetric", "n": n, "margin": margin, "exact_size": round(worst, 4), "worst_p_plus": at, "ok": worst <= 0.0505}


# -- power -----------------------------------------------------------------------------------


def _textbook_p(cell: Cell, base: np.ndarray, cand: np.ndarray) -> float:
    """The textbook one-sided p of "delta <= 0": conditional exact McNemar (binary without
    groups), paired t (continuous), CR1 clustered t on G - 1 df (groups)."""
    d = cand - base
    if cell.sizes is not None:
        idx = _group_index(cell.sizes)
        g = len(cell.sizes)
        sums = np.bincount(idx, weights=d - d.mean(), minlength=g)
        se = math.sqrt(float(np.sum(sums**2))) / d.size * math.sqrt(g / (g - 1))
        return 1.0 - float(stdtr(g - 1, d.mean() / se)) if se > 0 else 1.0
    if cell.kind == "binary":
        return mcnemar_pvalue(int(np.sum(d > 0)), int(np.sum(d < 0)), "greater")
    se = float(d.std(ddof=1)) / math.sqrt(d.size)
    return 1.0 - float(stdtr(d.size - 1, d.mean() / se)) if se > 0 else 1.0


def power_cell(cell: Cell, effect: float, runs: int, *, n_resamples: int = 1_000, seed: int = 1) -> dict[str, Any]:
    """Share of runs with a planted ``effect`` called IMPROVED, ours against the textbook test."""
    rng = np.random.default_rng([seed, cell.n, len(cell.name)])
    b, c = cell.draw(rng, runs, effect)
    b0, c0 = cell.draw(rng, runs, 0.0)
    ours = textbook = textbook_false = 0
    for r in range(runs):
        comp = _compare(cell, b[r], c[r], r, n_resamples)
        ours += comp.evaluate("improves", 0.0, ALPHA).verdict == "IMPROVED"
        textbook += _textbook_p(cell, b[r], c[r]) < ALPHA
        # The textbook test's own size on A/A data of the cell, worse direction of the two.
        textbook_false += max(_textbook_p(cell, b0[r], c0[r]) < ALPHA, _textbook_p(cell, c0[r], b0[r]) < ALPHA)
    return {
        "cell": cell.name,
        "kind": cell.kind,
        "n": cell.n,
        "G": len(cell.sizes) if cell.sizes else None,
        "effect": effect,
        "runs": runs,
        "power": ours / runs,
        "textbook_power": textbook / runs,
        # Either direction's false claims at delta 0 (2 alpha when the textbook test holds).
        "textbook_aa_claims": textbook_false / runs,
        "textbook_holds": textbook_false / runs <= 2 * ALPHA + 3.0 * math.sqrt(2 * ALPHA * (1 - 2 * ALPHA) / runs),
    }


def power_cells() -> list[tuple[Cell, float]]:
    """Planted effects: the textbook test's own cells (normal deltas at 10-100 items, equal
    groups, binary at 300 items, Likert gains at 30 items) and the edge cells, +15 points for
    groups."""
    eq10, eq20 = (20,) * 10, (20,) * 20
    geo10 = tuple(3 * s for s in geometric_sizes(10))
    return [
        (Cell("binary", "binary", 300, None, 0.05, binary_items(300)), 0.10),
        (Cell("likert_sparse", "continuous", 30, None, 0.1, likert_items(30)), 0.15),
        (Cell("normal", "continuous", 100, None, 0.05, normal_items(100, 1.0)), 0.3),
        (Cell("normal_small", "continuous", 10, None, 0.05, normal_items(10)), 0.15),
        (Cell("normal_small", "continuous", 30, None, 0.05, normal_items(30)), 0.1),
        (Cell("normal_small", "continuous", 50, None, 0.05, normal_items(50)), 0.1),
        (Cell("equal_groups_G2", "continuous", 16, (8,) * 2, 0.05, continuous_clusters((8,) * 2)), 0.15),
        (Cell("equal_groups_G3", "continuous", 24, (8,) * 3, 0.05, continuous_clusters((8,) * 3)), 0.15),
        (Cell("equal_groups_G5", "continuous", 40, (8,) * 5, 0.05, continuous_clusters((8,) * 5)), 0.15),
        (Cell("equal_groups_G10", "continuous", 80, (8,) * 10, 0.05, continuous_clusters((8,) * 10)), 0.1),
        (Cell("equal_groups_G10", "binary", 200, eq10, 0.05, binary_clusters(eq10)), 0.15),
        (Cell("equal_groups_G20", "binary", 400, eq20, 0.05, binary_clusters(eq20)), 0.15),
        (Cell("geometric_groups_G10", "binary", sum(geo10), geo10, 0.05, binary_clusters(geo10)), 0.15),
        (Cell("unequal_groups", "binary", sum(UNEQUAL), UNEQUAL, 0.05, binary_clusters(UNEQUAL)), 0.15),
        (Cell("skewed_group_effect_G20", "continuous", 160, (8,) * 20, 0.05, continuous_clusters((8,) * 20, "skewed")), 0.1),
        (Cell("lognormal_deltas", "continuous", 50, None, 0.05, heavy_tailed(50, "lognormal")), 0.1),
        (Cell("exponential_deltas", "continuous", 10, None, 0.05, heavy_tailed(10, "exponential")), 0.1),
    ]
