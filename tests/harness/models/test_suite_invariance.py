"""Every item of every shipped suite gets the same text alone as in the default batch.

The shipped suites are where prompts share long prefixes (a reading passage under several
questions, the support suite's system prompt), which the bench workloads do not. Slow: the
default base generates each suite twice per dtype (alone: one prompt per admission, the batch
size 1; then every item of the suite in one call at the default batch size). Run it with
``pytest tests/harness/models/test_suite_invariance.py -m slow -s`` to see the counts;
``TUNEGATE_SUITE_ONLY=general/`` keeps the suites whose name starts so, ``TUNEGATE_SUITE_LIMIT=16``
the first 16 items of each, ``TUNEGATE_SUITE_SLICE=100:200`` items 100 to 199 of each (to split a
suite between processes: an item alone costs 10-20 s at 128 new tokens on a 2-core CPU, so the
two support suites alone take hours there).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tunegate.harness import general
from tunegate.harness.data import EvalItem, Message, Suite
from tunegate.harness.models.chat import render_prompt
from tunegate.harness.models.decode import greedy_generate

DEFAULT_BATCH = 64


def dev_suite() -> Suite:
    """support/dev.jsonl as prompts: each chat without its final assistant turn (the reference
    reply a trainer's dev pass scores the generation against)."""
    from suites._support import MAX_NEW_TOKENS, SUPPORT_DATA

    path = SUPPORT_DATA / "dev.jsonl"
    items = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        messages = [Message(m["role"], m["content"]) for m in row["messages"]]
        while messages and messages[-1].role == "assistant":
            messages.pop()
        items.append(EvalItem(id=row["id"], messages=tuple(messages)))
    return Suite(name="support/dev", items=tuple(items), path=str(path), max_new_tokens=MAX_NEW_TOKENS)


def shipped_suites() -> list[Suite]:
    from suites._support import support_eval

    return [support_eval(), dev_suite(), *general.suites()]


def _texts(model: Any, tok: Any, suite: Suite, prompts: list[str], batch_size: int) -> list[str]:
    out = greedy_generate(
        model, tok, prompts, max_new_tokens=suite.max_new_tokens, stop=suite.stop, batch_size=batch_size
    )
    return [c.text for c in out]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_every_shipped_item_alone_equals_the_default_batch(dtype: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.tinymodels import smollm2_dir

    limit = int(os.environ.get("TUNEGATE_SUITE_LIMIT", "0"))  # first N items per suite (0: all)
    only = os.environ.get("TUNEGATE_SUITE_ONLY", "")  # suites whose name starts with this ("": all)
    start, _, stop = os.environ.get("TUNEGATE_SUITE_SLICE", ":").partition(":")  # items start:stop
    part = slice(int(start) if start else None, int(stop) if stop else None)
    tok = AutoTokenizer.from_pretrained(smollm2_dir())
    torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir(), dtype=torch_dtype).eval()
    differing: dict[str, list[str]] = {}
    for suite in (s for s in shipped_suites() if s.name.startswith(only)):
        items = suite.items[part][:limit] if limit else suite.items[part]
        prompts = [render_prompt(tok, it.messages) for it in items]
        alone = _texts(model, tok, suite, prompts, 1)
        batched = _texts(model, tok, suite, prompts, DEFAULT_BATCH)
        differing[suite.name] = [it.id for it, a, b in zip(items, alone, batched, strict=True) if a != b]
        where = f" items {part.start or 0}:{part.stop or len(suite.items)}" if part != slice(None) else ""
        print(
            f"{dtype} {suite.name}{where}: {len(items) - len(differing[suite.name])}/{len(items)} identical",
            flush=True,
        )
    assert not any(differing.values()), differing


READING = ("reading-029", "reading-049", "reading-067")
"""Items whose texts used to change between alone and among 40 reading items (bf16, AVX512-BF16)."""


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_reading_items_alone_among_40_and_reversed(dtype: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.tinymodels import smollm2_dir

    tok = AutoTokenizer.from_pretrained(smollm2_dir())
    torch_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir(), dtype=torch_dtype).eval()
    suite = general.suite("general/reading")
    by_id = {it.id: it for it in suite.items}
    forty = [by_id[i] for i in READING] + [it for it in suite.items if it.id not in READING][:37]
    prompts = [render_prompt(tok, it.messages) for it in forty]
    alone = [_texts(model, tok, suite, [p], 1)[0] for p in prompts[:3]]
    among = _texts(model, tok, suite, prompts, DEFAULT_BATCH)
    reversed_8 = _texts(model, tok, suite, prompts[::-1], 8)[::-1]
    for item_id, a, b, c in zip(READING, alone, among, reversed_8, strict=False):
        print(f"{dtype} {item_id}: {a!r}", flush=True)
        assert a == b == c, (item_id, a, b, c)
    assert among == reversed_8
