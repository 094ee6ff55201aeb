from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from scipy.stats import binomtest

from tunegate.harness.compare import AdvisoryGateWarning, Comparison, apply_holm, compare_scores
from tunegate.harness.compare.result import check_against
from tunegate.harness.compare.scoring import side_mean
from tunegate.harness.errors import ConfigError, GateFailure, StatsError
from tunegate.harness.metrics.base import MetricScores
from tunegate.harness.record import GateResult
from tunegate.harness.stats._binary import McNemarInference

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SCHEMA_KEYS = {
    "id", "suite", "metric", "kind", "candidate", "test", "n", "n_failed", "base_mean", "candidate_mean",
    "delta", "ci_low", "ci_high", "ci_level", "se", "clustered", "p_value", "p_adjusted", "alternative",
    "gate", "verdict", "passed", "advisory", "mde", "n_needed", "message", "metric_info", "slices", "flips",
    "p_claim", "gates", "binding", "higher_is_better", "coverage", "notes", "against", "reference", "reference_mean",
}  # fmt: skip
SLICE_KEYS = {
    "slice", "n", "base_mean", "candidate_mean", "delta", "ci_low", "ci_high", "p_value", "p_adjusted",
    "verdict", "failing_ids",
}  # fmt: skip


def ids_for(n: int) -> list[str]:
    return [f"s-{i:03d}" for i in range(n)]


def binary(
    base: np.ndarray, cand: np.ndarray, *, tags: list[dict[str, str]] | None = None, **kw: object
) -> Comparison:
    return compare_scores(
        suite="support/eval",
        metric_name="exact_match[category]",
        kind="binary",
        ids=ids_for(len(base)),
        base=MetricScores(np.asarray(base, dtype=float)),
        candidate=MetricScores(np.asarray(cand, dtype=float)),
        tags=tags,
        **kw,  # type: ignore[arg-type]
    )


def continuous(base: np.ndarray, cand: np.ndarray, **kw: object) -> Comparison:
    return compare_scores(
        suite="support/eval",
        metric_name="rouge_l",
        kind="continuous",
        ids=ids_for(len(base)),
        base=MetricScores(np.asarray(base, dtype=float)),
        candidate=MetricScores(np.asarray(cand, dtype=float)),
        **kw,  # type: ignore[arg-type]
    )


def strict_json(comp: Comparison) -> dict:
    """to_dict() must survive JSON without NaN/inf (the schema's 'null, never NaN')."""
    return json.loads(json.dumps(comp.to_dict(), allow_nan=False))


@pytest.fixture()
def regressed() -> Comparison:
    """300 items, 31 flipped right -> wrong, concentrated in category=refund."""
    n = 300
    base = np.ones(n)
    base[::4] = 0.0
    cand = base.copy()
    cand[[i for i in range(1, 60, 2)][:25]] = 0.0  # refund items are s-000..s-059
    cand[[101, 133, 165, 197, 229, 261]] = 0.0
    tags = [{"category": "refund" if i < 60 else "billing"} for i in range(n)]
    return binary(base, cand, tags=tags)


# -- (c) a small suite cannot pass a tight margin ---------------------------------------------


def test_twenty_items_with_a_two_point_margin_are_underpowered_when_not_shown() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(20)
    cand = base + rng.normal(0.0, 0.2, 20)
    comp = continuous(base, cand)
    with pytest.raises(GateFailure, match=r"^UNDERPOWERED: rouge_l on support/eval"):
        comp.assert_no_regression(margin=0.02)
    gate = comp.gate
    assert gate is not None and gate.verdict == "UNDERPOWERED" and not gate.passed
    assert gate.low_oriented <= -0.02  # not shown: only then can power matter
    assert gate.mde > 0.02 and gate.n_needed is not None and gate.n_needed > 20


def test_shown_non_inferiority_is_never_underpowered() -> None:
    # The demo's general/reading case: delta +0.1, 90% CI about [-0.005, +0.205], margin 0.10.
    base = np.zeros(60)
    cand = np.zeros(60)
    cand[:12] = 1.0
    base[12:18] = 1.0
    comp = binary(base, cand)
    comp.assert_no_regression(margin=0.10)
    gate = comp.gate
    assert gate is not None and gate.verdict == "NON_INFERIOR"
    assert gate.mde > 0.10 and gate.low_oriented > -0.10  # MDE above the margin, yet shown


