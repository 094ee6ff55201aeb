"""Clustered inference for mean(d) when items share groups: CR2 standard error with
Bell-McCaffrey / Imbens-Kolesar degrees of freedom.

The plain clustered SE (CR1: sqrt(G / (G - 1)) times the sandwich) with t on G - 1 df holds
only for groups of similar size: with one group ten times another, or geometric sizes, it was
measured at 8-16% false claims at alpha 0.05 (G = 5-20). For the mean (an intercept-only
regression) the CR2 correction of Bell & McCaffrey (2002) has a closed form: the residual sum
S_g of group g is scaled by (1 - n_g / n)^(-1/2), so

    SE^2 = sum_g S_g^2 / (1 - n_g / n) / n^2,

which is unbiased under independent, equal-variance items, whatever the sizes. Its reference
distribution is t with the Satterthwaite degrees of freedom of Imbens & Kolesar (2016, "Robust
standard errors in small samples: some practical advice", REStat): df = (sum lambda)^2 /
sum lambda^2 over the eigenvalues of C (M + rho M^2) C with M = diag(n_g) - n_g n_h / n,
C = diag((1 - n_g / n)^(-1/2)) and rho the between/within variance ratio of a random-effects
working model (one-way ANOVA estimate, floored at 0). Equal sizes give df = G - 1 and the SE of
the one-sample t on group means; unequal sizes give fewer df, as many as the largest groups
really contribute. Cameron, Gelbach & Miller (2008) and MacKinnon & Webb (2017) document the
failure of CR1 with few or unequal clusters that this corrects.
"""

from __future__ import annotations

import math

import numpy as np


def cr2_se_df(d: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[float, float]:
    """(CR2 SE of mean(d), Imbens-Kolesar df) for groups ``codes`` (0..G-1)."""
    n = d.size
    if n_groups < 2:
        return math.nan, math.nan
    sizes = np.bincount(codes, minlength=n_groups).astype(float)
    resid = d - d.mean()
    sums = np.bincount(codes, weights=resid, minlength=n_groups)
    share = sizes / n
    se = math.sqrt(float(np.sum(sums**2 / (1.0 - share)))) / n
    return se, ik_df(d, codes, sizes)


def cr2_units(d: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """The group residual sums S_g scaled by (1 - n_g / n)^(-1/2): SE^2 = sum(units^2) / n^2."""
    sizes = np.bincount(codes, minlength=n_groups).astype(float)
    sums = np.bincount(codes, weights=d - d.mean(), minlength=n_groups)
    return np.asarray(sums / np.sqrt(1.0 - sizes / d.size))


def between_within_ratio(d: np.ndarray, codes: np.ndarray, sizes: np.ndarray) -> float:
    """rho = sigma_between^2 / sigma_within^2 from a one-way ANOVA (floored at 0)."""
    n, g = d.size, sizes.size
    means = np.bincount(codes, weights=d, minlength=g) / sizes
    within = float(np.sum((d - means[codes]) ** 2))
    between = float(np.sum(sizes * (means - d.mean()) ** 2))
    if n - g <= 0:
        return 0.0
    ms_within = within / (n - g)
    ms_between = between / (g - 1)
    n0 = (n - float(np.sum(sizes**2)) / n) / (g - 1)
    if ms_within <= 0.0:
        return 0.0 if ms_between <= 0.0 else 1e6
    return max(0.0, (ms_between - ms_within) / n0 / ms_within)


def ik_df(d: np.ndarray, codes: np.ndarray, sizes: np.ndarray) -> float:
    """Imbens-Kolesar degrees of freedom of the CR2 t for the mean."""
    n = float(sizes.sum())
    rho = between_within_ratio(d, codes, sizes)
    m = np.diag(sizes) - np.outer(sizes, sizes) / n
    c = 1.0 / np.sqrt(1.0 - sizes / n)
    w = c[:, None] * (m + rho * (m @ m)) * c[None, :]
    tr = float(np.trace(w))
    tr2 = float(np.sum(w * w))
    return tr * tr / tr2 if tr2 > 0 else float(sizes.size - 1)
