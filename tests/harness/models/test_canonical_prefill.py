"""Prompts that share long passages get the same text alone as in any batch, in bf16 and fp32.

A reading suite's items share passages, so inside one admission the shared-prefix prefill used to
compute a passage once, in chunks whose boundaries and attention shapes followed the other
prompts of the admission; a row's numbers then changed with its company. Here the passages cross
several canonical blocks, questions differ after one token or many, some prompts are a prefix of
another's passage, and the compositions vary: alone, several batch sizes, reversed, a subset
next to new neighbours; for each decoder family the slot loop serves (Llama, Qwen2 with its biased
projections, Mistral).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.tinymodels import WIDE_ARCHITECTURES, wide_model
from tunegate.harness.models.chat import render_prompt
from tunegate.harness.models.decode import greedy_generate
from tunegate.harness.models.slots import supports_slots

PASSAGES = [
    "The shop on Hill Street opens at half past nine on weekdays and at ten on Saturdays. "
    "It closes for lunch between one and two, except in December, when it stays open all day. "
    "Deliveries arrive on Tuesday mornings and are shelved before the doors open.",
    "A ferry leaves the north pier every forty minutes from seven until eleven. The last boat "
    "back from the island is at ten past ten, and bicycles travel free outside rush hour.",
]
QUESTIONS = [
    "When does the shop open?",
    "When does it open on Saturday?",
    "Is it open at lunch in December?",
    "When do deliveries arrive?",
    "What time is the last boat?",
    "Do bicycles pay?",
    "How often does it leave?",
]


@pytest.fixture(
    scope="module",
    params=[(arch, dtype) for arch in WIDE_ARCHITECTURES for dtype in ("bf16", "fp32")],
    ids=lambda p: "-".join(p),
)
def wide(request: pytest.FixtureRequest, tiny_tokenizer: Any) -> tuple[Any, Any]:
    """A rounding-sensitive tiny decoder of each family the slot loop serves, in bf16 and fp32."""
    import torch

    arch, dtype = request.param
    torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    return wide_model(tiny_tokenizer, architecture=arch, seed=11, dtype=torch_dtype), tiny_tokenizer


def _prompts(tok: Any) -> list[str]:
    out = []
    for k, q in enumerate(QUESTIONS):
        passage = PASSAGES[0] if k < 4 else PASSAGES[1]
        chat = [
            {"role": "system", "content": "Answer from the passage in one short sentence."},
            {"role": "user", "content": f"{passage}\n\nQuestion: {q}"},
        ]
        out.append(render_prompt(tok, chat))
    # a passage cut short (a prefix of the others' prompts), and two prompts one token apart
    out.append(render_prompt(tok, [{"role": "user", "content": PASSAGES[0][:90]}]))
    out.append(out[0] + "A")
    out.append(out[0] + "B")
    return out


def _texts(model: Any, tok: Any, prompts: list[str], batch_size: int) -> list[str]:
    return [c.text for c in greedy_generate(model, tok, prompts, max_new_tokens=10, batch_size=batch_size)]


def test_shared_passages_give_the_same_text_alone_and_in_any_batch(wide: tuple[Any, Any]) -> None:
    model, tok = wide
    assert supports_slots(model)
    prompts = _prompts(tok)
    alone = [_texts(model, tok, [p], 1)[0] for p in prompts]
    assert len(set(alone)) > len(prompts) // 2, "outputs should vary from prompt to prompt"
    for batch_size in (2, 3, 5, len(prompts)):
        assert _texts(model, tok, prompts, batch_size) == alone, f"batch size {batch_size}"
    assert _texts(model, tok, prompts[::-1], len(prompts)) == alone[::-1]
    subset = [1, 4, 8, 9]
    assert _texts(model, tok, [prompts[i] for i in subset], 4) == [alone[i] for i in subset]
    pairs = [0, 7, 2, 3]  # the short passage next to the prompts it is a prefix of
    assert _texts(model, tok, [prompts[i] for i in pairs], 2) == [alone[i] for i in pairs]
