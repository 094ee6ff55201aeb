"""Tiny real models for fast tests: a 2-layer Llama (hidden 64) with SmolLM2's real tokenizer, and
in-memory "wide" decoders of several architectures whose greedy outputs are sensitive to rounding."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch

from tunegate.harness.models.resolve import DEFAULT_ALIAS, resolve_base

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def smollm2_dir() -> Path:
    """The materialised SmolLM2 checkpoint (converted once per machine, then reused)."""
    return resolve_base(DEFAULT_ALIAS)


def decoder_config(
    config_class: Any, tokenizer: Any, *, hidden: int, mlp: int, heads: int, positions: int, **extra: Any
) -> Any:
    """A 2-layer decoder config over ``tokenizer``'s vocabulary and special tokens (2 key/value
    heads, tied embeddings): the shape of every tiny model here."""
    return config_class(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=mlp,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=2,
        max_position_embeddings=positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def build_tiny_llama(out: Path, *, seed: int = 0, hidden: int = 64, mlp: int = 128) -> Path:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    src = smollm2_dir()
    tok = AutoTokenizer.from_pretrained(src)
    config = decoder_config(LlamaConfig, tok, hidden=hidden, mlp=mlp, heads=4, positions=2048)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, out / name)
    return out


def build_lora_adapter(
    base_dir: Path,
    out: Path,
    *,
    zero_b: bool = False,
    scale: float = 0.5,
    seed: int = 1,
    rank_pattern: dict[str, int] | None = None,
) -> Path:
    """A LoRA adapter on ``base_dir``: random A and B (an effect), or B = 0 (no effect at all); rank
    4 on q_proj and v_proj, or the ranks ``rank_pattern`` gives."""
    from transformers import AutoModelForCausalLM

    from tunegate.harness.models.quiet import quiet

    with quiet():  # peft's import and calls warn about things that are not the tests' (models/quiet.py)
        from peft import LoraConfig, get_peft_model

        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        torch.manual_seed(seed)
        cfg = LoraConfig(
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "v_proj"],
            lora_dropout=0.0,
            task_type="CAUSAL_LM",
            rank_pattern=rank_pattern or {},
        )
        peft_model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                if zero_b:
                    param.zero_()
                else:
                    param.normal_(0.0, scale)
    peft_model.save_pretrained(str(out), safe_serialization=True)
    return out


WIDE_ARCHITECTURES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", {}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", {}),  # biased q/k/v projections
    "mistral": ("MistralConfig", "MistralForCausalLM", {"sliding_window": None}),
}
"""Decoder families :func:`wide_model` builds: ``(config class, model class, config overrides)``."""


def randomize(model: Any, *, seed: int, std: float) -> Any:
    """Redraw every weight matrix of ``model`` from N(0, std): larger weights than a trained model's,
    so greedy outputs vary from prompt to prompt and react to any change in rounding."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, std)
    return model


def wide_model(tokenizer: Any, *, architecture: str = "llama", seed: int, dtype: torch.dtype) -> Any:
    """A 2-layer decoder of ``architecture`` (see :data:`WIDE_ARCHITECTURES`) in eval mode, with a
    1536-wide MLP (K = 1536 in ``down_proj``: where a one-row bf16 GEMM takes another kernel),
    6 query heads over 2 key/value heads, and large random weights (:func:`randomize`)."""
    import transformers

    config_class, model_class, extra = WIDE_ARCHITECTURES[architecture]
    config = decoder_config(
        getattr(transformers, config_class), tokenizer, hidden=96, mlp=1536, heads=6, positions=4096, **extra
    )
    model = getattr(transformers, model_class)(config).eval()
    return randomize(model, seed=seed, std=0.3).to(dtype)
