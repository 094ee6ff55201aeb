"""Calibration of the gates by simulation: A/A runs, the non-inferiority boundary, and power.

For each metric kind, through ``compare_scores`` and the real gates:

- A/A (candidate = base + zero-mean noise): ``assert_improves`` passes (IMPROVED) and wrongly
  reports REGRESSED each at most alpha of the time;
- true delta = -margin (the boundary of non-inferiority): ``assert_no_regression`` passes at most
  alpha of the time;
- a planted improvement equal to the MDE the A/A runs reported: ``assert_improves`` passes about
  80% of the time (0.7-0.9).

Rates are checked within three Monte-Carlo standard errors.

The scenarios of ``tunegate.harness.stats.calibration`` (few groups, skewed and sparse discrete deltas,
zero spread at n = 2 and 3, binary at the boundary) run here through ``compare_scores`` and the
real gates with few runs and a looser bound; test_stats_calibration_slow.py runs every one of
them 1000 times at the stats level.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable

import numpy as np
import pytest

from tunegate.harness.compare import compare_scores
from tunegate.harness.errors import GateFailure
from tunegate.harness.metrics.base import Kind, MetricScores
from tunegate.harness.stats.calibration import Scenario, SimData, mc_bound, ratio, scenarios

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ALPHA = 0.05
N_NULL = 1000
N_POWER = 500
TOLERANCE = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / N_NULL)

Sim = Callable[[np.random.Generator], tuple[MetricScores, MetricScores]]


def binary_sim(n: int, delta: float, discordant: float = 0.16) -> Sim:
    # Discordant cells: candidate-only right with (discordant + delta) / 2, base-only with the rest.
    px, py = (discordant + delta) / 2, (discordant - delta) / 2

    def sim(rng: np.random.Generator) -> tuple[MetricScores, MetricScores]:
        agree = (rng.random(n) < 0.7).astype(float)
        cell = rng.choice(3, size=n, p=[px, py, 1 - px - py])
        base = np.where(cell == 0, 0.0, np.where(cell == 1, 1.0, agree))
        cand = np.where(cell == 0, 1.0, np.where(cell == 1, 0.0, agree))
        return MetricScores(base), MetricScores(cand)

    return sim


def continuous_sim(n: int, delta: float) -> Sim:
    def sim(rng: np.random.Generator) -> tuple[MetricScores, MetricScores]:
        base = rng.random(n)
        return MetricScores(base), MetricScores(base + rng.normal(delta, 0.2, n))

    return sim


def corpus_sim(n: int, delta: float) -> Sim:
    def sim(rng: np.random.Generator) -> tuple[MetricScores, MetricScores]:
        total = rng.integers(5, 30, n)
        p = rng.beta(6, 4, n)
        matched_b = rng.binomial(total, p)
        matched_c = rng.binomial(total, np.clip(p + delta, 0, 1))
        sb, sc = np.c_[matched_b, total].astype(float), np.c_[matched_c, total].astype(float)
        return (
            MetricScores(matched_b / total, stats=sb, corpus=ratio),
            MetricScores(matched_c / total, stats=sc, corpus=ratio),
        )

    return sim


def run_gate(kind: Kind, sim: Sim, sims: int, gate: str, size: float, seed: int) -> tuple[np.ndarray, float]:
    """Verdicts of ``sims`` simulated comparisons and the median MDE they reported."""
    verdicts, mdes = [], []
    for s in range(sims):
        base, cand = sim(np.random.default_rng([seed, s]))
        ids = [f"i{k}" for k in range(len(base.values))]
        comp = compare_scores(
            suite="sim",
            metric_name="m",
            kind=kind,
            ids=ids,
            base=base,
            candidate=cand,
            seed=s,
            n_resamples=400,
        )
        with contextlib.suppress(GateFailure):
            getattr(comp, gate)(size)
        assert comp.gate is not None
        verdicts.append(comp.gate.verdict)
        mdes.append(comp.gate.mde)
    return np.asarray(verdicts), float(np.median(mdes))


CASES: dict[Kind, tuple[Callable[[int, float], Sim], int, float]] = {
    # kind: (simulator factory, items, margin)
    "binary": (binary_sim, 1000, 0.05),
    "continuous": (continuous_sim, 200, 0.05),
    "corpus": (corpus_sim, 200, 0.03),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CASES))
def test_gates_are_calibrated_and_powered(kind: Kind) -> None:
    make, n, margin = CASES[kind]

    null_verdicts, mde = run_gate(kind, make(n, 0.0), N_NULL, "assert_improves", 0.0, seed=1)
    assert np.mean(null_verdicts == "IMPROVED") <= TOLERANCE
    assert np.mean(null_verdicts == "REGRESSED") <= TOLERANCE

    boundary, _ = run_gate(kind, make(n, -margin), N_NULL, "assert_no_regression", margin, seed=2)
    assert np.mean(boundary == "NON_INFERIOR") <= TOLERANCE

    powered, _ = run_gate(kind, make(n, mde), N_POWER, "assert_improves", 0.0, seed=3)
    assert 0.7 <= np.mean(powered == "IMPROVED") <= 0.9


FAST_RUNS = 100
FAST_BOUND = mc_bound(ALPHA, FAST_RUNS)
FAST_CASES = [
    ("continuous_groups", 16),
    ("continuous_groups", 80),
    ("binary_groups", 40),
    ("binary_groups", 200),
    ("corpus_groups", 30),
    ("skewed", 10),
    ("skewed", 30),
    ("likert_sparse", 10),
    ("likert_sparse", 30),
    ("zero_spread", 2),
    ("zero_spread", 3),
    ("zero_spread_groups", 8),
    ("zero_spread_groups", 12),
    ("binary_boundary", 10),
    ("binary_boundary", 100),
    ("normal", 10),
]


def _scenario(name: str, n: int) -> Scenario:
    return next(s for s in scenarios() if s.name == name and s.n == n)


def _compare(scenario: Scenario, data: SimData, seed: int):  # type: ignore[no-untyped-def]
    corpus = ratio if scenario.kind == "corpus" else None
    return compare_scores(
        suite="sim",
        metric_name="m",
        kind=scenario.kind,
        ids=[f"i{k}" for k in range(len(data.base))],
        base=MetricScores(np.asarray(data.base, dtype=float), stats=data.base_stats, corpus=corpus),
        candidate=MetricScores(np.asarray(data.candidate, dtype=float), stats=data.cand_stats, corpus=corpus),
        groups=data.groups,
        seed=seed,
        n_resamples=2_000,
    )


def gate_verdicts(
    scenario: Scenario, delta: float, gate: str, size: float, runs: int, seed: int
) -> np.ndarray:
    """Verdicts of the public gate API on ``runs`` simulated comparisons with true delta ``delta``."""
    out = []
    for r in range(runs):
        data = scenario.simulate(np.random.default_rng([seed, r]), delta)
        comp = _compare(scenario, data, r)
        with contextlib.suppress(GateFailure):
            getattr(comp, gate)(size)
        out.append(comp.verdict)
    return np.asarray(out)


@pytest.mark.parametrize(("name", "n"), FAST_CASES)
def test_gate_api_false_pass_rates(name: str, n: int) -> None:
    scenario = _scenario(name, n)
    aa = gate_verdicts(scenario, 0.0, "assert_improves", 0.0, FAST_RUNS, seed=11)
    assert np.mean(aa == "IMPROVED") <= FAST_BOUND, f"{scenario.label()}: false IMPROVED"
    assert np.mean(aa == "REGRESSED") <= FAST_BOUND, f"{scenario.label()}: false REGRESSED"
    boundary = gate_verdicts(
        scenario, -scenario.margin, "assert_no_regression", scenario.margin, FAST_RUNS, 12
    )
    assert np.mean(boundary == "NON_INFERIOR") <= FAST_BOUND, f"{scenario.label()}: false NON_INFERIOR"


@pytest.mark.parametrize(
    ("name", "n", "effect", "least"),
    [
        ("normal", 200, 0.035, 0.6),  # the MDE at this n (sd 0.2): about 80% power
        ("skewed", 100, 0.1, 0.7),  # bootstrap-t path: a real gain of 0.1 is found
        ("binary_groups", 400, 0.08, 0.6),  # clustered t on 20 groups
        ("corpus_groups", 200, 0.05, 0.6),  # group jackknife t on 20 groups
    ],
)
def test_gate_api_finds_a_planted_improvement(name: str, n: int, effect: float, least: float) -> None:
    verdicts = gate_verdicts(_scenario(name, n), effect, "assert_improves", 0.0, 60, seed=13)
    assert np.mean(verdicts == "IMPROVED") >= least


def test_gate_api_shows_non_inferiority_when_nothing_changed_on_enough_items() -> None:
    # 60 Likert items, none changed: a drop of 0.1 is ruled out (p = 0.9^60), so the zero-spread
    # guard is not a test that never passes.
    scenario = _scenario("likert_sparse", 60)
    base = np.random.default_rng(0).integers(2, 5, 60).astype(float)
    comp = _compare(scenario, SimData(base, base.copy()), 0)
    comp.assert_no_regression(0.1)
    assert comp.verdict == "NON_INFERIOR"