def test_twenty_identical_binary_items_are_underpowered() -> None:
    comp = binary(np.ones(20), np.ones(20))
    with pytest.raises(
        GateFailure, match=r"only see changes of 0\.113 or more, larger than the margin 0\.02"
    ):
        comp.assert_no_regression(margin=0.02)
    assert comp.verdict == "UNDERPOWERED"


# -- (e) message wording ----------------------------------------------------------------------


def test_regression_message_is_one_paragraph_with_the_facts(regressed: Comparison) -> None:
    with pytest.raises(GateFailure) as info:
        regressed.assert_no_regression(margin=0.02)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(
        "REGRESSED: exact_match[category] on support/eval, base -> candidate: 0.75 -> 0.6467, delta -0.103 [90% CI "
    )
    # The p shown is the p of the drop (the claim that decided REGRESSED), named as such.
    assert re.search(r"exact McNemar p = \d\.\de-(0[89]|1\d) for drop: H0 delta >= 0, n=300, MDE 0\.0\d+ \(80% power, alpha 0\.05\)\.", text)
    assert "The candidate is worse: the whole interval is below 0." in text
    assert "Worst slice: category=refund (delta -0.417, n=60, regressed, 25 items worse, e.g. s-001, s-003, s-005)." in text
    assert text.endswith("31 items went from right to wrong (e.g. s-001, s-003, s-005), 0 from wrong to right.")


def test_underpowered_message_says_how_many_items_to_add() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(20)
    comp = continuous(base, base + rng.normal(0.0, 0.2, 20))
    with pytest.raises(
        GateFailure,
        match=r"The result is not shown, and with n=20 items this suite can only see changes of 0\.\d+ or more, "
        r"larger than the margin 0\.02\. Add ~\d+ items \(about \d+ in all\), or accept a wider margin\.",
    ):
        comp.assert_no_regression(margin=0.02)


def test_inconclusive_improvement_message() -> None:
    rng = np.random.default_rng(1)
    base = rng.random(400)
    comp = continuous(base, base + rng.normal(0.0, 0.2, 400))
    with pytest.raises(
        GateFailure,
        match=r"^INCONCLUSIVE: rouge_l on support/eval, base -> candidate: 0\.4866 -> 0\.4753, delta -0\.0113 "
        r"\[90% CI -0\.02\d+, \+0\.00\d+\], .* p = 1\.00 for H0 delta <= \+0\.05, n=400, MDE 0\.02\d+ \(80% "
        r"power, alpha 0\.05\)\. No improvement of more than 0\.05 is shown\.$",
    ):
        comp.assert_improves(min_delta=0.05)


def test_single_item_message_asks_for_items_and_stays_json_clean() -> None:
    comp = continuous(np.array([0.4]), np.array([0.6]))
    with pytest.raises(GateFailure, match=r"With n=1 the spread of the delta cannot be estimated"):
        comp.assert_no_regression(margin=0.05)
    out = strict_json(comp)
    assert out["verdict"] == "UNDERPOWERED" and out["mde"] is None and out["ci_low"] is None
    assert out["se"] is None and out["n_needed"] is None


# -- verdicts ---------------------------------------------------------------------------------


def test_improved_and_non_inferior_pass_and_are_recorded() -> None:
    rng = np.random.default_rng(2)
    base = (rng.random(400) < 0.6).astype(float)
    cand = base.copy()
    cand[np.flatnonzero(base == 0)[:60]] = 1.0
    comp = binary(base, cand)
    assert comp.assert_improves(min_delta=0.05) is comp
    comp.assert_no_regression(margin=0.02)
    assert [g.verdict for g in comp.gates] == ["IMPROVED", "NON_INFERIOR"]
    assert comp.passed and comp.verdict == "NON_INFERIOR"
    assert comp.gates[1].message.endswith("The candidate is better than the base: no regression. 0 items went "
                                          "from right to wrong, 60 from wrong to right.")  # fmt: skip


def test_superiority_at_zero_uses_exact_mcnemar() -> None:
    base = np.zeros(50)
    cand = np.zeros(50)
    cand[:9] = 1.0
    base[9:11] = 1.0
    comp = binary(base, cand).assert_improves()
    # The exact unconditional McNemar p (one test for p and interval): here below the conditional.
    assert comp.gates[0].p_value == pytest.approx(McNemarInference(9, 2, 50).pvalue(0.0, "greater"))
    assert comp.gates[0].p_value < binomtest(9, 11, 0.5, alternative="greater").pvalue
    assert comp.to_dict()["test"] == "mcnemar_exact"


