"""The local provider: G-Eval probability weighting on a tiny real Llama (and SmolLM2, marked slow)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from tests.judges.conftest import make_items
from tunegate.judges import Judge
from tunegate.judges.calibrate import calibrate

OUTPUTS = ["Hello,\n\nWe refunded it.\n\n— The Billing Team", "no", "Hi Sam,\n\nPlease wait!\n\nbye"]


def local_judge(model_dir: Path, cache_dir: Path, **options: object) -> Judge:
    # A random tiny model spreads its probability over the whole vocabulary: min_mass 0 lets it score.
    return Judge(
        "local", str(model_dir), cache_dir=cache_dir, options={"dtype": "fp32", "min_mass": 0.0, **options}
    )


def test_score_is_the_probability_weighted_mean_of_the_score_tokens(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunegate.harness.models.chat import render_prompt

    judge = local_judge(tiny_model_dir, tmp_path, batch_size=3)
    items = make_items(3)
    scores = judge.rubric("support_style").score(items, OUTPUTS)
    assert scores.failures == (None, None, None)
    assert all(1.0 <= v <= 5.0 for v in scores.values)

    # The same number by hand: next-token distribution after "Score: ", restricted to "1".."5".
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    task = judge.single_task(judge.load("support_style"), items[1], OUTPUTS[1])
    ids = tok(
        render_prompt(tok, task.prompt.messages()) + "Score: ", return_tensors="pt", add_special_tokens=False
    )
    with torch.no_grad():
        probs = torch.softmax(model(**ids).logits[0, -1].float(), -1)
    digit = [tok.encode(str(s), add_special_tokens=False)[0] for s in range(1, 6)]
    p = torch.stack([probs[i] for i in digit])
    expected = float((p / p.sum() * torch.arange(1, 6)).sum())
    assert scores.values[1] == pytest.approx(expected, abs=1e-4)


def test_batching_does_not_change_scores(tiny_model_dir: Path, tmp_path: Path) -> None:
    items = make_items(3)
    one = (
        local_judge(tiny_model_dir, tmp_path / "a", batch_size=1)
        .rubric("support_style")
        .score(items, OUTPUTS)
    )
    three = (
        local_judge(tiny_model_dir, tmp_path / "b", batch_size=3)
        .rubric("support_style")
        .score(items, OUTPUTS)
    )
    assert three.values == pytest.approx(one.values, abs=1e-3)


def test_low_probability_mass_is_a_failure_with_the_top_tokens(tiny_model_dir: Path, tmp_path: Path) -> None:
    judge = local_judge(
        tiny_model_dir, tmp_path, min_mass=0.01
    )  # the default; a random model is far below it
    scores = judge.rubric("support_style").score(make_items(1), ["x"])
    assert math.isnan(scores.values[0])
    failure = scores.failures[0] or ""
    assert failure.startswith("no valid verdict after 1 attempt(s): the answer labels hold only")
    assert "top tokens:" in failure and "p(1)=" in failure


def test_pairwise_and_cache_with_the_local_judge(tiny_model_dir: Path, tmp_path: Path) -> None:
    judge = local_judge(tiny_model_dir, tmp_path)
    b, c = judge.pairwise("support_style").score_pair(make_items(3), OUTPUTS, list(reversed(OUTPUTS)))
    e = c.extra
    assert e["n_identical"] == 1 and e["wins"] + e["losses"] + e["ties"] == 3
    assert e["position_consistency"] is not None and 0.0 <= e["position_consistency"] <= 1.0
    again = local_judge(tiny_model_dir, tmp_path)
    b2, c2 = again.pairwise("support_style").score_pair(make_items(3), OUTPUTS, list(reversed(OUTPUTS)))
    assert again.engine.requests == 0 and c2.extra["cache_hits"] == 4
    assert b2.values.tolist() == b.values.tolist()


@pytest.mark.slow
def test_smollm2_judge_calibrates_on_a_slice(tmp_path: Path) -> None:
    """The real offline default on 10 calibration items: it runs and reports a kappa (weak is fine)."""
    import json

    from tests.judges.conftest import CALIBRATION

    rows = CALIBRATION.read_text(encoding="utf-8").splitlines()
    subset = tmp_path / "slice.jsonl"
    subset.write_text("\n".join(rows[:10]) + "\n", encoding="utf-8")
    judge = Judge("local", cache_dir=tmp_path)
    record, _ = calibrate(judge, "support_style", path=subset, n_pairs=4)
    assert record.n == 10 and record.n_failed == 0
    assert record.kappa is None or -1.0 <= record.kappa <= 1.0
    assert judge.provider.describe()["dtype"] == "bf16"
    assert json.dumps(record.to_dict())
