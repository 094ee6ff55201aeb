from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from tunegate.harness.errors import ConfigError, DataError, GateFailure  # noqa: E402
from tunegate.harness.forgetting import (  # noqa: E402
    DEFAULT_MAX_KL,
    DRIFT_TEXTS,
    DriftReport,
    assert_drift_within,
    bootstrap_mean_ci,
    default_drift_texts,
    drift_gate,
    drift_gate_record,
    kl_drift,
)

TEXTS = [
    "The river flows east through four capital cities before it reaches the sea.",
    "Preheat the oven, whisk two eggs with sugar, and fold in the flour slowly.",
    '"Are you coming on Saturday?" asked Mira. "Only if it stops raining," said Tom.',
    "# Retry with exponential backoff: the server answers 503 during deployments.",
    "Researchers found that short walks after meals lower blood sugar in older adults.",
    "Honeybees tell each other where flowers are with a waggle dance.",
]


def load_peft(base_dir: Path, adapter_dir: Path, dtype: torch.dtype = torch.float32) -> Any:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype)
    return PeftModel.from_pretrained(base, adapter_dir)


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def drifted(tiny_model_dir: Path, tiny_adapter_dir: Path, tokenizer: Any) -> DriftReport:
    model = load_peft(tiny_model_dir, tiny_adapter_dir)
    model.train()  # kl_drift must score in eval mode and give the mode back
    report = kl_drift(model, tokenizer, TEXTS, batch_size=4, n_resamples=2000, n_worst=3)
    assert model.training
    return report


def test_zero_adapter_has_exactly_zero_drift(
    tiny_model_dir: Path, tiny_zero_adapter_dir: Path, tokenizer: Any
) -> None:
    model = load_peft(tiny_model_dir, tiny_zero_adapter_dir)
    report = kl_drift(model, tokenizer, TEXTS, batch_size=4, n_resamples=500)
    assert report.kl_per_doc == (0.0,) * len(TEXTS)
    assert report.kl_ci == (0.0, 0.0)
    assert report.ll_base == report.ll_candidate and report.ll_shift_ci == (0.0, 0.0)
    assert report.base_bits_per_byte == report.candidate_bits_per_byte > 0


def test_random_adapter_drifts(drifted: DriftReport) -> None:
    kl = np.asarray(drifted.kl_per_doc)
    assert (kl > 0).all()
    low, high = drifted.kl_ci
    assert 0 < low <= drifted.kl_mean <= high
    assert drifted.ll_shift_ci[0] <= drifted.ll_shift_mean <= drifted.ll_shift_ci[1]
    assert drifted.candidate_bits_per_byte != drifted.base_bits_per_byte
    assert drifted.n_docs == len(TEXTS) and drifted.n_truncated == 0
    assert drifted.reference == "disable_adapter"


def test_worst_documents_come_first(drifted: DriftReport) -> None:
    kl = list(drifted.kl_per_doc)
    expected = sorted(range(len(kl)), key=lambda i: -kl[i])[:3]
    assert [w.index for w in drifted.worst] == expected
    assert [w.kl for w in drifted.worst] == sorted((w.kl for w in drifted.worst), reverse=True)
    first = drifted.worst[0]
    assert TEXTS[first.index].startswith(first.excerpt[:20]) and first.n_tokens == drifted.tokens[first.index]


def test_tokens_and_bytes_are_counted_per_document(drifted: DriftReport, tokenizer: Any) -> None:
    for text, n_tok, n_bytes in zip(TEXTS, drifted.tokens, drifted.n_bytes, strict=True):
        # every token after the context token is scored, so the first real token counts too
        assert n_tok == len(tokenizer(text, add_special_tokens=False)["input_ids"])
        assert n_bytes == len(text.encode("utf-8"))


def test_confidence_interval_method_widens_with_level(drifted: DriftReport) -> None:
    lo90, hi90 = drifted.confidence_interval(0.90)
    lo99, hi99 = drifted.confidence_interval(0.99)
    assert lo99 <= lo90 <= hi90 <= hi99


