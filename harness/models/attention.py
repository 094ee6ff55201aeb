"""Batch-invariant attention for the slot loop: an item's numbers never depend on its neighbours.

With a fused kernel (``sdpa``) a row's attention output depends on the shapes it is computed
with: the key width (set by the longest row of the step), the padding, the batch. In bf16 that
is enough to flip a near-tie in greedy argmax, so the text generated for an item used to depend
on which items shared its batch. Measured on this CPU (torch 2.13, oneDNN bf16):

- ``F.linear`` in bf16 gives each output row the same bits for every row count M >= 2 (M = 1
  takes a GEMV path that rounds differently); the slot loop therefore never runs a forward with
  a single row (it adds a padding row in a spare slot).
- ``scaled_dot_product_attention`` changes a row's bits with the key width and the batch (25 of
  64 rows in a decode test); an attention written as two bf16 matmuls with a float32 masked
  softmax does not (0 of 64, for any width and batch split).

So the slot loop runs this attention (registered as ``tunegate_exact``). Each forward is given a
plan: a decode step (every row one query, a key width shared by the step, each row's own length
as the mask), or a packed prefill (all new tokens of several prompts in one sequence, each
prompt attending only to its own slot's keys). The linear layers see every token of every
prompt in one GEMM without padding; attention runs per prompt on exactly its own keys.
Query heads that share a key/value head are folded into the matmul's rows, so no key is copied.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

NAME = "tunegate_exact"


@dataclass
class DecodePlan:
    """One query per row; row ``r`` sees key columns ``< visible[r]`` (a [rows] tensor)."""

    visible: Any


@dataclass
class PackedPlan:
    """New tokens of several prompts in one sequence of the batch's single row.

    ``items`` holds ``(slot, start, count, past)`` per prompt: its ``count`` tokens sit at
    ``start`` in the packed sequence, its keys at columns ``past .. past + count`` of ``slot``
    (columns before ``past`` were filled earlier: a shared prefix).
    """

    items: Sequence[tuple[int, int, int, int]]


_PLAN: DecodePlan | PackedPlan | None = None


@contextmanager
def planned(plan: DecodePlan | PackedPlan) -> Iterator[None]:
    global _PLAN
    saved, _PLAN = _PLAN, plan
    try:
        yield
    finally:
        _PLAN = saved


def _attend(q: Any, k: Any, v: Any, allowed: Any, scaling: float) -> Any:
    """q [b, H, T, D], k/v [b, KV, W, D], allowed [b, T, W] (bool) -> [b, H, T, D]."""
    import torch

    b, heads, t, d = q.shape
    kv = k.shape[1]
    group = heads // kv
    rows = group * t
    qf = q.reshape(b, kv, rows, d)  # heads kv*group+j share key head kv: fold them into rows
    pad = rows == 1  # a one-row matmul takes another kernel: keep two rows
    if pad:
        qf = torch.cat([qf, qf], dim=2)
    scores = torch.matmul(qf, k.transpose(-1, -2)).float() * scaling
    mask = allowed[:, None, None, :, :].expand(b, 1, group, t, allowed.shape[-1]).reshape(b, 1, rows, -1)
    if pad:
        mask = torch.cat([mask, mask], dim=2)
    scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(v.dtype)
    out = torch.matmul(probs, v)
    if pad:
        out = out[:, :, :1]
    return out.reshape(b, heads, t, d)


def exact_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, None]:
    """The ``AttentionInterface`` entry point; returns ``[batch, tokens, heads, head_dim]``."""
    import torch

    scale = float(scaling if scaling is not None else query.shape[-1] ** -0.5)
    plan = _PLAN
    if isinstance(plan, DecodePlan):
        width = key.shape[2]
        allowed = torch.arange(width, device=key.device)[None, :] < plan.visible[:, None]
        out = _attend(query, key, value, allowed[:, None, :], scale)
    elif isinstance(plan, PackedPlan):
        out = torch.empty_like(query)
        for slot, start, count, past in plan.items:
            width = past + count
            cols = torch.arange(width, device=key.device)
            allowed = cols[None, :] <= (past + torch.arange(count, device=key.device))[:, None]
            out[:, :, start : start + count] = _attend(
                query[:, :, start : start + count],
                key[slot : slot + 1, :, :width],
                value[slot : slot + 1, :, :width],
                allowed[None],
                scale,
            )
    else:  # a plain causal forward (no plan): every row full length
        t, width = query.shape[2], key.shape[2]
        cols = torch.arange(width, device=key.device)
        allowed = cols[None, :] <= (width - t + torch.arange(t, device=key.device))[:, None]
        out = _attend(query, key, value, allowed[None].expand(query.shape[0], -1, -1), scale)
    return out.transpose(1, 2).contiguous(), None


_REGISTERED = False


def register() -> str:
    """Register :func:`exact_attention` with transformers (once); returns its name."""
    global _REGISTERED
    if not _REGISTERED:
        from transformers import AttentionInterface

        AttentionInterface.register(NAME, exact_attention)
        _REGISTERED = True
    return NAME


@contextmanager
def exact(config: Any) -> Iterator[None]:
    """Run the model whose config is ``config`` with :func:`exact_attention`."""
    saved = config._attn_implementation
    config._attn_implementation = register()
    try:
        yield
    finally:
        config._attn_implementation = saved