def test_inconclusive_non_inferiority_when_the_interval_reaches_past_the_margin() -> None:
    # SE 0.008 (MDE 0.0199 < margin) and mean -0.01: the 90% interval spans both -0.02 and 0.
    noise = np.random.default_rng(3).normal(size=625)
    d = (noise - noise.mean()) / noise.std(ddof=1) * 0.2 - 0.01
    comp = continuous(np.full(625, 0.5), 0.5 + d)
    with pytest.raises(
        GateFailure,
        match=r"^INCONCLUSIVE: .* The interval still reaches below -0\.02: a regression beyond the margin 0\.02 "
        r"is not ruled out\. More items narrow the interval \(its width shrinks as 1/sqrt\(n\)\) and decide it\.$",
    ):
        comp.assert_no_regression(margin=0.02)


def test_regression_within_the_margin_is_non_inferior() -> None:
    rng = np.random.default_rng(4)
    base = rng.random(4000)
    comp = continuous(base, base + rng.normal(-0.01, 0.05, 4000))
    comp.assert_no_regression(margin=0.03)
    assert comp.verdict == "NON_INFERIOR"
    assert comp.to_dict()["ci_high"] < 0


def test_all_equal_scores_are_no_difference() -> None:
    x = np.linspace(0, 1, 50)
    comp = continuous(x, x)
    comp.assert_no_regression(margin=0.1)
    assert comp.verdict == "NON_INFERIOR"
    with pytest.raises(GateFailure, match="INCONCLUSIVE.*No improvement"):
        comp.assert_improves()
    out = strict_json(comp)
    assert (out["delta"], out["p_value"]) == (0.0, 1.0)
    assert out["ci_low"] <= 0.0 <= out["ci_high"]


def test_lower_is_better_metrics_gate_on_the_improvement() -> None:
    rng = np.random.default_rng(5)
    base = rng.random(300) + 0.5
    comp = continuous(base, base - 0.1 + rng.normal(0, 0.05, 300), higher_is_better=False)
    comp.assert_improves(min_delta=0.05).assert_no_regression(margin=0.02)
    out = comp.to_dict()
    assert out["delta"] < 0 and out["alternative"] == "less" and out["verdict"] == "NON_INFERIOR"
    assert "(lower is better)" in out["message"]
    worse = continuous(base, base + 0.1 + rng.normal(0, 0.05, 300), higher_is_better=False)
    with pytest.raises(GateFailure, match="^REGRESSED"):
        worse.assert_no_regression(margin=0.02)


def test_advisory_comparison_warns_instead_of_failing() -> None:
    base = np.ones(300)
    cand = base.copy()
    cand[:31] = 0.0
    comp = binary(base, cand, advisory=True)
    with pytest.warns(AdvisoryGateWarning, match="advisory only, not failing the run: REGRESSED"):
        comp.assert_no_regression(margin=0.02)
    out = comp.to_dict()
    assert (out["verdict"], out["passed"], out["advisory"], out["binding"]) == ("REGRESSED", False, True, False)


def test_failing_gate_stays_the_recorded_one() -> None:
    rng = np.random.default_rng(6)
    base = rng.random(300)
    comp = continuous(base, base + rng.normal(0.0, 0.05, 300))
    with pytest.raises(GateFailure):
        comp.assert_improves(min_delta=0.05)
    comp.assert_no_regression(margin=0.05)
    assert comp.verdict == "INCONCLUSIVE" and not comp.passed
    assert comp.to_dict()["gate"]["type"] == "improves"


def test_bad_gate_arguments_are_named() -> None:
    comp = continuous(np.zeros(5), np.ones(5))
    with pytest.raises(StatsError, match="margin must be a number > 0, got 0"):
        comp.assert_no_regression(margin=0)
    with pytest.raises(StatsError, match="min_delta must be a number >= 0, got -0.1"):
        comp.assert_improves(min_delta=-0.1)
    with pytest.raises(StatsError, match=r"alpha must be in \(0, 0\.5\), got 0\.7"):
        comp.assert_improves(alpha=0.7)


# -- (d) degenerate inputs --------------------------------------------------------------------


