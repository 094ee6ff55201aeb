from __future__ import annotations

import pickle
import random
from typing import Any

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF

from tests.harness.metrics.conftest import MakeItems, build_items
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics import (
    bleu,
    bleu_corpus_score,
    chrf,
    chrf_corpus_score,
    rouge_1,
    rouge_2,
    rouge_l,
    rouge_lsum,
)

PAIRS = [
    ("We have issued a refund of $42.50 to your card.", "A refund of $42.50 has been issued to your card."),
    (
        "Your invoice for March was charged twice; we are sorry.",
        "We apologise: your March invoice was charged twice.",
    ),
    ("The cat sat on the mat.", "The cat is sitting on the mat."),
    (
        "Please update your payment method in Settings > Billing.",
        "You can change the payment method under Settings, Billing.",
    ),
    ("Thank you for your patience!", "Thanks for your patience."),
    ("", "We will look into it."),
    ("We will look into it.", ""),
    ("Yes", "Yes"),
    ("No.", "Yes."),
    ("Der Vertrag wurde zum 1. Mai gekündigt.", "Der Vertrag ist zum 1. Mai gekündigt worden."),
    ("L'abonnement sera renouvelé le 3 juin.", "Votre abonnement se renouvelle le 3 juin."),
    (
        "Refunds usually take 5-7 business days to appear.",
        "It usually takes five to seven business days for refunds to appear.",
    ),
    ("Your account has been upgraded to the Pro plan.", "We upgraded your account to Pro."),
    ("Contact support@example.com for help.", "For help, write to support@example.com."),
    ("The charge of €19.99 was a one-off setup fee.", "The €19.99 charge is a one-time setup fee."),
    ("We cannot refund partial months.", "Partial months are not refundable."),
]

_VOCABULARY = (
    "refund invoice charge card account plan billing payment month fee customer support issue reply we you "
    "your the a an is was will be has have been to for of on in at with please thank sorry today tomorrow"
)
WORDS = _VOCABULARY.split()


