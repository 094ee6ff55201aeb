"""The one decision function of tunegate's gates, and Holm's correction across a run's claims.

Every verdict, at test time and after Holm, comes from :func:`decide`, a pure function of plain
numbers (so it decides the same on live objects and on results.json records). Semantics follow
the methods page (docs/statistics.md):

- ``improves`` (superiority, H0 delta <= min_delta): IMPROVED when p < alpha; REGRESSED when the
  whole interval is below 0; UNDERPOWERED when the test did not reject and the MDE exceeds
  ``min_delta`` (or cannot be estimated); else INCONCLUSIVE.
- ``no_regression`` (non-inferiority, H0 delta <= -margin): REGRESSED when the interval lies below
  0 and reaches -margin; NON_INFERIOR whenever the one-sided lower bound is above -margin (a
  shown result is never turned into UNDERPOWERED); UNDERPOWERED when not shown and the MDE exceeds
  the margin; else INCONCLUSIVE.
- Below the coverage floor (too many items unscored for reasons outside the candidate) a gate
  is INCOMPLETE unless a regression is shown anyway.

Bounds and p-values here are in the improvement direction (already sign-flipped for metrics where
lower is better).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal

from tunegate.harness.stats import holm

Verdict = Literal[
    "IMPROVED", "NON_INFERIOR", "UNDERPOWERED", "REGRESSED", "INCONCLUSIVE", "INCOMPLETE", "NOT_GATED"
]
GateType = Literal["improves", "no_regression"]
PASSING: frozenset[str] = frozenset({"IMPROVED", "NON_INFERIOR", "NOT_GATED"})
VERDICTS: tuple[str, ...] = (
    "IMPROVED",
    "NON_INFERIOR",
    "UNDERPOWERED",
    "REGRESSED",
    "INCONCLUSIVE",
    "INCOMPLETE",
    "NOT_GATED",
)


def decide(
    *,
    gate: GateType,
    size: float,
    alpha: float,
    p_claim: float,
    low: float,
    high: float,
    mde: float,
    coverage_ok: bool = True,
) -> Verdict:
    """The verdict of one gate.

    ``size``: min_delta (improves) or margin (no_regression); ``p_claim``: p of the gate's own
    null (Holm-adjusted for improvement claims once the run is complete); ``low``/``high``: the
    two-sided (1 - 2 alpha) interval, oriented so that positive is better; ``mde``: minimum
    detectable effect at ``alpha`` with 80% power.
    """
    underpowered = not math.isfinite(mde) or (size > 0 and mde > size)
    if gate == "improves":
        if not coverage_ok:
            return "REGRESSED" if high < 0 else "INCOMPLETE"
        if p_claim < alpha:
            return "IMPROVED"
        if high < 0:
            return "REGRESSED"
        return "UNDERPOWERED" if underpowered else "INCONCLUSIVE"
    if high < 0 and low <= -size:
        return "REGRESSED"
    if not coverage_ok:
        return "INCOMPLETE"
    if low > -size:
        return "NON_INFERIOR"
    return "UNDERPOWERED" if underpowered else "INCONCLUSIVE"


def shown_p(verdict: str, p_null: float | None, p_drop: float | None, p_adjusted: float | None) -> float | None:
    """The p of the claim that decided ``verdict``: the drop's for REGRESSED, else the gate's own
    null (Holm-adjusted once the run is complete)."""
    if verdict == "REGRESSED":
        return p_drop
    return p_null if p_adjusted is None else p_adjusted


def claim_text(gate: str, size: float, verdict: str, *, higher_is_better: bool, adjusted: bool) -> str:
    """The null hypothesis whose p :func:`shown_p` gives, in the measured direction."""
    op_le, op_ge = ("<=", ">=") if higher_is_better else (">=", "<=")
    if verdict == "REGRESSED":
        return f"drop: H0 delta {op_ge} 0"
    sign = 1.0 if higher_is_better else -1.0
    null = sign * (size if gate == "improves" else -size)
    return f"H0 delta {op_le} {null:+.3g}" + (" (Holm-adjusted)" if adjusted else "")


def decide_entry(gate: MutableMapping[str, Any]) -> Verdict:
    """:func:`decide` on a gate entry of results.json (see tunegate/harness/record.py ``GateResult``)."""
    p = gate.get("p_adjusted")
    if p is None:
        p = gate.get("p_null")
    return decide(
        gate=gate["type"],
        size=float(gate["size"]),
        alpha=float(gate["alpha"]),
        p_claim=_num(p, 1.0),
        low=_num(gate.get("low_oriented"), -math.inf),
        high=_num(gate.get("high_oriented"), math.inf),
        mde=_num(gate.get("mde"), math.inf),
        coverage_ok=bool(gate.get("coverage_ok", True)),
    )


def apply_holm(gates: Iterable[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    """Holm across every improvement claim of a run, whatever the order the gates were called in.

    Each ``improves`` gate entry gets ``p_adjusted`` and is re-decided with it; returns the entries
    that were IMPROVED on their own p and are not after the correction. Entries are changed in
    place (they are the run record's gate entries before it is frozen).
    """
    claims = [g for g in gates if g.get("type") == "improves" and g.get("p_null") is not None]
    if not claims:
        return []
    adjusted = holm([float(g["p_null"]) for g in claims])
    lost = []
    for g, p_adj in zip(claims, adjusted, strict=True):
        before = g.get("verdict")
        g["p_adjusted"] = float(p_adj)
        g["holm_family"] = len(claims)
        g["verdict"] = decide_entry(g)
        g["passed"] = g["verdict"] in PASSING
        if before == "IMPROVED" and g["verdict"] != "IMPROVED":
            lost.append(g)
    return lost


def _num(x: Any, default: float) -> float:
    if x is None:
        return default
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if not math.isnan(v) else default
