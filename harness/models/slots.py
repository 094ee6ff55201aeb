"""Continuous batching for greedy decoding: a fixed number of slots, refilled as rows finish.

A batched ``generate`` keeps every row of a batch until its longest row is done, so short
answers ride along as padding, and the batch shrinks to nothing at its tail. Here the model
decodes up to ``slots`` rows at once; the moment a row stops (EOS, a stop string or
``max_new_tokens``) its slot is handed to the next waiting prompt, so every decode step works
on a full batch until the queue runs dry.

The key/value cache is one preallocated buffer per layer, ``[slots, kv_heads, capacity,
head_dim]``, with each row's tokens left-aligned in its slot: a decode step writes one column
per row at that row's own length (no concatenation, no copy of the cache), and attention reads
``buffer[:n, :, :width]`` under a mask that hides each row's unused tail. Finished rows are
compacted by moving the last active row into the hole.

Prompts that share a long prefix (a suite's system prompt, the chat template's preamble) are
grouped; the prefix is run through the model once per group and its keys/values are copied
into each row's slot, so prefill only computes what differs.

Supported for decoder models whose every layer is full attention through ``Cache.update``
(the Llama family and its look-alikes); :func:`supports_slots` says whether a model qualifies,
and callers fall back to batch-at-a-time decoding otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Decoder families whose attention layers all call ``cache.update(k, v, layer_idx)`` and accept
# a ready 4D mask. Others (sliding windows, hybrid/recurrent layers) use the batched loop.
SLOT_MODEL_TYPES = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "granite", "olmo2"}
)
MIN_SHARED_PREFIX = 16
# The slot buffers may take at most this share of the device's memory.
MEMORY_SHARE = 0.25


def _config(model: Any) -> Any:
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.config


def supports_slots(model: Any) -> bool:
    cfg = _config(model)
    if getattr(cfg, "model_type", None) not in SLOT_MODEL_TYPES:
        return False
    if getattr(cfg, "_attn_implementation", "sdpa") not in ("sdpa", "eager"):
        return False
    if getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True):
        return False
    layer_types = getattr(cfg, "layer_types", None) or []
    return all(t == "full_attention" for t in layer_types)


# -- shared prefixes ---------------------------------------------------------------------------


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def prefix_groups(
    encoded: Sequence[Sequence[int]], min_prefix: int = MIN_SHARED_PREFIX
) -> list[tuple[int, list[int]]]:
    """Group prompts that share at least ``min_prefix`` leading tokens.

    Returns ``(prefix_length, members)`` per group; a prefix always leaves each member at least
    one token of its own (the prefill needs a last position to predict from). Prompts with no
    partner form groups of one with prefix length 0.
    """
    order = sorted(range(len(encoded)), key=lambda i: list(encoded[i]))
    groups: list[tuple[int, list[int]]] = []
    members: list[int] = []
    shared = 0
    for i in order:
        if members:
            lcp = common_prefix(encoded[members[-1]], encoded[i])
            if lcp >= min_prefix and min(shared, lcp) >= min_prefix:
                members.append(i)
                shared = min(shared, lcp)
                continue
            groups.append(_close_group(encoded, members, shared))
        members, shared = [i], len(encoded[i])
    if members:
        groups.append(_close_group(encoded, members, shared))
    return groups


def _close_group(encoded: Sequence[Sequence[int]], members: list[int], shared: int) -> tuple[int, list[int]]:
    if len(members) < 2:
        return 0, members
    length = min(shared, min(len(encoded[i]) for i in members) - 1)
    return (length if length >= MIN_SHARED_PREFIX else 0), members


# -- the slot cache ----------------------------------------------------------------------------


class SlotCache:
    """Per-layer key/value buffers with rows left-aligned in slots (see the module docstring).

    The model calls :meth:`update` once per layer per forward; before each decode step the loop
    sets how many slots are active, where each row writes its new column and the width
    attention reads.
    """

    def __init__(self, n_layers: int, slots: int, capacity: int) -> None:
        self.n_layers, self.slots, self.capacity = n_layers, slots, capacity
        self.keys: list[Any] = []
        self.values: list[Any] = []
        self.active = 0
        self.width = 0
        self.flat_index: Any = None

    def allocate(self, like: Any) -> None:
        import torch

        _, kv_heads, _, head_dim = like.shape
        shape = (self.slots, kv_heads, self.capacity, head_dim)
        for _ in range(self.n_layers):
            self.keys.append(torch.zeros(shape, dtype=like.dtype, device=like.device))
            self.values.append(torch.zeros(shape, dtype=like.dtype, device=like.device))

    def step(self, active: int, write_at: Any, width: int) -> None:
        """Set up a decode step: ``active`` rows, row ``r`` writing its new column at ``write_at[r]``."""
        import torch

        self.active, self.width = active, width
        heads = self.keys[0].shape[1]
        rows = torch.arange(active, device=write_at.device)[:, None] * heads
        heads_at = torch.arange(heads, device=write_at.device)[None, :]
        # Row-major index of (row, head, column) in a [slots * heads * capacity, head_dim] view.
        self.flat_index = ((rows + heads_at) * self.capacity + write_at[:, None]).reshape(-1)

    def update(
        self, key_states: Any, value_states: Any, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[Any, Any]:
        k, v = self.keys[layer_idx], self.values[layer_idx]
        dim = k.shape[-1]
        k.view(-1, dim).index_copy_(0, self.flat_index, key_states.reshape(-1, dim))
        v.view(-1, dim).index_copy_(0, self.flat_index, value_states.reshape(-1, dim))
        return k[: self.active, :, : self.width], v[: self.active, :, : self.width]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.width

    def fill(
        self, slot: int, source: Sequence[tuple[Any, Any]], row: int, spans: Sequence[tuple[int, int]]
    ) -> int:
        """Copy ``row`` of a prefill cache into ``slot``; ``spans`` are its real columns, in order."""
        if not self.keys:
            self.allocate(source[0][0])
        for layer, (sk, sv) in enumerate(source):
            at = 0
            for start, stop in spans:
                n = stop - start
                self.keys[layer][slot, :, at : at + n] = sk[row, :, start:stop]
                self.values[layer][slot, :, at : at + n] = sv[row, :, start:stop]
                at += n
        return sum(stop - start for start, stop in spans)

    def move(self, src: int, dst: int, length: int) -> None:
        for k, v in zip(self.keys, self.values, strict=True):
            k[dst, :, :length] = k[src, :, :length]
            v[dst, :, :length] = v[src, :, :length]


def slot_budget(model: Any, slots: int, capacity: int, device: str) -> int:
    """How many slots fit in ``MEMORY_SHARE`` of the device's memory (at least 1, at most ``slots``)."""
    cfg = _config(model)
    heads = getattr(cfg, "num_attention_heads", 1)
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    elem = next(model.parameters()).element_size()
    elem = 2 if elem < 2 else elem  # quantized weights: the cache is in the compute dtype
    per_slot = cfg.num_hidden_layers * 2 * kv_heads * capacity * head_dim * elem
    if device.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info()
        budget = free * MEMORY_SHARE
    else:
        budget = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_SHARE
    return max(1, min(slots, int(budget // per_slot)))


# -- the loop ----------------------------------------------------------------------------------


@dataclass
class _Row:
    index: int  # position in the caller's prompt list
    length: int  # tokens in the slot's cache
    next_token: int
    generated: list[int] = field(default_factory=list)


def _mask(allowed: Any, model_dtype: Any, eager: bool) -> Any:
    import torch

    if not eager:
        return allowed
    zero = torch.zeros((), dtype=model_dtype, device=allowed.device)
    low = torch.full((), torch.finfo(model_dtype).min, dtype=model_dtype, device=allowed.device)
    return torch.where(allowed, zero, low)


def slot_generate(
    model: Any,
    encoded: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    is_done: Callable[[list[int]], bool],
    slots: int,
    pad_id: int,
    device: str,
    on_finish: Callable[[int], None] = lambda _n: None,
) -> list[list[int]]:
    """Greedy new tokens for each prompt (token ids), in the order given.

    ``is_done(tokens)`` says whether a row has stopped after its latest token (EOS or stop string);
    ``max_new_tokens`` stops it regardless.
    """
    import torch

    from harness.models.decode import cache_kwarg

    if max_new_tokens <= 0 or not encoded:
        return [[] for _ in encoded]
    cfg = _config(model)
    eager = getattr(cfg, "_attn_implementation", "sdpa") == "eager"
    dtype = next(p for p in model.parameters() if p.is_floating_point()).dtype
    kwarg = cache_kwarg(model)
    capacity = max(len(e) for e in encoded) + max_new_tokens
    slots = slot_budget(model, min(slots, len(encoded)), capacity, device)
    cache = SlotCache(cfg.num_hidden_layers, slots, capacity)
    results: list[list[int]] = [[] for _ in encoded]

    # Waiting prompts: group by shared prefix, longest first within a group.
    queue: list[tuple[int, int]] = []  # (prompt index, group)
    prefixes: list[int] = []
    for g, (plen, members) in enumerate(prefix_groups(encoded)):
        prefixes.append(plen)
        queue += [(i, g) for i in sorted(members, key=lambda i: -len(encoded[i]))]
    queue.reverse()  # pop() from the end
    prefix_kv: dict[int, list[tuple[Any, Any]]] = {}
    active: list[_Row] = []
    refill_at = max(1, slots // 8)

    def admit() -> None:
        take: list[int] = []
        group = queue[-1][1]
        while queue and queue[-1][1] == group and len(active) + len(take) < slots:
            take.append(queue.pop()[0])
        plen = prefixes[group]
        if plen and group not in prefix_kv:
            prefix_kv[group] = _run_prefix(model, kwarg, list(encoded[take[0]][:plen]), device)
        for row in _prefill(
            model,
            kwarg,
            cache,
            encoded,
            take,
            plen,
            prefix_kv.get(group),
            len(active),
            pad_id,
            device,
            eager,
            dtype,
        ):
            active.append(row)

    with torch.inference_mode():
        while queue or active:
            if queue and (slots - len(active) >= refill_at or not active):
                admit()
            # Record each row's pending token; retire finished rows.
            finished: list[int] = []
            for s, row in enumerate(active):
                row.generated.append(row.next_token)
                if len(row.generated) >= max_new_tokens or is_done(row.generated):
                    finished.append(s)
            if finished:
                _retire(cache, active, finished, results, on_finish)
                if not active:
                    continue
            n = len(active)
            lengths = torch.tensor([r.length for r in active], device=device)
            width = int(lengths.max()) + 1
            cache.step(n, lengths, width)
            allowed = torch.arange(width, device=device)[None, :] <= lengths[:, None]
            tokens = torch.tensor([[r.next_token] for r in active], device=device)
            out = model(
                input_ids=tokens,
                attention_mask=_mask(allowed[:, None, None, :], dtype, eager),
                position_ids=lengths[:, None],
                use_cache=True,
                **{kwarg: cache},
            )
            nxt = out.logits[:, -1, :].argmax(-1).tolist()
            for row, t in zip(active, nxt, strict=True):
                row.length += 1
                row.next_token = t
    return results


def _retire(
    cache: SlotCache,
    active: list[_Row],
    finished: list[int],
    results: list[list[int]],
    on_finish: Callable[[int], None],
) -> None:
    gone = set(finished)
    for s in finished:
        results[active[s].index] = active[s].generated
    keep = len(active) - len(gone)
    holes = [s for s in sorted(gone) if s < keep]
    movers = [s for s in range(keep, len(active)) if s not in gone]
    for hole, src in zip(holes, movers, strict=True):
        cache.move(src, hole, active[src].length)
        active[hole] = active[src]
    del active[keep:]
    on_finish(len(gone))


def _run_prefix(model: Any, kwarg: str, ids: list[int], device: str) -> list[tuple[Any, Any]]:
    import torch
    from transformers import DynamicCache

    tmp: Any = DynamicCache()
    x = torch.tensor([ids], device=device)
    model(input_ids=x, use_cache=True, logits_to_keep=1, **{kwarg: tmp})
    return [(layer.keys, layer.values) for layer in tmp.layers]


def _prefill(
    model: Any,
    kwarg: str,
    cache: SlotCache,
    encoded: Sequence[Sequence[int]],
    take: list[int],
    plen: int,
    prefix: list[tuple[Any, Any]] | None,
    first_slot: int,
    pad_id: int,
    device: str,
    eager: bool,
    dtype: Any,
) -> list[_Row]:
    """Run the new rows' own tokens (after the shared prefix) and copy their cache into slots."""
    import torch
    from transformers import DynamicCache

    tails = [list(encoded[i][plen:]) for i in take]
    k, width = len(tails), max(len(t) for t in tails)
    ids = torch.full((k, width), pad_id, dtype=torch.long)
    real = torch.zeros((k, width), dtype=torch.bool)
    for r, t in enumerate(tails):
        ids[r, width - len(t) :] = torch.tensor(t, dtype=torch.long)
        real[r, width - len(t) :] = True
    offset = real.long().cumsum(-1) - 1
    positions = plen + offset.clamp(min=0)
    causal = torch.tril(torch.ones((width, width), dtype=torch.bool))
    allowed = causal[None] & real[:, None, :]
    allowed |= torch.eye(width, dtype=torch.bool)[None]  # padding rows see themselves: no empty softmax
    tmp: Any = DynamicCache()
    if prefix is not None:
        allowed = torch.cat([torch.ones((k, width, plen), dtype=torch.bool), allowed], dim=-1)
        for layer, (pk, pv) in enumerate(prefix):
            tmp.update(pk.expand(k, -1, -1, -1), pv.expand(k, -1, -1, -1), layer)
    out = model(
        input_ids=ids.to(device),
        attention_mask=_mask(allowed[:, None].to(device), dtype, eager),
        position_ids=positions.to(device),
        use_cache=True,
        logits_to_keep=1,
        **{kwarg: tmp},
    )
    first = out.logits[:, -1, :].argmax(-1).tolist()
    source = [(layer.keys, layer.values) for layer in tmp.layers]
    rows: list[_Row] = []
    for r, (i, t) in enumerate(zip(take, tails, strict=True)):
        spans = [(0, plen)] if plen else []
        spans.append((plen + width - len(t), plen + width))
        length = cache.fill(first_slot + r, source, r, spans)
        rows.append(_Row(index=i, length=length, next_token=first[r]))
    return rows
