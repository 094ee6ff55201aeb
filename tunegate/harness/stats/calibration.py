"""Calibration by simulation: A/A runs and the non-inferiority boundary, scenario by scenario.

Each ``Scenario`` draws paired scores with a chosen true delta. ``calibrate`` runs it ``runs``
times through ``paired_test`` and the gates' decision rule (``tunegate.harness.compare.decision.decide``,
the one the live gates use, no copy: IMPROVED when p of "delta <= min_delta" < alpha;
REGRESSED when the two-sided (1 - 2 alpha) interval lies below 0; NON_INFERIOR when its lower
bound is above -margin) and reports the false IMPROVED and false REGRESSED rates at true delta
0, and the false NON_INFERIOR rate at true delta -margin. A rate is acceptable up to
alpha + 3 Monte-Carlo standard errors. ``bench/stats.py`` prints the whole table;
tests/harness/stats/test_stats_calibration*.py assert it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunegate.harness.compare.decision import GateType, decide
from tunegate.harness.metrics.base import Kind
from tunegate.harness.stats._dispatch import paired_test
from tunegate.harness.stats._results import PairedTestResult


@dataclass(frozen=True)
class SimData:
    base: np.ndarray
    candidate: np.ndarray
    groups: list[str] | None = None
    base_stats: np.ndarray | None = None
    cand_stats: np.ndarray | None = None


Simulator = Callable[[np.random.Generator, float], SimData]


def ratio(sums: np.ndarray) -> np.ndarray:
    """A simple corpus metric: matched tokens / total tokens."""
    sums = np.asarray(sums, dtype=float)
    return sums[..., 0] / sums[..., 1]


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: Kind
    n: int
    groups: int | None
    margin: float
    simulate: Simulator
    aa: bool = True  # the A/A part (true delta 0) is meaningful for this scenario

    def label(self) -> str:
        return f"{self.name} n={self.n}" + (f" G={self.groups}" if self.groups else "")


def _labels(n_groups: int, per: int) -> list[str]:
    return [f"g{g}" for g in range(n_groups) for _ in range(per)]


def continuous_groups(n_groups: int, per: int = 8) -> Simulator:
    """d = group effect N(0, 0.1) + item noise N(0, 0.1) + delta."""

    def sim(rng: np.random.Generator, delta: float) -> SimData:
        n = n_groups * per
        d = np.repeat(rng.normal(0, 0.1, n_groups), per) + rng.normal(0, 0.1, n) + delta
        base = rng.uniform(0.2, 0.8, n)
        return SimData(base, base + d, _labels(n_groups, per))

    return sim


def _binary_cells(rng: np.random.Generator, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = px.size
    u = rng.random(n)
    agree = (rng.random(n) < 0.6).astype(float)
    x, y = u < px, (u >= px) & (u < px + py)
    base = np.where(x, 0.0, np.where(y, 1.0, agree))
    cand = np.where(x, 1.0, np.where(y, 0.0, agree))
    return base, cand


def binary_groups(n_groups: int, per: int = 20) -> Simulator:
    """Discordant cells 0.08 +- a group effect a_g ~ U(-0.06, 0.06); delta moves them apart."""

    def sim(rng: np.random.Generator, delta: float) -> SimData:
        a = np.repeat(rng.uniform(-0.06, 0.06, n_groups), per)
        base, cand = _binary_cells(rng, 0.08 + a + delta / 2, 0.08 - a - delta / 2)
        return SimData(base, cand, _labels(n_groups, per))

    return sim


def binary_items(n: int, discordant: float = 0.16) -> Simulator:
    def sim(rng: np.random.Generator, delta: float) -> SimData:
        px = np.full(n, (discordant + delta) / 2)
        base, cand = _binary_cells(rng, px, discordant - px)
        return SimData(base, cand)

    return sim


def corpus_groups(n_groups: int, per: int = 10) -> Simulator:
    """Matched / total tokens; the candidate's match rate moves by a group effect N(0, 0.05)."""

    def sim(rng: np.random.Generator, delta: float) -> SimData:
        n = n_groups * per
        total = rng.integers(5, 30, n)
        p = rng.beta(6, 4, n)
        pc = np.clip(p + np.repeat(rng.normal(0, 0.05, n_groups), per) + delta, 0, 1)
        mb, mc = rng.binomial(total, p), rng.binomial(total, pc)
        sb, sc = np.c_[mb, total].astype(float), np.c_[mc, total].astype(float)
        return SimData(mb / total, mc / total, _labels(n_groups, per), sb, sc)

    return sim


def skewed(n: int) -> Simulator:
    """d = +0.1 on 90% of items, -0.9 on 10% (mean 0), plus delta."""

    def sim(rng: np.random.Generator, delta: float) -> SimData:
        d = np.where(rng.random(n) < 0.1, -0.9, 0.1) + delta
        base = rng.uniform(0.9, 1.0, n)
        return SimData(base, base + d)

    return sim


def likert(n: int) -> Simulator:
    """Likert grades 2-4; d in {-1, 0} with P(-1) = -delta (at delta 0: {-1, 0, +1}, 5% each side)."""

    def sim(rng: np.random.Generator, delta: float) -> SimData:
        base = rng.integers(2, 5, n).astype(float)
        u = rng.random(n)
        if delta < 0:
            d = np.where(u < -delta, -1.0, 0.0)
        else:
            d = np.where(u < 0.05, -1.0, np.where(u > 0.95, 1.0, 0.0))
        return SimData(base, base + d)

    return sim