def test_to_dict_is_plain_json(drifted: DriftReport) -> None:
    data = json.loads(json.dumps(drifted.to_dict(), allow_nan=False))
    assert set(data) == {"kl", "perplexity", "settings"}
    assert data["kl"]["mean"] == pytest.approx(drifted.kl_mean) and len(data["kl"]["per_doc"]) == len(TEXTS)
    assert data["kl"]["worst"][0]["index"] == drifted.worst[0].index
    assert data["perplexity"]["delta_bits_per_byte"] == pytest.approx(
        -drifted.ll_shift_mean / math.log(2), rel=1e-6
    )
    assert data["settings"]["reference"] == "disable_adapter"


def test_bf16_weights_are_scored_in_fp32(
    tiny_model_dir: Path, tiny_adapter_dir: Path, tiny_zero_adapter_dir: Path, tokenizer: Any
) -> None:
    zero = kl_drift(
        load_peft(tiny_model_dir, tiny_zero_adapter_dir, torch.bfloat16),
        tokenizer,
        TEXTS[:3],
        n_resamples=200,
    )
    assert zero.kl_per_doc == (0.0, 0.0, 0.0)
    moved = kl_drift(
        load_peft(tiny_model_dir, tiny_adapter_dir, torch.bfloat16), tokenizer, TEXTS[:3], n_resamples=200
    )
    assert all(math.isfinite(v) and v > 0 for v in moved.kl_per_doc)


def test_reference_model_replaces_the_disabled_adapter(
    tiny_model_dir: Path, tiny_adapter_dir: Path, tokenizer: Any, drifted: DriftReport
) -> None:
    from transformers import AutoModelForCausalLM

    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    model = load_peft(tiny_model_dir, tiny_adapter_dir)
    report = kl_drift(model, tokenizer, TEXTS, batch_size=4, n_resamples=2000, reference_model=reference)
    assert report.reference == "reference_model"
    assert report.kl_per_doc == pytest.approx(drifted.kl_per_doc, rel=1e-4, abs=1e-7)


def test_nf4_base_with_adapter_on_top(
    tiny_model_dir: Path, tiny_zero_adapter_dir: Path, tiny_adapter_dir: Path, tokenizer: Any
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float32
    )
    base = AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, quantization_config=quant, dtype=torch.float32
    )
    zero = kl_drift(
        PeftModel.from_pretrained(base, tiny_zero_adapter_dir), tokenizer, TEXTS[:2], n_resamples=200
    )
    assert zero.kl_per_doc == (0.0, 0.0)  # the "base" is the same 4-bit weights, adapter off
    base = AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, quantization_config=quant, dtype=torch.float32
    )
    moved = kl_drift(PeftModel.from_pretrained(base, tiny_adapter_dir), tokenizer, TEXTS[:2], n_resamples=200)
    assert all(v > 0 for v in moved.kl_per_doc)


def test_truncation_counts_only_the_kept_bytes(
    tiny_model_dir: Path, tiny_adapter_dir: Path, tokenizer: Any
) -> None:
    model = load_peft(tiny_model_dir, tiny_adapter_dir)
    report = kl_drift(model, tokenizer, TEXTS[:2], max_length=6, n_resamples=200)
    assert report.n_truncated == 2 and report.tokens == (5, 5)
    kept = tokenizer.decode(tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"][:5])
    assert report.n_bytes[0] == len(kept.encode("utf-8"))


def test_inputs_are_checked(tiny_model_dir: Path, tokenizer: Any) -> None:
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(ConfigError, match="needs a peft model .*got LlamaForCausalLM"):
        kl_drift(plain, tokenizer, TEXTS)
    with pytest.raises(ConfigError, match="at least one text"):
        kl_drift(plain, tokenizer, [])
    with pytest.raises(ConfigError, match=r"bad at index\(es\) \[1\]"):
        kl_drift(plain, tokenizer, ["ok", "  "])


def test_bootstrap_ci_is_exact_on_constant_data() -> None:
    assert bootstrap_mean_ci(np.zeros(5), 0.95, 1000, 0) == (0.0, 0.0)
    assert bootstrap_mean_ci(np.array([0.3]), 0.95, 1000, 0) == (0.3, 0.3)
    lo, hi = bootstrap_mean_ci(np.arange(20.0), 0.95, 2000, 0)
    assert lo < 9.5 < hi
    assert bootstrap_mean_ci(np.arange(20.0), 0.95, 2000, 0) == (lo, hi)  # seeded


def test_default_drift_texts_are_varied_general_english() -> None:
    texts = default_drift_texts()
    assert len(texts) >= 60 and len(set(texts)) == len(texts)
    rows = [json.loads(line) for line in DRIFT_TEXTS.read_text(encoding="utf-8").splitlines()]
    assert {"encyclopedic", "howto", "dialogue", "news", "code"} <= {r["kind"] for r in rows}
    assert all(r["text"].count(".") + r["text"].count("?") + r["text"].count("\n") >= 2 for r in rows)


def test_bad_drift_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"text": "fine"}\n{"txt": 1}\nnot json\n')
    with pytest.raises(DataError) as info:
        default_drift_texts(bad)
    assert info.value.problems == [
        f'{bad}:2: expected an object with a non-empty "text" string',
        f"{bad}:3: invalid JSON: Expecting value (column 1)",
    ]


