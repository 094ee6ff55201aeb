"""Calibration of the gates by simulation: A/A runs, the non-inferiority boundary, and power.

For each metric kind, through ``compare_scores`` and the real gates:

- A/A (candidate = base + zero-mean noise): ``assert_improves`` passes (IMPROVED) and wrongly
  reports REGRESSED each at most alpha of the time;
- true delta = -margin (the boundary of non-inferiority): ``assert_no_regression`` passes at most
  alpha of the time;
- a planted improvement equal to the MDE the A/A runs reported: ``assert_improves`` passes about
  80% of the time (0.7-0.9).

Rates are checked within three Monte-Carlo standard errors.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable

import numpy as np
import pytest

from harness.compare import compare_scores
from harness.errors import GateFailure
from harness.metrics.base import Kind, MetricScores

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


def ratio(sums: np.ndarray) -> np.ndarray:
    """A simple corpus metric: matched tokens / total tokens."""
    return sums[..., 0] / sums[..., 1]


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
