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

from tunegate.harness import progress
from tunegate.harness.models.base import Completion
from tunegate.harness.models.runtime import cache_kwarg
from tunegate.harness.models.slots import slot_generate, supports_slots


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


LOOPS = ("fast", "batched", "generate")


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
    loop: str = "fast",
) -> list[Completion]:
    """Greedy completions of ``prompts`` in order.

    ``loop="fast"`` (the default) uses continuous batching (:mod:`tunegate.harness.models.slots`) where the
    model supports it: ``batch_size`` rows decode together and a finished row's slot goes to the
    next prompt at once; prompts sharing a long prefix compute it once. Other models use
    ``loop="batched"``: tunegate's batch-at-a-time loop, one prefill that keeps only the last
    position's logits, then one token per step, with finished rows leaving the batch.
    ``loop="generate"`` calls ``model.generate`` (the reference both are checked against).
    """
    import torch

    if loop not in LOOPS:
        raise ValueError(f"unknown decoding loop {loop!r}; use one of {', '.join(LOOPS)}")

    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    eos = eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    show = len(prompts) > batch_size and sys.stderr.isatty()
    bar = tqdm(total=len(prompts), desc=f"generating [{desc}]", unit="item", disable=not show, leave=False)

    def finished(n: int) -> None:
        bar.update(n)
        progress.item_done(n)  # the run's progress line moves per finished item

    if loop == "fast" and supports_slots(model):
        eos_set = set(eos)

        def is_done(toks: list[int]) -> bool:
            return toks[-1] in eos_set or (bool(stop) and _stop_hit(tokenizer, toks, stop))

        new = slot_generate(
            model,
            encoded,
            max_new_tokens=max_new_tokens,
            is_done=is_done,
            slots=batch_size,
            pad_id=pad,
            device=device,
            on_finish=finished,
        )
        bar.close()
        return [_finish(tokenizer, toks, eos, stop, len(seq)) for toks, seq in zip(new, encoded, strict=True)]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    results: list[Completion | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            seq = encoded[i]
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        with torch.inference_mode():
            if loop == "generate":
                new = _hf_generate(model, tokenizer, ids, mask, max_new_tokens, stop, eos, pad)
            else:
                new = _fast_loop(model, tokenizer, ids, mask, max_new_tokens, stop, set(eos))
        for row, i in enumerate(idx):
            results[i] = _finish(tokenizer, new[row], eos, stop, len(encoded[i]))
        finished(len(idx))
    bar.close()
    return [c for c in results if c is not None]


def _finish(tokenizer: Any, toks: list[int], eos: Sequence[int], stop: Sequence[str], prompt_tokens: int) -> Completion:
    n, finish, hit_eos = len(toks), "length", False
    for k, t in enumerate(toks):
        if t in eos:
            n, finish, hit_eos = k, "stop", True
            break
    text = tokenizer.decode(toks[:n], skip_special_tokens=True)
    text, stopped = cut_at_stop(text, stop)
    if stopped:
        finish = "stop"
    return Completion(text=text, n_tokens=n + (1 if hit_eos else 0), finish_reason=finish, prompt_tokens=prompt_tokens)


def _hf_generate(
    model: Any,
    tokenizer: Any,
    ids: Any,
    mask: Any,
    max_new_tokens: int,
    stop: Sequence[str],
    eos: list[int],
    pad: int,
) -> list[list[int]]:
    kwargs: dict[str, Any] = {}
    if stop:
        kwargs.update(stop_strings=list(stop), tokenizer=tokenizer)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        eos_token_id=eos,
        pad_token_id=pad,
        **kwargs,
    )
    new: list[list[int]] = out[:, ids.shape[1] :].tolist()
    return new


def _stop_hit(tokenizer: Any, toks: list[int], stop: Sequence[str]) -> bool:
    tail = tokenizer.decode(toks[-12:], skip_special_tokens=True)
    return any(s and s in tail for s in stop)


def _fast_loop(
    model: Any, tokenizer: Any, ids: Any, mask: Any, max_new_tokens: int, stop: Sequence[str], eos: set[int]
) -> list[list[int]]:
    import torch
    from transformers import DynamicCache

    batch = ids.shape[0]
    kwarg = cache_kwarg(model)
    cache = DynamicCache()
    pos = mask.cumsum(-1) - 1
    pos.masked_fill_(mask == 0, 1)
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=pos,
        use_cache=True,
        logits_to_keep=1,
        **{kwarg: cache},
    )
    tok = out.logits[:, -1, :].argmax(-1)
    alive = list(range(batch))
    generated: list[list[int]] = [[] for _ in range(batch)]
    last_pos = pos[:, -1:]
    for step in range(max_new_tokens):
        toks = tok.tolist()
        keep: list[int] = []
        for r, row in enumerate(alive):
            generated[row].append(toks[r])
            done = toks[r] in eos or (bool(stop) and _stop_hit(tokenizer, generated[row], stop))
            if not done:
                keep.append(r)
        if not keep or step == max_new_tokens - 1:
            break
        if len(keep) < len(alive):
            sel = torch.tensor(keep, device=ids.device)
            cache.batch_select_indices(sel)
            mask, tok, last_pos = mask[sel], tok[sel], last_pos[sel]
            alive = [alive[r] for r in keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        last_pos = last_pos + 1
        out = model(
            input_ids=tok[:, None],
            attention_mask=mask,
            position_ids=last_pos,
            use_cache=True,
            **{kwarg: cache},
        )
        tok = out.logits[:, -1, :].argmax(-1)
    return generated