def test_mismatched_ids_name_the_differences() -> None:
    scores = MetricScores(np.ones(4))
    with pytest.raises(
        StatsError,
        match=r"item ids of candidate differ from the base's: missing \['d'\] \(1 in all\), "
        r"unexpected \['x'\] \(1 in all\)",
    ):
        compare_scores(
            suite="s", metric_name="m", kind="binary", ids=list("abcd"), base=scores, candidate=scores,
            candidate_ids=list("abcx"),
        )  # fmt: skip


def test_length_mismatch_and_duplicates_are_refused() -> None:
    with pytest.raises(StatsError, match=r"m on s: candidate has 3 scores for 4 ids"):
        compare_scores(
            suite="s", metric_name="m", kind="binary", ids=list("abcd"),
            base=MetricScores(np.ones(4)), candidate=MetricScores(np.ones(3)),
        )  # fmt: skip
    with pytest.raises(StatsError, match=r"duplicate item ids \['a'\]"):
        compare_scores(
            suite="s", metric_name="m", kind="binary", ids=list("aba"),
            base=MetricScores(np.ones(3)), candidate=MetricScores(np.ones(3)),
        )  # fmt: skip


def test_rows_are_matched_by_id_when_orders_differ() -> None:
    comp = compare_scores(
        suite="s", metric_name="m", kind="continuous", ids=list("abc"),
        base=MetricScores(np.array([0.1, 0.2, 0.3])), candidate=MetricScores(np.array([0.35, 0.15, 0.25])),
        candidate_ids=list("cab"),
    )  # fmt: skip
    assert comp.candidate_values.tolist() == [0.15, 0.25, 0.35]


def test_unscored_items_count_at_the_worst_score() -> None:
    base = MetricScores(np.array([0.2, np.nan, 0.4, 0.5]), failures=(None, "judge gave no score", None, None))
    cand = MetricScores(np.array([0.3, 0.5, np.nan, 0.6]))
    comp = compare_scores(
        suite="s", metric_name="judge", kind="continuous", ids=list("abcd"), base=base, candidate=cand, worst=0.0
    )
    assert comp.n == 4 and comp.n_failed == 2 and comp.failed_ids == ("b", "c")
    assert comp.base_values.tolist() == [0.2, 0.0, 0.4, 0.5]  # the metric's declared worst score
    assert comp.candidate_values.tolist() == [0.3, 0.5, 0.0, 0.6]
    with pytest.raises(StatsError, match=r"2 item\(s\) could not be scored .* declares no worst score"):
        compare_scores(suite="s", metric_name="judge", kind="continuous", ids=list("abcd"), base=base, candidate=cand)
    cov = strict_json(comp)["coverage"]
    assert (cov["unscored_base"], cov["unscored_candidate"], cov["infra"], cov["ok"]) == (1, 1, 0, True)
    assert cov["reasons"] == ["b: base: judge gave no score", "c: candidate: no score"]


def test_candidate_unscorable_on_half_the_items_fails() -> None:
    # A/A except that the candidate cannot be scored on 200 of 400 items: it must not be NON_INFERIOR.
    rng = np.random.default_rng(11)
    base = rng.random(400)
    cand = base.copy()
    cand[::2] = np.nan
    comp = continuous(base, cand, worst=0.0)
    with pytest.raises(GateFailure, match=r"^REGRESSED.*200 candidate item\(s\) could not be scored"):
        comp.assert_no_regression(margin=0.05)


def test_judge_failures_lower_coverage_and_make_the_gate_incomplete() -> None:
    # 54 of 60 judged items unscored because the judge API failed: the gate cannot pass.
    rng = np.random.default_rng(12)
    base = rng.integers(1, 6, 60).astype(float)
    infra = tuple(i >= 6 for i in range(60))
    b = np.where(infra, np.nan, base)
    comp = compare_scores(
        suite="s", metric_name="judge[style]", kind="continuous", ids=ids_for(60),
        base=MetricScores(b, infra=infra), candidate=MetricScores(b.copy(), infra=infra),
    )  # fmt: skip
    with pytest.raises(GateFailure, match=r"^INCOMPLETE.*Only 6 of 60 items \(10%\) could be scored"):
        comp.assert_no_regression(margin=0.25)
    assert comp.to_dict()["coverage"]["infra"] == 54


