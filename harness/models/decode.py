"""Batched greedy decoding for local transformers models.

Prompts are tokenised once, sorted by length and cut into batches, so each batch holds prompts
of similar length (little padding, short batches finish early). Padding is on the left; each
sequence stops on EOS (any of the model's end-of-turn ids) or on a stop string, and text after a
stop string is cut.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

from harness.models.base import Completion


def eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.append(value)
        elif isinstance(value, (list, tuple)):
            ids.extend(int(v) for v in value)
    return sorted(set(ids))


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    cut = len(text)
    for s in stop:
        pos = text.find(s)
        if s and pos != -1:
            cut = min(cut, pos)
    return text[:cut], cut < len(text)


def greedy_generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    stop: Sequence[str] = (),
    batch_size: int = 16,
    device: str = "cpu",
    desc: str = "generate",
) -> list[Completion]:
    import torch

    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    eos = eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    results: list[Completion | None] = [None] * len(prompts)
    show = len(prompts) > batch_size and sys.stderr.isatty()
    bar = tqdm(total=len(prompts), desc=f"generating [{desc}]", unit="item", disable=not show, leave=False)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            seq = encoded[i]
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
        kwargs: dict[str, Any] = {}
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=tokenizer)
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                eos_token_id=eos,
                pad_token_id=pad,
                **kwargs,
            )
        new = out[:, width:].tolist()
        for row, i in enumerate(idx):
            toks = new[row]
            n = len(toks)
            finish = "length"
            for k, t in enumerate(toks):
                if t in eos:
                    n, finish = k, "stop"
                    break
            text = tokenizer.decode(toks[:n], skip_special_tokens=True)
            text, stopped = cut_at_stop(text, stop)
            if stopped:
                finish = "stop"
            results[i] = Completion(text=text, n_tokens=n + (1 if finish == "stop" and n < len(toks) else 0), finish_reason=finish)
        bar.update(len(idx))
    bar.close()
    return [c for c in results if c is not None]