def _generated_corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Reference sentences and hypotheses derived from them by deletions, swaps and substitutions."""
    rng = random.Random(seed)
    hyps, refs = [], []
    for _ in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(1, 18))]
        hyp = list(ref)
        for _ in range(rng.randint(0, 6)):
            op = rng.random()
            if op < 0.3 and hyp:
                del hyp[rng.randrange(len(hyp))]
            elif op < 0.6:
                hyp.insert(rng.randrange(len(hyp) + 1), rng.choice(WORDS))
            elif op < 0.8 and len(hyp) > 1:
                i = rng.randrange(len(hyp) - 1)
                hyp[i], hyp[i + 1] = hyp[i + 1], hyp[i]
            elif hyp:
                hyp[rng.randrange(len(hyp))] = rng.choice(WORDS).capitalize()
        refs.append(" ".join(ref) + rng.choice([".", "!", "", "?"]))
        hyps.append(" ".join(hyp) + rng.choice([".", "", ","]))
    return hyps, refs


_GENERATED = _generated_corpus(250, seed=7)


def _corpora() -> list[tuple[list[str], list[str]]]:
    hyps, refs = zip(*PAIRS, strict=True)
    return [(list(hyps), list(refs)), _GENERATED, (["Yes"], ["No"]), (["a b"], ["a b"])]


BLEU_SETTINGS = [
    {},
    {"smooth_method": "none"},
    {"smooth_method": "floor"},
    {"smooth_method": "floor", "smooth_value": 0.3},
    {"smooth_method": "add-k"},
    {"smooth_method": "add-k", "smooth_value": 2},
    {"effective_order": True},
    {"lowercase": True, "tokenize": "intl"},
    {"max_ngram_order": 2},
    {"tokenize": "char"},
]


@pytest.mark.parametrize(
    "settings", BLEU_SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default"
)
def test_bleu_corpus_equals_sacrebleu(settings: dict[str, object]) -> None:
    for hyps, refs in _corpora():
        scores = bleu(**settings).score(build_items(refs), hyps)  # type: ignore[arg-type]
        expected = BLEU(**settings).corpus_score(hyps, [refs]).score  # type: ignore[arg-type]
        assert scores.stats is not None and scores.corpus is not None
        assert abs(scores.mean() - expected) < 1e-9
        assert scores.values.shape == (len(hyps),)


def test_bleu_defaults_equal_corpus_bleu_and_sentence_values_equal_sentence_bleu() -> None:
    hyps, refs = zip(*PAIRS, strict=True)
    scores = bleu().score(build_items(list(refs)), list(hyps))
    assert abs(scores.mean() - sacrebleu.corpus_bleu(list(hyps), [list(refs)]).score) < 1e-9
    sentence = [sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, refs, strict=True)]
    np.testing.assert_allclose(scores.values, sentence, rtol=0, atol=1e-9)
    assert scores.extra["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")


def test_corpus_fn_is_vectorised_over_resamples() -> None:
    hyps, refs = _generated_corpus(200, seed=3)
    for metric, reference in ((bleu(), BLEU()), (chrf(), CHRF()), (chrf(word_order=2), CHRF(word_order=2))):
        scores = metric.score(build_items(refs), hyps)
        assert scores.stats is not None and scores.corpus is not None
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(hyps), size=(50, len(hyps)))
        batched = scores.corpus(scores.stats[idx].sum(axis=1))
        assert batched.shape == (50,)
        assert pickle.loads(pickle.dumps(scores)).corpus(scores.stats.sum(axis=0)) == scores.mean()
        one_by_one = [
            reference._compute_score_from_stats(list(scores.stats[row].sum(axis=0))).score for row in idx[:10]
        ]
        np.testing.assert_allclose(batched[:10], one_by_one, rtol=0, atol=1e-9)


def test_multi_reference_bleu_and_chrf_equal_sacrebleu() -> None:
    hyps = ["the cat sat on the mat", "a refund was issued", "thanks"]
    refs = [
        ["the cat is on the mat", "there is a cat on the mat"],
        ["we issued a refund"],
        ["thank you", "many thanks", "ta"],
    ]
    items = build_items(refs)
    streams: Any = [[r[j] if j < len(r) else None for r in refs] for j in range(3)]
    assert abs(bleu().score(items, hyps).mean() - BLEU().corpus_score(hyps, streams).score) < 1e-9
    assert abs(chrf().score(items, hyps).mean() - CHRF().corpus_score(hyps, streams).score) < 1e-9


CHRF_SETTINGS = [
    {},
    {"word_order": 2},
    {"eps_smoothing": True},
    {"word_order": 2, "eps_smoothing": True},
    {"lowercase": True, "whitespace": True},
    {"beta": 1, "char_order": 4},
]


@pytest.mark.parametrize(
    "settings", CHRF_SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default"
)
def test_chrf_corpus_equals_sacrebleu(settings: dict[str, object]) -> None:
    for hyps, refs in _corpora():
        scores = chrf(**settings).score(build_items(refs), hyps)  # type: ignore[arg-type]
        expected = CHRF(**settings).corpus_score(hyps, [refs]).score  # type: ignore[arg-type]
        assert abs(scores.mean() - expected) < 1e-9


def test_chrf_sentence_values_equal_sentence_chrf() -> None:
    hyps, refs = zip(*PAIRS, strict=True)
    scores = chrf().score(build_items(list(refs)), list(hyps))
    expected = [sacrebleu.sentence_chrf(h, [r]).score for h, r in zip(hyps, refs, strict=True)]
    np.testing.assert_allclose(scores.values, expected, rtol=0, atol=1e-9)
    assert chrf(word_order=2).name == "chrf++"


def test_corpus_functions_reject_wrong_widths() -> None:
    with pytest.raises(ValueError, match="need 10 columns"):
        bleu_corpus_score(np.zeros((3, 9)))
    with pytest.raises(ValueError, match="need 18 columns"):
        chrf_corpus_score(np.zeros(17))


def test_empty_suite_gives_empty_stats(make_items: MakeItems) -> None:
    scores = bleu().score(make_items([]), [])
    assert scores.stats is not None and scores.stats.shape == (0, 10)


@pytest.mark.parametrize(
    ("factory", "variant"),
    [(rouge_1, "rouge1"), (rouge_2, "rouge2"), (rouge_l, "rougeL"), (rouge_lsum, "rougeLsum")],
)
@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_equals_rouge_score(factory, variant: str, use_stemmer: bool) -> None:  # type: ignore[no-untyped-def]
    hyps, refs = zip(*PAIRS, strict=True)
    hyps = (*hyps, "first line\nsecond line here")
    refs = (*refs, "the first line\nand the second line")
    metric = factory(use_stemmer=use_stemmer)
    assert metric.kind == "continuous"
    scores = metric.score(build_items(list(refs)), list(hyps))
    scorer = rouge_scorer.RougeScorer([variant], use_stemmer=use_stemmer)
    expected = [scorer.score(r, h)[variant].fmeasure for h, r in zip(hyps, refs, strict=True)]
    np.testing.assert_allclose(scores.values, expected, rtol=0, atol=1e-12)


def test_rouge_multi_reference_takes_the_best(make_items: MakeItems) -> None:
    items = make_items([["the cat sat", "a dog ran far away"]])
    scores = rouge_l().score(items, ["a dog ran away"])
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = max(scorer.score(r, "a dog ran away")["rougeL"].fmeasure for r in items[0].reference)  # type: ignore[union-attr]
    assert scores.values[0] == pytest.approx(expected)


def test_text_metrics_on_a_json_field(make_items: MakeItems) -> None:
    items = make_items([{"category": "refund", "reply": "We refunded you today."}] * 3)
    outputs = [
        '{"category": "refund", "reply": "We refunded you today."}',
        '```json\n{"category": "refund", "reply": "We will refund you."}\n```',
        "I refunded you.",
    ]
    metric = rouge_l(field="reply")
    assert metric.name == "rouge_l[reply]"
    values = metric.score(items, outputs).values
    assert values[0] == 1.0 and 0 < values[1] < 1 and values[2] == 0.0
    scores = bleu(field="reply").score(items, outputs)
    expected = (
        BLEU()
        .corpus_score(["We refunded you today.", "We will refund you.", ""], [["We refunded you today."] * 3])
        .score
    )
    assert abs(scores.mean() - expected) < 1e-9


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown BLEU tokenize='moses'; use one of"):
        bleu(tokenize="moses")
    with pytest.raises(ConfigError, match="unknown BLEU smooth_method='laplace'"):
        bleu(smooth_method="laplace")
    with pytest.raises(ConfigError, match="chrF needs char_order >= 1"):
        chrf(char_order=0)