def test_all_failed_is_a_clear_error() -> None:
    scores = MetricScores(np.full(3, np.nan), failures=("timeout", "timeout", "timeout"))
    with pytest.raises(StatsError, match=r"judge on s: none of the 3 items could be scored \(first: a: "
                       r"base: timeout; candidate: timeout\)"):  # fmt: skip
        compare_scores(
            suite="s", metric_name="judge", kind="continuous", ids=list("abc"), base=scores, candidate=scores
        )


def test_single_binary_item_is_a_clear_result() -> None:
    comp = binary(np.array([1.0]), np.array([1.0]))
    assert comp.result.pvalue == 1.0
    with pytest.raises(GateFailure, match="^UNDERPOWERED"):
        comp.assert_improves(min_delta=0.05)
    strict_json(comp)


def test_fractional_binary_scores_are_refused() -> None:
    with pytest.raises(
        StatsError, match=r"item 's-001' has base=0\.5, candidate=1\.0; declare the metric kind"
    ):
        binary(np.array([1.0, 0.5]), np.array([1.0, 1.0]))


# -- slices, flips, schema --------------------------------------------------------------------


def test_driving_slice_comes_first_with_its_failing_ids(regressed: Comparison) -> None:
    slices = regressed.ordered_slices()
    assert [s.slice for s in slices] == ["category=refund", "category=billing"]
    refund = slices[0]
    assert refund.verdict == "REGRESSED" and refund.n == 60 and len(refund.failing_ids) == 25
    assert refund.failing_ids[:3] == ("s-001", "s-003", "s-005")
    assert refund.p_adjusted >= refund.p_value
    assert regressed.flips is not None and len(regressed.flips["base_only"]) == 31
    assert regressed.flips["candidate_only"] == []


def test_continuous_failing_ids_are_worst_first() -> None:
    base = np.full(6, 0.5)
    cand = np.array([0.5, 0.2, 0.45, 0.6, 0.1, 0.5])
    comp = compare_scores(
        suite="s", metric_name="m", kind="continuous", ids=ids_for(6),
        base=MetricScores(base), candidate=MetricScores(cand), tags=[{"lang": "en"}] * 6,
    )  # fmt: skip
    assert comp.slices[0].failing_ids == ("s-004", "s-001", "s-002")
    assert comp.flips is None


def test_to_dict_is_exactly_the_schema_entry(regressed: Comparison) -> None:
    ungated = strict_json(regressed)
    assert set(ungated) == SCHEMA_KEYS
    assert ungated["verdict"] == "NOT_GATED" and ungated["gate"]["type"] == "none"
    assert ungated["alternative"] == "two-sided" and ungated["ci_level"] == 0.95
    assert ungated["id"] == "support/eval::exact_match[category]::candidate"
    with pytest.raises(GateFailure):
        regressed.assert_no_regression(margin=0.02)
    out = strict_json(regressed)
    assert set(out) == SCHEMA_KEYS and all(set(s) == SLICE_KEYS for s in out["slices"])
    assert out["gate"] == {"type": "no_regression", "min_delta": None, "margin": 0.02, "alpha": 0.05}
    assert (out["verdict"], out["passed"], out["alternative"]) == ("REGRESSED", False, "greater")
    assert out["ci_level"] == pytest.approx(0.9)
    assert out["ci_low"] < out["delta"] < out["ci_high"]
    assert out["flips"]["base_only"][:2] == ["s-001", "s-003"]


def test_groups_choose_the_clustered_test() -> None:
    rng = np.random.default_rng(7)
    base = rng.random(200)
    cand = base + rng.normal(0.02, 0.1, 200)
    few = continuous(base, cand, groups=[f"doc-{i // 10}" for i in range(200)])
    many = continuous(base, cand, groups=[f"doc-{i // 4}" for i in range(200)])
    alone = continuous(base, cand, groups=[None] * 200)
    # 20 groups: never the pairs cluster bootstrap (badly calibrated with few groups).
    assert few.result.test != "cluster_bootstrap" and few.to_dict()["clustered"] is True
    assert many.result.test == "paired_t_clustered+skew_t" and many.result.n_groups == 50
    assert alone.result.test == "paired_t+skew_t" and alone.to_dict()["clustered"] is False


