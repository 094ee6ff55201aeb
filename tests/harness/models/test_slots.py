"""Continuous batching (slots) gives exactly what ``model.generate`` gives, one prompt at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tinymodels import randomize
from tunegate.harness.models.chat import render_prompt
from tunegate.harness.models.decode import greedy_generate
from tunegate.harness.models.slots import block_chunks, slot_generate, supports_slots

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


def test_block_chunks_compute_each_token_once_at_its_own_place_in_its_block() -> None:
    block = 4
    shared = list(range(100, 109))  # 9 tokens: two whole blocks and one token of a third
    rows = [
        (0, [*shared, 7, 7, 7, 1]),
        (1, [*shared, 7, 7, 7, 2]),  # shares all but its last token with row 0
        (2, [*shared[:8], 9]),  # shares two blocks; its own part is its last token, a one-token block
        (3, [*shared[:6], 8, 8]),  # shares 6 tokens: its own part starts inside a block
        (4, [5, 6]),
    ]
    hosts = [(9, [*shared[:5], 3, 3, 3])]  # a running row: shares 5 tokens with the new ones
    chunks = block_chunks(rows, block, hosts=hosts)
    for tokens, segments, _, tile in chunks:
        start = segments[-1][2] - len(tokens)
        # A chunk never crosses a block column; its first token sits at its column's tile row.
        assert start // block == (segments[-1][2] - 1) // block and 1 <= len(tokens) <= block
        assert tile is None and len(tokens) == 1 or tile == start % block
        assert segments[0][1] == 0 and all(a[2] == b[1] for a, b in zip(segments, segments[1:], strict=False))
    leaves = {leaf: (tokens, segments, tile) for tokens, segments, leaf, tile in chunks if leaf is not None}
    assert sorted(leaves) == [0, 1, 2, 3, 4]
    for slot, prompt in rows:
        assert leaves[slot][1][-1] == (slot, leaves[slot][1][-1][1], len(prompt))  # its last chunk is its own
    # The running row hosts the first 5 tokens; row 0 computes the rest once, at their columns.
    computed = sorted((s[-1][0], s[-1][2] - len(t), s[-1][2]) for t, s, _, _ in chunks)
    assert computed == [(0, 5, 8), (0, 8, 12), (0, 12, 13), (1, 12, 13), (2, 8, 9), (3, 6, 8), (4, 0, 2)]
    assert leaves[1][1] == ((9, 0, 5), (0, 5, 12), (1, 12, 13)) and leaves[1][2] is None  # one-token block
    assert leaves[2][1] == ((9, 0, 5), (0, 5, 8), (2, 8, 9)) and leaves[2][2] is None
    assert leaves[3][1] == ((9, 0, 5), (0, 5, 6), (3, 6, 8)) and leaves[3][2] == 2
    # Alone, a prompt is cut at every block column, each chunk from tile row 0 (its one-token
    # last block on the one-query path).
    prompt = rows[1][1]
    alone = block_chunks([(5, prompt)], block)
    expected = [(prompt[lo : lo + block], min(lo + block, len(prompt)), 0) for lo in range(0, 12, block)]
    expected.append(([2], 13, None))
    assert [(tokens, segments[-1][2], tile) for tokens, segments, _, tile in alone] == expected


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


def test_prompts_sharing_a_prefix_compute_it_once_across_admissions(
    lively_model: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two slots, a prompt admitted while another with the same system turn is still
    decoding reads that turn from the running row's slot instead of computing it again, and
    every text is still what the prompt gets alone."""
    import tunegate.harness.models.slots as slots

    model, tok = lively_model
    prompts = [p for p in _prompts(tok, 9) if "billing" in p][:5]
    encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]

    def is_done(toks: list[int]) -> bool:  # rows stop after 2 to 6 tokens, by what they generated
        return len(toks) >= 2 + sum(toks[:2]) % 5

    def run(batch: list[list[int]], n: int) -> list[list[int]]:
        return slot_generate(model, batch, max_new_tokens=8, is_done=is_done, slots=n, pad_id=0, device="cpu")

    alone = [run([e], 1)[0] for e in encoded]
    assert len({len(t) for t in alone}) >= 2, "rows should stop at different steps"
    admissions: list[tuple[int, int]] = []  # (tokens computed, tokens without the running rows)
    plan = slots.block_chunks

    def recording(rows: Any, block: int = slots.BLOCK, hosts: Any = ()) -> Any:
        chunks = plan(rows, block, hosts)
        admissions.append((sum(len(c[0]) for c in chunks), sum(len(c[0]) for c in plan(rows, block))))
        return chunks

    monkeypatch.setattr(slots, "block_chunks", recording)
    assert run(encoded, 2) == alone
    assert len(admissions) >= 3
    assert all(done <= without for done, without in admissions)
    assert any(done < without for done, without in admissions), admissions
    # Each admission computes a shared token at most once: never more than its distinct prefixes.
    first = sorted(encoded)[:2]  # the queue runs in token order
    assert admissions[0][0] == len({tuple(e[: p + 1]) for e in first for p in range(len(e) - 1)}) + 2
