"""Tiny real models for fast tests: a 2-layer Llama (hidden 64) with SmolLM2's real tokenizer."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from tunegate.harness.models.resolve import DEFAULT_ALIAS, resolve_base

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def smollm2_dir() -> Path:
    """The materialised SmolLM2 checkpoint (converted once per machine, then reused)."""
    return resolve_base(DEFAULT_ALIAS)


def build_tiny_llama(out: Path, *, seed: int = 0) -> Path:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    src = smollm2_dir()
    tok = AutoTokenizer.from_pretrained(src)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, out / name)
    return out


def build_lora_adapter(base_dir: Path, out: Path, *, zero_b: bool = False, scale: float = 0.5, seed: int = 1) -> Path:
    """A LoRA adapter on ``base_dir``: random A and B (an effect), or B = 0 (no effect at all)."""
    from transformers import AutoModelForCausalLM

    from tunegate.harness.models.quiet import quiet

    with quiet():  # peft's import and calls warn about things that are not the tests' (models/quiet.py)
        from peft import LoraConfig, get_peft_model

        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        torch.manual_seed(seed)
        cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, task_type="CAUSAL_LM")
        peft_model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                if zero_b:
                    param.zero_()
                else:
                    param.normal_(0.0, scale)
    peft_model.save_pretrained(out, safe_serialization=True)
    return out
