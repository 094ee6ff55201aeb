"""Continuous batching (slots) gives exactly what ``model.generate`` gives, one prompt at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tinymodels import randomize
from tunegate.harness.models.chat import render_prompt
from tunegate.harness.models.decode import greedy_generate
from tunegate.harness.models.slots import block_chunks, supports_slots

SYSTEM = {
    "role": "system",
    "content": "You are a careful billing assistant. Answer in JSON with a category and a reply.",
}


@pytest.fixture(scope="module")
def lively_model(tiny_model_dir: Path, tiny_tokenizer: Any) -> tuple[Any, Any]:
    """The tiny Llama with larger random weights, so its greedy outputs vary from prompt to prompt."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    return randomize(model, seed=3, std=0.5), tiny_tokenizer


def _prompts(tok: Any, n: int = 11) -> list[str]:
    # Every third prompt has no system turn: two prefix groups of different lengths.
    return [
        render_prompt(
            tok,
            ([SYSTEM] if k % 3 else []) + [{"role": "user", "content": "hello there " * (k + 1) + str(k)}],
        )
        for k in range(n)
    ]


def _with_extra_eos(model: Any, tok: Any, prompts: list[str], max_new: int) -> list[int]:
    """Make some mid-answer tokens end a turn, so rows finish at different steps and slots refill."""
    reference = greedy_generate(model, tok, prompts, max_new_tokens=max_new, batch_size=1, loop="generate")
    ids = [tok(c.text, add_special_tokens=False)["input_ids"] for c in reference]
    extra = sorted({row[(i * 5) % (len(row) - 1) + 1] for i, row in enumerate(ids) if len(row) > 2})
    return [tok.eos_token_id, *extra]


def test_block_chunks_cut_every_prompt_at_the_same_columns_and_share_whole_blocks() -> None:
    block = 4
    shared = list(range(100, 109))  # 9 tokens: two whole blocks and one token of a third
    rows = [
        (0, [*shared, 7, 7, 7, 1]),
        (1, [*shared, 7, 7, 7, 2]),  # shares three blocks with row 0; its last chunk is its own
        (2, [*shared[:8], 9]),  # shares two blocks; its last chunk is one token
        (3, [5, 6]),
    ]
    chunks = block_chunks(rows, block)
    # Every chunk starts at a multiple of the block and holds at most a block.
    for tokens, segments, _ in chunks:
        assert (segments[-1][2] - len(tokens)) % block == 0 and 1 <= len(tokens) <= block
    leaves = {leaf: (tokens, segments) for tokens, segments, leaf in chunks if leaf is not None}
    assert sorted(leaves) == [0, 1, 2, 3]
    for slot, prompt in rows:
        tokens, segments = leaves[slot]
        assert tokens == prompt[(len(prompt) - 1) // block * block :]  # its own last block, alone
        assert segments[0][1] == 0 and segments[-1] == (slot, segments[-1][1], len(prompt))
        assert all(a[2] == b[1] for a, b in zip(segments, segments[1:], strict=False))  # no gap, no overlap
    # Blocks short of a row's last: computed once, in the first row that has them.
    nodes = [(segments[-1][0], segments[-1][2]) for _, segments, leaf in chunks if leaf is None]
    assert nodes == [(0, 4), (0, 8), (0, 12)]
    assert leaves[1][1] == ((0, 0, 12), (1, 12, 13)) and leaves[2][1] == ((0, 0, 8), (2, 8, 9))
    # Alone, a prompt gets the same cuts.
    alone = block_chunks([(5, rows[1][1])], block)
    prompt = rows[1][1]
    expected = [(prompt[lo : lo + block], min(lo + block, len(prompt))) for lo in range(0, len(prompt), block)]
    assert [(tokens, segments[-1][2]) for tokens, segments, _ in alone] == expected


def test_slots_match_generate_with_refills_and_shared_prefixes(lively_model: tuple[Any, Any]) -> None:
    model, tok = lively_model
    prompts = _prompts(tok)
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = _with_extra_eos(model, tok, prompts, 16)
    try:
        ref = greedy_generate(model, tok, prompts, max_new_tokens=16, batch_size=1, loop="generate")
        fast = greedy_generate(model, tok, prompts, max_new_tokens=16, batch_size=3, loop="fast")
    finally:
        model.generation_config.eos_token_id = saved
    lengths = [c.n_tokens for c in ref]
    assert len(set(lengths)) >= 3, f"rows should finish at different steps: {lengths}"
    assert [c.text for c in fast] == [c.text for c in ref]
    assert [c.n_tokens for c in fast] == lengths
    assert [c.finish_reason for c in fast] == [c.finish_reason for c in ref]


def test_slots_match_batched_loop_with_stop_strings(lively_model: tuple[Any, Any]) -> None:
    model, tok = lively_model
    prompts = _prompts(tok, 7)
    plain = greedy_generate(model, tok, prompts, max_new_tokens=12, batch_size=4, loop="batched")
    stop = plain[0].text[5:8]
    batched = greedy_generate(
        model, tok, prompts, max_new_tokens=12, batch_size=4, loop="batched", stop=(stop,)
    )
    fast = greedy_generate(model, tok, prompts, max_new_tokens=12, batch_size=2, loop="fast", stop=(stop,))
    assert [c.text for c in fast] == [c.text for c in batched]
    assert fast[0].finish_reason == "stop" and stop not in fast[0].text


def test_slots_decode_a_peft_adapter(tiny_model_dir: Path, tiny_adapter_dir: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.padding_side = "left"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    model = PeftModel.from_pretrained(base, tiny_adapter_dir).eval()
    assert supports_slots(model)
    prompts = _prompts(tok, 5)
    ref = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=5, loop="generate")
    fast = greedy_generate(model, tok, prompts, max_new_tokens=8, batch_size=2, loop="fast")
    assert [c.text for c in fast] == [c.text for c in ref]


@pytest.mark.parametrize(
    ("config", "ok"),
    [
        ({"model_type": "llama"}, True),
        ({"model_type": "qwen2", "sliding_window": 4096, "use_sliding_window": False}, True),
        ({"model_type": "mistral", "sliding_window": 4096}, False),
        ({"model_type": "qwen3", "layer_types": ["full_attention", "sliding_attention"]}, False),
        ({"model_type": "llama", "_attn_implementation": "flex_attention"}, False),
        ({"model_type": "gemma2"}, False),
    ],
)
def test_which_models_use_slots(config: dict[str, Any], ok: bool) -> None:
    from types import SimpleNamespace

    assert supports_slots(SimpleNamespace(config=SimpleNamespace(**config))) is ok


def test_models_outside_the_family_fall_back(
    lively_model: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tunegate.harness.models.slots as slots

    model, tok = lively_model
    assert supports_slots(model)
    monkeypatch.setattr(slots, "SLOT_MODEL_TYPES", frozenset())
    assert not supports_slots(model)
    prompts = _prompts(tok, 4)
    out = greedy_generate(model, tok, prompts, max_new_tokens=6, batch_size=2, loop="fast")
    ref = greedy_generate(model, tok, prompts, max_new_tokens=6, batch_size=2, loop="generate")
    assert [c.text for c in out] == [c.text for c in ref]


def test_unknown_loop_is_refused(lively_model: tuple[Any, Any]) -> None:
    model, tok = lively_model
    with pytest.raises(ValueError, match="unknown decoding loop 'turbo'"):
        greedy_generate(model, tok, ["hi"], max_new_tokens=2, loop="turbo")
