"""Vectorised resampling engines shared by the bootstrap, cluster bootstrap and randomization tests.

Both engines work on per-unit sufficient statistics (a unit is an item, or a whole group for the
cluster bootstrap) and return *sums* over each resample, so one engine serves means (stats = d)
and corpus metrics (stats = base and candidate counts side by side: one index draw pairs them).

Memory stays bounded: resamples are drawn in chunks of about ``CHUNK_ELEMENTS`` indices. When the
units take few distinct values (0/1 scores, Likert judge grades) the resample only needs how many
times each distinct value was drawn, a multinomial (bootstrap) or binomial (randomization) draw
per value: the same distribution, orders of magnitude fewer random numbers.
"""

from __future__ import annotations

import numpy as np

CHUNK_ELEMENTS = 1 << 22
MAX_DISTINCT = 64
# Below this many draws the index path is cheaper than finding the distinct rows.
SHORTCUT_MIN_WORK = 1 << 20


def _distinct_rows(stats: np.ndarray, n_resamples: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct rows, multiplicities) when there are few of them and it pays, else None."""
    m = stats.shape[0]
    if m <= MAX_DISTINCT or m * n_resamples < SHORTCUT_MIN_WORK:
        return None
    if stats.shape[1] == 1:
        values, counts = np.unique(stats[:, 0], return_counts=True)
        rows = values[:, None]
    else:
        rows, counts = np.unique(stats, axis=0, return_counts=True)
    if rows.shape[0] > MAX_DISTINCT:
        return None
    return rows, counts


def _chunks(total: int, per_row: int) -> list[int]:
    size = max(1, CHUNK_ELEMENTS // max(per_row, 1))
    return [min(size, total - start) for start in range(0, total, size)]


def resample_sums(stats: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Sums of ``stats`` (m, q) over ``n_resamples`` bootstrap resamples of its m rows: (R, q).

    Every row is drawn as a whole, so columns that belong to the two systems stay paired.
    """
    stats = np.asarray(stats, dtype=float)
    m, q = stats.shape
    distinct = _distinct_rows(stats, n_resamples)
    if distinct is not None:
        rows, counts = distinct
        weights = rng.multinomial(m, counts / m, size=n_resamples)
        return weights.astype(float) @ rows
    out = np.empty((n_resamples, q))
    start = 0
    for size in _chunks(n_resamples, m):
        idx = rng.integers(0, m, size=(size, m))
        if q <= 2:
            # A gather per column beats building the count matrix when there are few columns.
            for j in range(q):
                out[start : start + size, j] = np.take(stats[:, j], idx).sum(axis=1)
        else:
            idx += (np.arange(size) * m)[:, None]
            counts = np.bincount(idx.ravel(), minlength=size * m).reshape(size, m)
            out[start : start + size] = counts.astype(float) @ stats
        start += size
    return out


def _random_bits(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    raw = np.frombuffer(rng.bytes((rows * cols + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw, count=rows * cols).reshape(rows, cols)


def swap_sums(
    base_stats: np.ndarray, cand_stats: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate randomization: swap each unit's two systems with probability 1/2.

    Returns the summed stats of the two pseudo-systems, each (R, k). Pseudo-system A starts as
    the base; a swapped unit contributes its candidate stats instead.
    """
    base_stats = np.asarray(base_stats, dtype=float)
    cand_stats = np.asarray(cand_stats, dtype=float)
    diff = cand_stats - base_stats
    base_total = base_stats.sum(axis=0)
    grand = base_total + cand_stats.sum(axis=0)
    m, k = diff.shape
    distinct = _distinct_rows(diff, n_resamples)
    if distinct is not None:
        rows, counts = distinct
        swapped = rng.binomial(counts, 0.5, size=(n_resamples, counts.size))
        a = base_total + swapped.astype(float) @ rows
        return a, grand - a
    a = np.empty((n_resamples, k))
    start = 0
    for size in _chunks(n_resamples, m):
        a[start : start + size] = base_total + _random_bits(rng, size, m).astype(float) @ diff
        start += size
    return a, grand - a