def tiny(n_units: int, per: int = 1) -> Simulator:
    """n_units units (items, or groups of ``per`` items sharing d): mostly equal differences.

    A/A: d = +0.1 on 90%, -0.9 on 10% (mean 0); boundary: d = -1 with probability -delta, else 0.
    """

    def sim(rng: np.random.Generator, delta: float) -> SimData:
        u = rng.random(n_units)
        d = np.where(u < -delta, -1.0, 0.0) if delta < 0 else np.where(u < 0.1, -0.9, 0.1)
        base = rng.uniform(0.0, 0.9, n_units * per)
        groups = _labels(n_units, per) if per > 1 else None
        return SimData(base, base + np.repeat(d, per), groups)

    return sim


def normal(n: int) -> Simulator:
    def sim(rng: np.random.Generator, delta: float) -> SimData:
        base = rng.uniform(0.2, 0.8, n)
        return SimData(base, base + rng.normal(delta, 0.2, n))

    return sim


GROUP_COUNTS = (2, 3, 5, 10, 20, 60)


def scenarios() -> list[Scenario]:
    """Every scenario of the calibration table (groups, skew, sparse Likert, zero spread, binary margins, and plain baselines)."""
    out: list[Scenario] = []
    for g in GROUP_COUNTS:
        out.append(Scenario("continuous_groups", "continuous", 8 * g, g, 0.05, continuous_groups(g)))
    for g in GROUP_COUNTS:
        out.append(Scenario("binary_groups", "binary", 20 * g, g, 0.05, binary_groups(g)))
    for g in GROUP_COUNTS:
        out.append(Scenario("corpus_groups", "corpus", 10 * g, g, 0.03, corpus_groups(g)))
    for n in (10, 30, 100):
        out.append(Scenario("skewed", "continuous", n, None, 0.05, skewed(n)))
    for n in (10, 20, 30, 45, 60):
        out.append(Scenario("likert_sparse", "continuous", n, None, 0.1, likert(n)))
    for units in (2, 3):
        out.append(Scenario("zero_spread", "continuous", units, None, 0.1, tiny(units)))
        out.append(Scenario("zero_spread_groups", "continuous", 4 * units, units, 0.1, tiny(units, 4)))
    for n, margin in ((10, 0.2), (30, 0.1), (100, 0.05), (400, 0.05)):
        out.append(Scenario("binary_boundary", "binary", n, None, margin, binary_items(n)))
    for n in (10, 200):
        out.append(Scenario("normal", "continuous", n, None, 0.05, normal(n)))
    return out


def run_test(
    scenario: Scenario, data: SimData, n_resamples: int, rng: np.random.Generator
) -> PairedTestResult:
    return paired_test(
        scenario.kind,
        data.base,
        data.candidate,
        base_stats=data.base_stats,
        cand_stats=data.cand_stats,
        corpus=ratio if scenario.kind == "corpus" else None,
        groups=data.groups,
        n_resamples=n_resamples,
        rng=rng,
    )


def gate_verdict(res: PairedTestResult, alpha: float, gate: GateType, size: float) -> str:
    """The verdict the live gate gives this result: ``tunegate.harness.compare.decision.decide``
    on the same numbers (higher is better in every scenario)."""
    low, high = res.confidence_interval(1.0 - 2.0 * alpha, "two-sided")
    null = size if gate == "improves" else -size
    return decide(
        gate=gate, size=size, alpha=alpha, p_claim=res.pvalue_at(null, "greater"), low=low, high=high, mde=math.inf
    )


def improves(res: PairedTestResult, alpha: float, min_delta: float = 0.0) -> str:
    """The superiority gate's verdict on a result (IMPROVED / REGRESSED / not shown)."""
    verdict = gate_verdict(res, alpha, "improves", min_delta)
    return verdict if verdict in ("IMPROVED", "REGRESSED") else "NOT_SHOWN"


def non_inferior(res: PairedTestResult, alpha: float, margin: float) -> bool:
    """The non-inferiority gate: NON_INFERIOR by the decision rule."""
    return gate_verdict(res, alpha, "no_regression", margin) == "NON_INFERIOR"


def mc_bound(alpha: float, runs: int) -> float:
    return alpha + 3.0 * math.sqrt(alpha * (1.0 - alpha) / runs)


def calibrate(
    scenario: Scenario, runs: int, *, alpha: float = 0.05, n_resamples: int = 2_000, seed: int = 0
) -> dict[str, Any]:
    """One row of the calibration table."""
    improved = regressed = non_inf = 0
    for r in range(runs):
        if scenario.aa:
            rng = np.random.default_rng([seed, 0, r])
            verdict = improves(run_test(scenario, scenario.simulate(rng, 0.0), n_resamples, rng), alpha)
            improved += verdict == "IMPROVED"
            regressed += verdict == "REGRESSED"
        rng = np.random.default_rng([seed, 1, r])
        res = run_test(scenario, scenario.simulate(rng, -scenario.margin), n_resamples, rng)
        non_inf += non_inferior(res, alpha, scenario.margin)
    bound = mc_bound(alpha, runs)
    rates = {
        "false_improved": improved / runs if scenario.aa else None,
        "false_regressed": regressed / runs if scenario.aa else None,
        "false_non_inferior": non_inf / runs,
    }
    return {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "n": scenario.n,
        "G": scenario.groups,
        "margin": scenario.margin,
        "runs": runs,
        **rates,
        "mc_bound": round(bound, 4),
        "ok": all(v is None or v <= bound for v in rates.values()),
    }


def power(
    scenario: Scenario, effect: float, runs: int, *, alpha: float = 0.05, n_resamples: int = 2_000
) -> float:
    """Share of runs with a planted ``effect`` that the superiority gate calls IMPROVED."""
    hits = 0
    for r in range(runs):
        rng = np.random.default_rng([7, r])
        res = run_test(scenario, scenario.simulate(rng, effect), n_resamples, rng)
        hits += improves(res, alpha) == "IMPROVED"
    return hits / runs
