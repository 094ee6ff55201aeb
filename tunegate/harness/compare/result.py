"""The Comparison: paired scores of base and candidate for one metric on one suite, and its gates.

A Comparison is frozen once built. Its gates are appended to a ``GateLog`` (the one mutable part,
append-only), so a chain like ``compare(...).assert_improves(0).assert_no_regression(0.02)``
records both gates and every claim of improvement reaches Holm's correction whatever the order.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tunegate.harness.compare.alignment import Coverage
from tunegate.harness.compare.decision import PASSING, GateType, Verdict, claim_text, decide, shown_p
from tunegate.harness.compare.messages import Facts, gate_message, summary_sentence
from tunegate.harness.compare.relative import parse_margin, ratio_test
from tunegate.harness.errors import ConfigError, GateFailure, StatsError
from tunegate.harness.levels import DEFAULT_ALPHA, check_alpha
from tunegate.harness.metrics.base import CorpusFn, Kind
from tunegate.harness.record_sections import AGAINST, AGAINST_HELP, Against, pair_name
from tunegate.harness.stats import (
    PairedTestResult,
    SliceResult,
    finite_or_none,
    items_needed,
    minimum_detectable_effect,
    order_slices,
)


class AdvisoryGateWarning(UserWarning):
    """An advisory comparison (e.g. from an unreliable judge) failed its gate; it cannot fail the run."""


@dataclass(frozen=True)
class GateRecord:
    """One gate applied to a comparison, with everything the report needs.

    ``p_null``: p of the gate's own null (H0 delta <= min_delta, or <= -margin); ``p_drop``: p of
    "the candidate is worse at all" (H0 delta >= 0); ``p_adjusted``: Holm-adjusted ``p_null`` of an
    improvement claim once the run is complete. ``low``/``high`` are the two-sided (1 - 2 alpha)
    interval as measured (candidate - base); ``low_oriented``/``high_oriented`` the same in the
    improvement direction. ``relative``: the margin as a share of the base's mean ("10%" -> 0.1);
    ``size`` is then that share of the measured base mean (see ``tunegate.harness.compare.relative``).
    """

    type: GateType
    alpha: float
    size: float
    verdict: Verdict
    p_null: float
    p_drop: float
    ci_low: float
    ci_high: float
    ci_level: float
    low_oriented: float
    high_oriented: float
    mde: float
    coverage_ok: bool = True
    n_needed: int | None = None
    p_adjusted: float | None = None
    message: str = ""
    relative: float | None = None

    @property
    def passed(self) -> bool:
        return self.verdict in PASSING

    @property
    def p_value(self) -> float:
        """The p of the claim that decided the verdict (see :meth:`claim`)."""
        p = shown_p(self.verdict, self.p_null, self.p_drop, self.p_adjusted)
        return self.p_null if p is None else p

    def claim(self, higher_is_better: bool = True) -> str:
        """The null hypothesis whose p is :attr:`p_value`, in the measured direction."""
        return claim_text(
            self.type, self.size, self.verdict, higher_is_better=higher_is_better, adjusted=self.p_adjusted is not None,
            relative=self.relative,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateRecord:
        """A gate entry of results.json back as a record (null: not computable -> NaN, MDE -> inf)."""

        def num(key: str, missing: float = math.nan) -> float:
            v = d.get(key)
            return missing if v is None else float(v)

        return cls(
            type=d["type"], alpha=float(d["alpha"]), size=float(d["size"]), verdict=d["verdict"],
            p_null=num("p_null"), p_drop=num("p_drop"), ci_low=num("ci_low"), ci_high=num("ci_high"),
            ci_level=float(d["ci_level"]), low_oriented=num("low_oriented", -math.inf),
            high_oriented=num("high_oriented", math.inf), mde=num("mde", math.inf),
            coverage_ok=bool(d.get("coverage_ok", True)), n_needed=d.get("n_needed"),
            p_adjusted=None if d.get("p_adjusted") is None else float(d["p_adjusted"]),
            message=str(d.get("message") or ""),
            relative=None if d.get("relative_margin") is None else float(d["relative_margin"]),
        )  # fmt: skip

    def to_dict(self, higher_is_better: bool = True) -> dict[str, Any]:
        return {
            "type": self.type,
            "size": self.size,
            "min_delta": self.size if self.type == "improves" else None,
            "margin": self.size if self.type == "no_regression" else None,
            "alpha": self.alpha,
            "verdict": self.verdict,
            "passed": self.passed,
            "p_value": finite_or_none(self.p_value),
            "claim": self.claim(higher_is_better),
            "p_null": finite_or_none(self.p_null),
            "p_drop": finite_or_none(self.p_drop),
            "p_adjusted": finite_or_none(self.p_adjusted) if self.p_adjusted is not None else None,
            "ci_low": finite_or_none(self.ci_low),
            "ci_high": finite_or_none(self.ci_high),
            "ci_level": self.ci_level,
            "low_oriented": finite_or_none(self.low_oriented),
            "high_oriented": finite_or_none(self.high_oriented),
            "mde": finite_or_none(self.mde),
            "n_needed": self.n_needed,
            "coverage_ok": self.coverage_ok,
            "message": self.message,
            "relative_margin": self.relative,
        }


class GateLog:
    """Append-only list of the gates applied to one comparison."""

    def __init__(self) -> None:
        self._records: list[GateRecord] = []

    def append(self, record: GateRecord) -> None:
        self._records.append(record)

    @property
    def records(self) -> tuple[GateRecord, ...]:
        return tuple(self._records)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Paired scores of base and candidate for one metric on one suite, and the gates applied.

    ``result`` is the paired test at delta = 0; ``coverage`` says how unscored items were treated;
    ``advisory`` comparisons (an unreliable judge) record failures as warnings and cannot pass or
    fail a run on their own.

    ``against`` names the pair: the candidate is paired with the base, or with the reference in
    production (``--reference``; ``reference`` is then its label). The ``base`` side of ``result``,
    ``coverage``, ``slices`` and ``flips`` is that model. ``means`` holds the descriptive means of
    the run's other models on the same items (``base`` in a comparison against the reference, and
    the reverse), for the three-column view; they are not tested.
    """

    suite: str
    metric: str
    kind: Kind
    candidate: str
    ids: tuple[str, ...]
    result: PairedTestResult
    coverage: Coverage
    alpha: float = DEFAULT_ALPHA
    higher_is_better: bool = True
    advisory: bool = False
    failed_ids: tuple[str, ...] = ()
    metric_info: dict[str, Any] = field(default_factory=dict)
    slices: tuple[SliceResult, ...] = ()
    flips: dict[str, list[str]] | None = None
    base_values: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    candidate_values: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    base_stats: np.ndarray | None = field(default=None, repr=False)
    candidate_stats: np.ndarray | None = field(default=None, repr=False)
    corpus: CorpusFn | None = field(default=None, repr=False)
    groups: tuple[str | None, ...] | None = field(default=None, repr=False)
    log: GateLog = field(default_factory=GateLog, repr=False, compare=False)
    against: Against = "base"
    reference: str | None = None
    means: dict[str, float | None] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """``suite::metric::candidate``, and ``::vs-reference`` for a comparison against the reference."""
        pair = "::vs-reference" if self.against == "reference" else ""
        return f"{self.suite}::{self.metric}::{self.candidate}{pair}"

    @property
    def other(self) -> str:
        """The model the candidate is paired with, in words: ``base`` or ``reference (label)``."""
        return pair_name(self.against, self.reference)

    @property
    def n(self) -> int:
        return self.result.n

    @property
    def n_failed(self) -> int:
        return len(self.failed_ids)

    @property
    def delta(self) -> float:
        return self.result.statistic

    @property
    def sign(self) -> float:
        return 1.0 if self.higher_is_better else -1.0

    @property
    def gates(self) -> tuple[GateRecord, ...]:
        return self.log.records

    @property
    def gate(self) -> GateRecord | None:
        """The gate that decides this comparison: the first failing one, else the last."""
        failing = [g for g in self.gates if not g.passed]
        if failing:
            return failing[0]
        return self.gates[-1] if self.gates else None

    @property
    def verdict(self) -> Verdict:
        gate = self.gate
        return "NOT_GATED" if gate is None else gate.verdict

    @property
    def passed(self) -> bool:
        gate = self.gate
        return True if gate is None else gate.passed

    # -- gates ------------------------------------------------------------------------------

    def assert_improves(self, min_delta: float = 0.0, alpha: float | None = None) -> Comparison:
        """Superiority: one-sided test of H0 delta <= min_delta; raises GateFailure unless IMPROVED."""
        if isinstance(min_delta, bool) or not (isinstance(min_delta, int | float) and math.isfinite(min_delta) and min_delta >= 0):
            raise StatsError(
                f"min_delta must be a number >= 0, got {min_delta!r}; for 'not worse by more than x' "
                "use assert_no_regression(margin=x)"
            )
        alpha = check_alpha(self.alpha if alpha is None else alpha)
        return self._record(self.evaluate("improves", float(min_delta), alpha))

    def assert_no_regression(self, margin: float | str, alpha: float | None = None) -> Comparison:
        """Non-inferiority: passes when the one-sided (1 - alpha) lower bound is above -margin.

        ``margin`` is in the metric's units (0.02), or a share of the base's mean ("10%": the
        candidate's mean may be at most 10% worse; a paired test of the ratio, see
        ``tunegate.harness.compare.relative``)."""
        size, ratio = parse_margin(margin)
        alpha = check_alpha(self.alpha if alpha is None else alpha)
        return self._record(self.evaluate("no_regression", size, alpha, relative=ratio))

    def _record(self, record: GateRecord) -> Comparison:
        self.log.append(record)
        if not record.passed:
            if self.advisory:
                warnings.warn(
                    f"advisory only, not failing the run: {record.message}", AdvisoryGateWarning, stacklevel=3
                )
            else:
                raise GateFailure(record.message)
        return self

    def evaluate(self, gate: GateType, size: float, alpha: float, *, relative: float | None = None) -> GateRecord:
        """The gate's record without applying it (pure). ``relative``: a non-inferiority margin as
        a share of the base's mean (``size`` is then ignored; see ``compare.relative``)."""
        res, sign = self.result, self.sign
        level = 1.0 - 2.0 * alpha
        low, high = res.confidence_interval(level, "two-sided")
        low_o, high_o = (low, high) if sign > 0 else (-high, -low)
        null = sign * (size if gate == "improves" else -size)
        better: Literal["greater", "less"] = "greater" if sign > 0 else "less"
        worse: Literal["greater", "less"] = "less" if sign > 0 else "greater"
        p_null = res.pvalue_at(null, better)
        p_drop = res.pvalue_at(0.0, worse)
        mde = minimum_detectable_effect(res.se, alpha=alpha, **_df(res))
        se, df = res.se, getattr(res, "df", None)
        if relative is not None:
            where = f"{self.metric} on {self.suite}"
            if gate != "no_regression" or self.kind == "corpus":
                raise StatsError(
                    f"{where}: a relative margin is a non-inferiority margin on a mean of per-item scores; "
                    "give an absolute margin (a number)"
                )
            rt = ratio_test(
                base=self.base_values, candidate=self.candidate_values, ratio=relative,
                higher_is_better=self.higher_is_better, alpha=alpha, groups=self.groups, where=where,
            )  # fmt: skip
            size, low_o, p_null, se, df = rt.size, rt.low_oriented, rt.p_null, rt.se, rt.df
        verdict = decide(
            gate=gate,
            size=size,
            alpha=alpha,
            p_claim=p_null,
            low=low_o,
            high=high_o,
            mde=mde,
            coverage_ok=self.coverage.ok,
        )
        needed = (
            items_needed(se, res.n, size, alpha=alpha, df=df, df_grows=not res.clustered)
            if verdict in ("UNDERPOWERED", "INCONCLUSIVE")
            else None
        )
        record = GateRecord(
            type=gate,
            alpha=alpha,
            size=size,
            verdict=verdict,
            p_null=p_null,
            p_drop=p_drop,
            ci_low=low,
            ci_high=high,
            ci_level=level,
            low_oriented=low_o,
            high_oriented=high_o,
            mde=mde,
            coverage_ok=self.coverage.ok,
            n_needed=needed,
            relative=relative,
        )
        return GateRecord(**{**record.__dict__, "message": gate_message(Facts.of(self), record)})

    # -- output -----------------------------------------------------------------------------

    def summary(self) -> str:
        """One sentence with the ungated result (used as the message when no gate ran)."""
        return summary_sentence(self)

    def ordered_slices(self) -> list[SliceResult]:
        """Slices with the one driving a regression first (see ``tunegate.harness.stats.order_slices``)."""
        margin = next((g.size for g in reversed(self.gates) if g.type == "no_regression"), None)
        return order_slices(list(self.slices), self.sign, margin)

    def to_dict(self) -> dict[str, Any]:
        """The "comparisons" entry of results.json (tunegate/harness/record.py); NaN and inf become null."""
        res, gate = self.result, self.gate
        if gate is None:
            low, high = res.confidence_interval(1.0 - self.alpha, "two-sided")
            level, p, claim = 1.0 - self.alpha, res.pvalue, "H0 delta = 0 (two-sided, not gated)"
            gate_dict: dict[str, Any] = {"type": "none", "min_delta": None, "margin": None, "alpha": self.alpha}
            mde = minimum_detectable_effect(res.se, alpha=self.alpha, **_df(res))
            needed, message, p_adj = None, self.summary(), None
        else:
            low, high, level = gate.ci_low, gate.ci_high, gate.ci_level
            p, claim, p_adj = gate.p_value, gate.claim(self.higher_is_better), gate.p_adjusted
            gate_dict = {"type": gate.type, "min_delta": gate.to_dict()["min_delta"], "margin": gate.to_dict()["margin"], "alpha": gate.alpha}
            if gate.relative is not None:
                gate_dict["relative_margin"] = gate.relative
            mde, needed, message = gate.mde, gate.n_needed, gate.message
        return {
            "id": self.id,
            "suite": self.suite,
            "metric": self.metric,
            "kind": self.kind,
            "candidate": self.candidate,
            "test": res.test,
            "n": res.n,
            "n_failed": self.n_failed,
            "against": self.against,
            "reference": self.reference,
            "base_mean": finite_or_none(res.base_mean if self.against == "base" else self.means.get("base")),
            "reference_mean": finite_or_none(
                res.base_mean if self.against == "reference" else self.means.get("reference")
            ),
            "candidate_mean": finite_or_none(res.candidate_mean),
            "delta": finite_or_none(res.statistic),
            "ci_low": finite_or_none(low),
            "ci_high": finite_or_none(high),
            "ci_level": finite_or_none(level),
            "se": finite_or_none(res.se),
            "clustered": res.clustered,
            "p_value": finite_or_none(p),
            "p_claim": claim,
            "p_adjusted": finite_or_none(p_adj) if p_adj is not None else None,
            "alternative": "two-sided" if gate is None else ("greater" if self.higher_is_better else "less"),
            "gate": gate_dict,
            "gates": [g.to_dict(self.higher_is_better) for g in self.gates],
            "verdict": self.verdict,
            "passed": self.passed,
            "advisory": self.advisory,
            "binding": not self.advisory,
            "higher_is_better": self.higher_is_better,
            "coverage": self.coverage.to_dict(),
            "notes": list(_notes(res)),
            "mde": finite_or_none(mde),
            "n_needed": needed,
            "message": message,
            "metric_info": json_safe(self.metric_info),
            "slices": [s.to_dict() for s in self.ordered_slices()],
            "flips": None if self.flips is None else {k: list(v) for k, v in self.flips.items()},
        }


def check_against(against: object, *, reference: str | None, where: str = "compare(...)") -> Against:
    """``against`` checked: ``base`` or ``reference`` (only with a reference in the run); a bad
    value is one ``ConfigError`` naming ``where`` and the value."""
    if against not in AGAINST:
        raise ConfigError(f"{where}: against={against!r} is not a pair; {AGAINST_HELP}")
    if against == "reference" and not reference:
        raise ConfigError(
            f"{where}: against='reference' but this run has no reference; pass --reference DIR (the adapter "
            "in production) or gate against='base'"
        )
    return "reference" if against == "reference" else "base"


def _df(res: PairedTestResult) -> dict[str, Any]:
    """t quantiles for the MDE where the test has degrees of freedom (``res.df``)."""
    df = getattr(res, "df", None)
    return {} if df is None else {"df": df}


def _notes(res: PairedTestResult) -> tuple[str, ...]:
    notes = getattr(res, "notes", ())
    if isinstance(notes, str):
        notes = (notes,) if notes else ()
    note = getattr(res, "note", "")
    return tuple(notes) + ((note,) if note and note not in notes else ())


def json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return finite_or_none(obj)
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    return obj
