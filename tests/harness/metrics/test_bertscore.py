from __future__ import annotations

import bert_score
import numpy as np
import pytest

from tests.harness.metrics.conftest import MakeItems, build_items
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics import bertscore_f1
from tunegate.harness.metrics.bertscore import load_scorer
from tunegate.harness.models.resolve import minilm_dir

CANDS = [
    "We have issued a refund to your card.",
    "Your invoice was charged twice, sorry.",
    "The weather is nice today.",
    "",
    '{"category": "refund"}',
]
REFS = [
    "A refund has been issued to your card.",
    "We apologise: your invoice was charged twice.",
    "Please update your payment method.",
    "Thanks for waiting.",
    "refund",
]


@pytest.fixture(scope="module")
def scores() -> np.ndarray:
    return bertscore_f1(device="cpu").score(build_items(REFS), CANDS).values


def test_equals_a_direct_bert_score_call(scores: np.ndarray) -> None:
    keep = [i for i, c in enumerate(CANDS) if c]
    _, _, f1 = bert_score.score(
        [CANDS[i] for i in keep],
        [REFS[i] for i in keep],
        model_type=str(minilm_dir()),
        num_layers=6,
        idf=False,
        device="cpu",
        batch_size=64,
    )
    np.testing.assert_allclose(scores[keep], f1.double().numpy(), rtol=0, atol=1e-6)
    assert scores.shape == (len(CANDS),)
    assert scores[CANDS.index("")] == 0.0  # bert-score's rule for empty text
    assert scores[0] > scores[2]  # a paraphrase beats an unrelated sentence


def test_model_is_loaded_once_per_process(scores: np.ndarray) -> None:
    first = load_scorer(str(minilm_dir()), 6, "cpu")
    assert load_scorer(str(minilm_dir()), 6, "cpu") is first


def test_describe_records_the_scorer_hash(scores: np.ndarray) -> None:
    info = bertscore_f1(device="cpu").describe()
    assert info["hash"] == load_scorer(str(minilm_dir()), 6, "cpu").hash
    assert info["num_layers"] == 6 and info["idf"] is False and info["rescale_with_baseline"] is False
    assert info["model"].startswith("all-MiniLM-L6-v2")


@pytest.mark.slow  # loads the model a third time
def test_idf_weights_come_from_the_references(scores: np.ndarray) -> None:
    idf_scores = bertscore_f1(idf=True, device="cpu").score(build_items(REFS), CANDS)
    scorer = load_scorer(str(minilm_dir()), 6, "cpu")
    assert scorer.idf is False  # the shared scorer is not changed
    reference = bert_score.BERTScorer(
        model_type=str(minilm_dir()), num_layers=6, idf=True, idf_sents=REFS, device="cpu", nthreads=0
    )
    keep = [i for i, c in enumerate(CANDS) if c]
    _, _, f1 = reference.score([CANDS[i] for i in keep], [REFS[i] for i in keep])
    np.testing.assert_allclose(idf_scores.values[keep], f1.double().numpy(), rtol=0, atol=1e-6)
    assert not np.allclose(idf_scores.values[keep], scores[keep])
    assert idf_scores.extra["hash"] == reference.hash
    assert bertscore_f1(idf=True).describe()["hash"] == reference.hash


def test_multi_reference_takes_the_best(scores: np.ndarray, make_items: MakeItems) -> None:
    items = make_items([[REFS[2], REFS[0]]])
    best = bertscore_f1(device="cpu").score(items, [CANDS[0]]).values[0]
    assert best == pytest.approx(scores[0], abs=1e-6)


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="needs num_layers"):
        bertscore_f1(model="/some/model")
    with pytest.raises(ConfigError, match="out of range"):
        load_scorer(str(minilm_dir()), 7, "cpu")
