from __future__ import annotations

import math
import os

import numpy as np
import pytest
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest, Result
from scipy import stats

from tunegate.harness.errors import StatsError
from tunegate.harness.stats import approximate_randomization, corpus_bootstrap

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_VOCAB = [f"w{i}" for i in range(300)]


def bleu_from_stats(sums: np.ndarray) -> np.ndarray:
    """sacrebleu's BLEU (exp smoothing) vectorised over summed stats [sys_len, ref_len, correct_1..4, total_1..4]."""
    s = np.asarray(sums, dtype=float)
    sys_len, ref_len, correct, total = s[..., 0], s[..., 1], s[..., 2:6], s[..., 6:10]
    safe_total = np.where(total > 0, total, 1.0)
    zero = correct == 0
    prec = np.where(
        zero, 100.0 / (2.0 ** np.cumsum(zero, axis=-1) * safe_total), 100.0 * correct / safe_total
    )
    prec = np.where(total > 0, prec, 0.0)
    log_p = np.where(prec > 0, np.log(np.where(prec > 0, prec, 1.0)), -9999999999.0)
    with np.errstate(over="ignore", divide="ignore"):
        bp = np.where(sys_len < ref_len, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1.0)), 1.0)
    bp = np.where(sys_len > 0, bp, 0.0)
    return np.where(correct.sum(axis=-1) == 0, 0.0, bp * np.exp(log_p.mean(axis=-1)))


@pytest.fixture(scope="module")
def corpus() -> dict[str, object]:
    rng = np.random.default_rng(3)

    def noisy(ref: list[str], p: float) -> str:
        return " ".join(w if rng.random() > p else _VOCAB[rng.integers(0, 300)] for w in ref)

    refs = [[_VOCAB[i] for i in rng.integers(0, 300, rng.integers(8, 20))] for _ in range(200)]
    systems = {
        "base": [noisy(r, 0.35) for r in refs],
        "better": [noisy(r, 0.28) for r in refs],
        "same": [noisy(r, 0.35) for r in refs],
    }
    refs_text = [" ".join(r) for r in refs]
    bleu = BLEU()
    stats = {
        k: np.asarray(bleu._extract_corpus_statistics(v, [refs_text]), dtype=float)
        for k, v in systems.items()
    }
    return {"refs": refs_text, "systems": systems, "stats": stats}


def _sacrebleu_p(corpus: dict, name: str, test_type: str, n: int) -> float:
    # Reference: sacrebleu.significance.PairedTest(named_systems, {"BLEU": BLEU(references=...)},
    # references=None, test_type="bs"|"ar", n_samples=n)() -> scores["BLEU"][1].p_value
    os.environ["SACREBLEU_SEED"] = "12345"
    test = PairedTest(
        [("base", corpus["systems"]["base"]), (name, corpus["systems"][name])],
        {"BLEU": BLEU(references=[corpus["refs"]])},
        references=None,
        test_type=test_type,
        n_samples=n,
    )
    _, scores = test()
    result = scores["BLEU"][1]
    assert isinstance(result, Result) and result.p_value is not None
    return float(result.p_value)


def test_vectorised_bleu_matches_sacrebleu_corpus_score(corpus: dict) -> None:
    for name, hyps in corpus["systems"].items():
        ref = BLEU().corpus_score(hyps, [corpus["refs"]]).score
        assert bleu_from_stats(corpus["stats"][name].sum(axis=0)) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize(("name", "significant"), [("better", True), ("same", False)])
def test_bootstrap_and_randomization_agree_with_sacrebleu(corpus: dict, name: str, significant: bool) -> None:
    base, cand = corpus["stats"]["base"], corpus["stats"][name]
    boot = corpus_bootstrap(base, cand, bleu_from_stats, n_resamples=1000, rng=0)
    ar = approximate_randomization(base, cand, bleu_from_stats, n_resamples=4000, n_ci_resamples=0, rng=0)
    ref_bs = _sacrebleu_p(corpus, name, "bs", 1000)
    ref_ar = _sacrebleu_p(corpus, name, "ar", 4000)
    assert (boot.pvalue < 0.05) == (ref_bs < 0.05) == significant
    assert (ar.pvalue < 0.05) == (ref_ar < 0.05) == significant
    # Same randomization scheme: the two AR p-values differ only by Monte-Carlo error.
    assert ar.pvalue == pytest.approx(ref_ar, abs=0.03)
    low, high = boot.confidence_interval()
    assert (low > 0) == significant and low < boot.statistic < high


def test_identical_corpus_systems_give_p_one(corpus: dict) -> None:
    s = corpus["stats"]["base"]
    assert corpus_bootstrap(s, s, bleu_from_stats, n_resamples=300, rng=0).pvalue == 1.0
    ar = approximate_randomization(s, s, bleu_from_stats, n_resamples=300, n_ci_resamples=0, rng=0)
    assert ar.pvalue == 1.0
    assert ar.confidence_interval() == (-math.inf, math.inf)


def test_grouped_corpus_uses_the_group_jackknife_t(corpus: dict) -> None:
    base, cand = corpus["stats"]["base"], corpus["stats"]["better"]
    groups = [f"doc-{i // 10}" for i in range(base.shape[0])]
    res = corpus_bootstrap(base, cand, bleu_from_stats, groups=groups, n_resamples=500, rng=0)
    assert res.test == "cluster_jackknife_t" and res.n_groups == 20 and res.clustered and res.df == 19
    assert res.statistic == pytest.approx(bleu_from_stats(cand.sum(0)) - bleu_from_stats(base.sum(0)))
    # The jackknife SE by hand: leave each group out, recompute the corpus delta.
    codes = np.repeat(np.arange(20), 10)
    jack = np.array(
        [
            bleu_from_stats(cand[codes != g].sum(0)) - bleu_from_stats(base[codes != g].sum(0))
            for g in range(20)
        ]
    )
    assert res.se == pytest.approx(math.sqrt(19 / 20 * np.sum((jack - jack.mean()) ** 2)))
    low, high = res.confidence_interval(0.9, "two-sided")
    assert low == pytest.approx(res.statistic - stats.t.ppf(0.95, 19) * res.se)


def test_few_groups_get_a_note_and_identical_groups_no_test(corpus: dict) -> None:
    base, cand = corpus["stats"]["base"], corpus["stats"]["better"]
    groups = [f"doc-{i % 3}" for i in range(base.shape[0])]
    res = corpus_bootstrap(base, cand, bleu_from_stats, groups=groups, rng=0)
    assert res.n_groups == 3 and any("only 3 groups" in note for note in res.notes)
    same = corpus_bootstrap(base, base, bleu_from_stats, groups=groups, rng=0)
    assert same.pvalue == 1.0 and same.confidence_interval(0.9) == (-math.inf, math.inf)


def test_identical_corpus_systems_on_few_items_are_no_evidence(corpus: dict) -> None:
    s = corpus["stats"]["base"][:5]
    res = corpus_bootstrap(s, s, bleu_from_stats, n_resamples=300, rng=0)
    assert res.confidence_interval(0.9) == (-math.inf, math.inf)
    assert res.pvalue_at(-1.0, "greater") == 1.0


def test_corpus_shape_mismatch_is_refused() -> None:
    with pytest.raises(StatsError, match=r"got base \(3, 2\), candidate \(3, 3\)"):
        corpus_bootstrap(np.ones((3, 2)), np.ones((3, 3)), lambda s: s[..., 0])