# ---------------------------------------------------------------- the KL drift gate


def destructive_adapter(base_dir: Path, out: Path) -> Path:
    """LoRA on the output head with B ~ N(0, 1): next-token distributions change wholesale.

    (On a random tiny model, attention-only adapters barely move the near-uniform output, however
    large their B; an output-head adapter drifts about as far as a destructive adapter on SmolLM2.)
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    torch.manual_seed(0)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["lm_head"], lora_dropout=0.0, task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 1.0)
    model.save_pretrained(out, safe_serialization=True)
    return out


def test_destructive_adapter_fails_the_drift_gate(tiny_model_dir: Path, tmp_path: Path, tokenizer: Any) -> None:
    adapter = destructive_adapter(tiny_model_dir, tmp_path / "destructive")
    report = kl_drift(load_peft(tiny_model_dir, adapter), tokenizer, TEXTS, n_resamples=1000)
    assert report.kl_ci[0] > DEFAULT_MAX_KL  # measured, not assumed: the premise of the test
    ok, message = drift_gate(report)
    assert not ok
    assert "exceeds the limit of 1 nats/token" in message and "whole interval is above it" in message
    with pytest.raises(GateFailure, match="exceeds the limit"):
        assert_drift_within(report, max_kl=DEFAULT_MAX_KL)
    record = drift_gate_record(report)
    assert record["passed"] is False and record["status"] == "fail" and record["max_kl"] == DEFAULT_MAX_KL


def test_zero_adapter_passes_the_drift_gate(
    tiny_model_dir: Path, tiny_zero_adapter_dir: Path, tokenizer: Any
) -> None:
    report = kl_drift(load_peft(tiny_model_dir, tiny_zero_adapter_dir), tokenizer, TEXTS, n_resamples=500)
    ok, message = drift_gate(report)
    assert ok and message.startswith("KL drift 0.0000 nats/token") and "within the limit" in message
    assert assert_drift_within(report) is report


def test_a_mild_adapter_passes_and_a_tight_limit_fails_it(drifted: DriftReport) -> None:
    assert drift_gate(drifted)[0]
    ok, message = drift_gate(drifted, max_kl=drifted.kl_ci[0] / 2)
    assert not ok and "whole interval is above it" in message


def _report(kl: list[float], ci: tuple[float, float]) -> DriftReport:
    n = len(kl)
    return DriftReport(
        kl_per_doc=tuple(kl), ll_base=(-1.0,) * n, ll_candidate=(-1.0,) * n, tokens=(10,) * n,
        n_bytes=(40,) * n, worst=(), kl_ci=ci, ll_shift_ci=(0.0, 0.0),
    )  # fmt: skip


def test_the_upper_bound_decides_not_the_mean() -> None:
    # mean 0.9 under the limit, but the interval reaches 1.3: not shown to stay below 1.0
    ok, message = drift_gate(_report([0.5, 1.3], (0.5, 1.3)), max_kl=1.0)
    assert not ok and "interval reaches above it" in message
    assert drift_gate(_report([0.9, 0.95], (0.9, 0.95)), max_kl=1.0)[0]


def test_no_documents_or_nan_never_pass() -> None:
    assert drift_gate(_report([], (math.nan, math.nan)))[0] is False
    ok, message = drift_gate(_report([math.nan], (math.nan, math.nan)))
    assert not ok and "not a finite measurement" in message


@pytest.mark.parametrize("bad", [0, -1.0, math.inf, math.nan, True, "1"])
def test_max_kl_is_validated(bad: Any, drifted: DriftReport) -> None:
    with pytest.raises(ConfigError, match="max_kl must be a positive number"):
        drift_gate(drifted, max_kl=bad)