def test_corpus_comparison_records_the_randomization_check() -> None:
    rng = np.random.default_rng(8)
    total = rng.integers(5, 30, 300)
    p = rng.beta(6, 4, 300)
    sb = np.c_[rng.binomial(total, p), total].astype(float)
    sc = np.c_[rng.binomial(total, np.clip(p + 0.08, 0, 1)), total].astype(float)

    def fn(s: np.ndarray) -> np.ndarray:
        return s[..., 0] / s[..., 1]

    comp = compare_scores(
        suite="s", metric_name="token_acc", kind="corpus", ids=ids_for(300),
        base=MetricScores(sb[:, 0] / sb[:, 1], stats=sb, corpus=fn),
        candidate=MetricScores(sc[:, 0] / sc[:, 1], stats=sc, corpus=fn), n_resamples=2000,
    )  # fmt: skip
    comp.assert_improves()
    gate = comp.gate
    assert gate is not None and gate.verdict == "IMPROVED"
    assert comp.result.test == "paired_bootstrap"
    assert comp.result.base_mean == pytest.approx(fn(sb.sum(0)))
    with pytest.raises(StatsError, match="must return per-item sufficient statistics"):
        compare_scores(
            suite="s", metric_name="token_acc", kind="corpus", ids=ids_for(300),
            base=MetricScores(sb[:, 0]), candidate=MetricScores(sc[:, 0]),
        )  # fmt: skip


def test_apply_holm_adjusts_claims_and_returns_lost_improvements() -> None:
    def claim(wins: int, suite: str) -> Comparison:
        base = np.zeros(100)
        cand = np.zeros(100)
        cand[:wins] = 1.0
        base[wins : wins + 2] = 1.0  # two losses
        comp = compare_scores(
            suite=suite, metric_name="em", kind="binary", ids=ids_for(100),
            base=MetricScores(base), candidate=MetricScores(cand),
        )  # fmt: skip
        comp.assert_improves()
        return comp

    strong, weak, other = claim(15, "a"), claim(8, "b"), claim(8, "c")
    raw = [c.gates[0].p_null for c in (strong, weak, other)]
    assert raw[1] == pytest.approx(McNemarInference(8, 2, 100).pvalue(0.0, "greater")) and raw[1] < 0.05
    entries = [GateResult.model_validate(c.to_dict()["gates"][0]) for c in (strong, weak, other)]
    adjusted = apply_holm(entries)
    assert [e.verdict for e in entries] == ["IMPROVED", "IMPROVED", "IMPROVED"]  # the inputs are not changed
    assert [e.verdict for e in adjusted] == ["IMPROVED", "INCONCLUSIVE", "INCONCLUSIVE"]
    assert adjusted[1].p_adjusted == pytest.approx(2 * raw[1])
    assert adjusted[0].p_adjusted == pytest.approx(3 * raw[0])


def test_a_comparison_against_the_reference_names_the_pair() -> None:
    ids = ids_for(60)
    ref = MetricScores(np.array([1.0] * 54 + [0.0] * 6))
    cand = MetricScores(np.array([1.0] * 36 + [0.0] * 24))
    comp = compare_scores(suite="s", metric_name="m", kind="binary", ids=ids, base=ref, candidate=cand,
                          candidate_label="v2", against="reference", reference="v1")  # fmt: skip
    d = comp.to_dict()
    assert (d["id"], d["against"], d["reference"]) == ("s::m::v2::vs-reference", "reference", "v1")
    assert (d["base_mean"], d["reference_mean"], d["candidate_mean"]) == (None, 0.9, 0.6)
    assert comp.summary().startswith("m on s, reference (v1) -> v2: 0.9 -> 0.6, delta -0.3")
    with pytest.raises(GateFailure, match=r"^REGRESSED: m on s, reference \(v1\) -> v2: 0.9 -> 0.6"):
        comp.assert_no_regression(margin=0.05)
    with pytest.raises(ConfigError, match=r"^compare\(...\): against='prod' is not a pair; use 'base'"):
        check_against("prod", reference="v1")
    with pytest.raises(ConfigError, match=r"against='reference' but this run has no reference"):
        check_against("reference", reference=None)


def test_the_third_models_mean_is_taken_on_the_items_the_pair_used() -> None:
    scores = MetricScores(np.array([1.0, np.nan, 0.0, 1.0]))
    assert side_mean(scores, ["a", "b", "c", "d"], ["a", "b", "c"], kind="binary", worst=0.0) == pytest.approx(1 / 3)
    assert side_mean(scores, ["a", "b", "c", "d"], ["a", "b", "c"], kind="continuous", worst=None) == 0.5
    assert side_mean(scores, ["a", "b"], [], kind="binary", worst=0.0) is None
