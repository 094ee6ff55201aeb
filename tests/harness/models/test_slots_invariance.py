"""The text generated for an item depends on the item alone: not on its batch, slot or prefix group.

bf16 is where this used to break (a near-tie in greedy argmax flips with the shapes a row is
computed with). The tiny model here has a wide MLP (K = 1536 in ``down_proj``, where a one-row
bf16 GEMM takes another kernel) and large random weights, so its outputs are sensitive to
rounding.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.tinymodels import wide_model
from tunegate.harness.models.chat import render_prompt
from tunegate.harness.models.decode import greedy_generate
from tunegate.harness.models.slots import slot_generate

SYSTEMS = [
    "You are a careful billing assistant. Answer in JSON with a category and a reply.",
    "You sort customer messages. Categories: billing, shipping, returns, other. One line.",
]


@pytest.fixture(scope="module")
def wide_bf16(tiny_tokenizer: Any) -> tuple[Any, Any]:
    import torch

    return wide_model(tiny_tokenizer, seed=5, dtype=torch.bfloat16), tiny_tokenizer


def _prompts(tok: Any, n: int = 12) -> list[str]:
    out = []
    for k in range(n):
        chat = [{"role": "user", "content": "order " * (k % 5 + 1) + f"number {k} arrived late"}]
        if k % 4:
            chat.insert(0, {"role": "system", "content": SYSTEMS[k % 2]})
        out.append(render_prompt(tok, chat))
    return out


def _texts(model: Any, tok: Any, prompts: list[str], batch_size: int) -> list[str]:
    out = greedy_generate(model, tok, prompts, max_new_tokens=12, batch_size=batch_size)
    return [c.text for c in out]


def test_bf16_outputs_do_not_depend_on_the_batch(wide_bf16: tuple[Any, Any]) -> None:
    model, tok = wide_bf16
    prompts = _prompts(tok)
    per_item = [_texts(model, tok, [p], 1)[0] for p in prompts]
    assert len(set(per_item)) > len(prompts) // 2, "outputs should vary from prompt to prompt"
    for batch_size in (1, 3, 8):
        assert _texts(model, tok, prompts, batch_size) == per_item, f"batch size {batch_size}"
    # Another composition: every other prompt, next to new neighbours that share its system prompt.
    others = _prompts(tok, 20)[12:]
    mixed = prompts[::2] + others
    assert _texts(model, tok, mixed, 5)[: len(prompts[::2])] == per_item[::2]


def test_nested_shared_prefixes_do_not_change_outputs(wide_bf16: tuple[Any, Any]) -> None:
    """Prompts that share prefixes at three depths (system turn, an opening sentence, a second
    sentence) are prefilled as a radix tree when they arrive together; alone, each is one chunk."""
    model, tok = wide_bf16
    openings = ["The invoice for my last order shows a charge I do not recognise.", "My parcel never came."]
    seconds = ["I wrote to you twice already about this.", "Please look into it today."]
    prompts = [
        render_prompt(
            tok,
            [
                {"role": "system", "content": SYSTEMS[0]},
                {"role": "user", "content": f"{openings[k % 2]} {seconds[(k // 2) % 2]} Ticket {k}."},
            ],
        )
        for k in range(10)
    ]
    per_item = [_texts(model, tok, [p], 1)[0] for p in prompts]
    assert len(set(per_item)) > len(prompts) // 2, "outputs should vary from prompt to prompt"
    for batch_size in (2, 4, 10):
        assert _texts(model, tok, prompts, batch_size) == per_item, f"batch size {batch_size}"
    assert _texts(model, tok, prompts[::-1], 10) == per_item[::-1]


def test_a_row_alone_in_its_forward_is_not_computed_apart(wide_bf16: tuple[Any, Any]) -> None:
    """One prompt whose own tail is a single token after a shared prefix, then one row decoding
    alone at the end of the queue: both are the shapes a one-row GEMM would round differently."""
    model, tok = wide_bf16
    base = _prompts(tok, 3)[1]
    ids = tok(base, add_special_tokens=False)["input_ids"]
    encoded = [ids, ids + [ids[-1]], ids[:-3]]

    def run(prompts: list[list[int]], slots: int) -> list[list[int]]:
        return slot_generate(
            model,
            prompts,
            max_new_tokens=6 + len(prompts),
            is_done=lambda _t: False,
            slots=slots,
            pad_id=0,
            device="cpu",
        )

    together = run(encoded, 3)
    alone = [run([e], 1)[0] for e in encoded]
    assert [t[: len(a)] for t, a in zip(together, alone, strict=True)] == alone


def test_stop_strings_cut_where_lm_eval_does(wide_bf16: tuple[Any, Any]) -> None:
    """Tokens counted up to and including the one that completes the stop string; text cut before it."""
    model, tok = wide_bf16
    prompts = _prompts(tok, 8)
    encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    free = slot_generate(
        model, encoded, max_new_tokens=12, is_done=lambda _t: False, slots=4, pad_id=0, device="cpu"
    )
    texts = [tok.decode(t, skip_special_tokens=True) for t in free]
    stop = next(t for t in texts if len(t) > 8)[4:6]
    out = greedy_generate(model, tok, prompts, max_new_tokens=12, batch_size=4, stop=(stop,))
    hits = 0
    for toks, text, c in zip(free, texts, out, strict=True):
        if tok.eos_token_id in toks:
            continue
        ends = [
            k + 1 for k in range(len(toks)) if stop in tok.decode(toks[: k + 1], skip_special_tokens=True)
        ]
        if ends:
            hits += 1
            assert c.n_tokens == ends[0]
            assert c.text == text.split(stop)[0]
            assert c.finish_reason == "stop"
        else:
            assert c.n_tokens == len(toks) and c.text == text
    assert hits >= 1


@pytest.mark.slow
def test_smollm2_bf16_outputs_do_not_depend_on_the_batch() -> None:
    """The real default base in bf16 on 16 prompt-heavy chats: batch 1, 8, 16 and per item agree."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bench.generate import prompt_heavy_workload
    from tests.tinymodels import smollm2_dir

    tok = AutoTokenizer.from_pretrained(smollm2_dir())
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir(), dtype=torch.bfloat16).eval()
    prompts = [render_prompt(tok, chat) for chat in prompt_heavy_workload(16)]

    def texts(batch: list[str], batch_size: int) -> list[str]:
        out = greedy_generate(model, tok, batch, max_new_tokens=16, batch_size=batch_size, stop=("\n",))
        return [c.text for c in out]

    per_item = [texts([p], 1)[0] for p in prompts]
    for batch_size in (1, 8, 16):
        assert texts(prompts, batch_size) == per_item, f"batch size {batch_size}"
