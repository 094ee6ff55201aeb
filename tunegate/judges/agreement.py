"""Agreement between a judge and gold labels: confusion matrix and Cohen's kappa.

Weighted kappa (Cohen 1968) for k ordered labels, with O the observed proportions (rows: rater
a, columns: rater b), E the outer product of the two raters' marginals and W the disagreement
weights (quadratic: ((i - j) / (k - 1))^2; linear: |i - j| / (k - 1); none: 1 off the diagonal)::

    kappa = 1 - sum(W * O) / sum(W * E)

Quadratic weights suit ordinal scores: being off by two costs four times being off by one.
Kappa is undefined when the chance disagreement is zero (both raters always give one and the
same label); it is then reported as NaN, never as a perfect 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Weights = Literal["quadratic", "linear", "none"]


def confusion_matrix(a: Sequence[int], b: Sequence[int], labels: Sequence[int]) -> np.ndarray:
    """Counts ``m[i, j]`` of items rater a put in ``labels[i]`` and rater b in ``labels[j]``."""
    if len(a) != len(b):
        raise ValueError(f"the two raters labelled different numbers of items: {len(a)} vs {len(b)}")
    index = {label: i for i, label in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for x, y in zip(a, b, strict=True):
        if x not in index or y not in index:
            bad = x if x not in index else y
            raise ValueError(f"label {bad!r} is not one of {list(labels)}")
        m[index[x], index[y]] += 1
    return m


def weight_matrix(k: int, weights: Weights = "quadratic") -> np.ndarray:
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    if weights == "none":
        return (i != j).astype(float)
    dist = np.abs(i - j) / max(k - 1, 1)
    if weights == "linear":
        return dist
    if weights == "quadratic":
        return dist**2
    raise ValueError(f"weights must be 'quadratic', 'linear' or 'none', got {weights!r}")


def cohen_kappa(
    a: Sequence[int], b: Sequence[int], labels: Sequence[int] | None = None, *, weights: Weights = "quadratic"
) -> float:
    """Cohen's kappa between two raters over ordered ``labels`` (default: the sorted labels seen).

    >>> round(cohen_kappa([1, 2, 3, 4], [1, 2, 3, 3]), 3)
    0.875
    """
    if labels is None:
        labels = sorted(set(a) | set(b))
    if len(a) == 0:
        return float("nan")
    m = confusion_matrix(a, b, labels).astype(float)
    observed = m / m.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    w = weight_matrix(len(labels), weights)
    chance = float((w * expected).sum())
    if chance == 0.0:
        return float("nan")
    return 1.0 - float((w * observed).sum()) / chance


def to_label(score: float, labels: Sequence[int]) -> int:
    """The nearest label to a (possibly probability-weighted) score; halves round up."""
    lo, hi = min(labels), max(labels)
    return int(min(hi, max(lo, np.floor(score + 0.5))))
