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

Each prompt is prefilled in fixed blocks (:data:`~tunegate.harness.models.attention.BLOCK`
tokens, from column 0); a block that several admitted prompts share is computed once and its
keys/values are copied into each row's slot. Every chunk, decode step and GEMM runs in a shape
that depends on its own prompt alone (:mod:`tunegate.harness.models.attention`), so a text never
depends on the other prompts of the call. New prompts are admitted once enough slots are free,
after the rows that just stopped have left; the admission's packed prefill also carries the
running rows' next decode step (one-token items in their own slots), so the weights are read
once for both.

Supported for decoder models whose every layer is full attention through ``Cache.update``
(the Llama family and its look-alikes); :func:`supports_slots` says whether a model qualifies,
and callers fall back to batch-at-a-time decoding otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunegate.harness.models.attention import BLOCK, MIN_ROWS, Segment, canonical_shape
from tunegate.harness.models.runtime import cache_kwarg, decoder, unwrap

# Decoder families whose attention layers all call ``cache.update(k, v, layer_idx)`` and accept
# a ready 4D mask. Others (sliding windows, hybrid/recurrent layers) use the batched loop.
SLOT_MODEL_TYPES = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "granite", "olmo2"}
)
# The slot buffers may take at most this share of the device's memory.
MEMORY_SHARE = 0.25


def _config(model: Any) -> Any:
    return unwrap(model).config


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


Chunk = tuple[list[int], tuple[Segment, ...], int | None, int | None]
"""``(tokens, segments, leaf_slot, tile)``: tokens to prefill, the key segments they see (their
own last), for a prompt's final chunk its slot (``None`` otherwise), and the row of the block's
query tile where the first token sits (``None``: the one-query path; see
:func:`~tunegate.harness.models.attention.canonical_shape`)."""


_Trie = dict[int, tuple[int, "_Trie"]]
"""token -> (the slot that computes it after the tokens above, the next level)."""

Piece = tuple[Sequence[int], Sequence[Segment], int | None]
"""``(tokens, segments, tile)``: what :meth:`_Runner.prefill` packs for one chunk."""


def block_chunks(
    rows: Sequence[tuple[int, Sequence[int]]],
    block: int = BLOCK,
    hosts: Sequence[tuple[int, Sequence[int]]] = (),
) -> list[Chunk]:
    """Split the prefill of ``(slot, prompt)`` rows into chunks that never cross the fixed
    columns ``0, block, 2 x block, ...``, each token computed once.

    A token that an earlier row (or one of ``hosts``: running rows whose prompts are still in
    their slots) has at the same column after the same tokens is not computed again: the row
    sees its keys in that slot (a segment of another slot) and gets them copied in after the
    forward. A row's last token is always its own (its logits give the first new token), and so
    are the tokens after the first it does not share. Its own tokens are cut at the block
    columns; a chunk that starts inside a block keeps its tokens at their rows of the block's
    query tile (``tile``), so every token is computed in the same shapes at the same place
    whether it is shared, computed in parts or alone (:mod:`tunegate.harness.models.attention`).
    """
    trie: _Trie = {}

    def walk(toks: Sequence[int]) -> tuple[list[Segment], _Trie, int]:
        """The segments of ``toks`` already computed somewhere, the trie level after them, and
        how many tokens they cover (never the last)."""
        node, p = trie, 0
        shared: list[Segment] = []
        while p < len(toks) - 1 and toks[p] in node:
            host, node = node[toks[p]]
            if shared and shared[-1][0] == host and shared[-1][2] == p:
                shared[-1] = (host, shared[-1][1], p + 1)
            else:
                shared.append((host, p, p + 1))
            p += 1
        return shared, node, p

    def plant(slot: int, toks: Sequence[int], node: _Trie, p: int) -> None:
        for q in range(p, len(toks) - 1):
            nxt: _Trie = {}
            node[toks[q]] = (slot, nxt)
            node = nxt

    for slot, toks in hosts:
        _, node, p = walk(toks)
        plant(slot, toks, node, p)
    out: list[Chunk] = []
    for slot, toks in rows:
        shared, node, own = walk(toks)
        plant(slot, toks, node, own)
        n = len(toks)
        for b in range(own // block * block, n, block):
            lo, hi = max(b, own), min(b + block, n)
            tile = None if hi - b == 1 else lo - b  # a one-token last block: the one-query path
            segments = (*shared, (slot, own, hi)) if own else ((slot, 0, hi),)
            out.append((list(toks[lo:hi]), segments, slot if hi == n else None, tile))
    return out


# -- the slot cache ----------------------------------------------------------------------------


class SlotCache:
    """Per-layer key/value buffers with rows left-aligned in slots (see the module docstring).

    The model calls :meth:`update` once per layer per forward; before each forward the loop says
    where the new keys go (:meth:`step` for a decode step, :meth:`pack` for a packed prefill).
    One slot more than asked is kept as a spare for padding rows (a forward never has one row).
    """

    def __init__(self, n_layers: int, slots: int, capacity: int, kv_heads: int) -> None:
        self.n_layers, self.slots, self.capacity = n_layers, slots, capacity
        self.spare = slots  # index of the spare slot
        self.keys: list[Any] = []
        self.values: list[Any] = []
        self.rows: Any = None  # slots a decode step reads: an int n (slots 0..n-1) or an index tensor
        self.width = 0
        self.flat_index: Any = None
        self.heads = kv_heads

    def allocate(self, like: Any) -> None:
        import torch

        _, kv_heads, _, head_dim = like.shape
        shape = (self.slots + 1, kv_heads, self.capacity, head_dim)
        for _ in range(self.n_layers):
            self.keys.append(torch.zeros(shape, dtype=like.dtype, device=like.device))
            self.values.append(torch.zeros(shape, dtype=like.dtype, device=like.device))

    def _index(self, slot_of: Any, column_of: Any, head_major: bool) -> Any:
        """Row-major index of (slot, head, column) in a [(slots+1) * heads * capacity, head_dim] view,
        in the order of ``key_states.reshape(-1, head_dim)``: [1, heads, tokens] for a packed prefill
        (head-major), [rows, heads, 1] for a decode step (row-major)."""
        import torch

        heads = torch.arange(self.heads, device=slot_of.device)
        if head_major:
            index = (slot_of[None, :] * self.heads + heads[:, None]) * self.capacity + column_of[None, :]
        else:
            index = (slot_of[:, None] * self.heads + heads[None, :]) * self.capacity + column_of[:, None]
        return index.reshape(-1)

    def step(self, slot_ids: Sequence[int], write_at: Any, width: int) -> None:
        """A decode step: row ``r`` lives in ``slot_ids[r]`` and writes its new column at ``write_at[r]``."""
        import torch

        n = len(slot_ids)
        contiguous = list(slot_ids) == list(range(n))
        slots = torch.tensor(list(slot_ids), device=write_at.device)
        self.rows = n if contiguous else slots
        self.width = width
        self.flat_index = self._index(slots, write_at, head_major=False)

    def pack(self, slot_of: Any, column_of: Any) -> None:
        """A packed prefill: token ``j`` of the sequence goes to ``slot_of[j]`` at ``column_of[j]``."""
        self.rows = None
        self.flat_index = self._index(slot_of, column_of, head_major=True)

    def update(
        self, key_states: Any, value_states: Any, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[Any, Any]:
        if not self.keys:
            self.allocate(key_states)
        k, v = self.keys[layer_idx], self.values[layer_idx]
        dim = k.shape[-1]
        k.view(-1, dim).index_copy_(0, self.flat_index, key_states.reshape(-1, dim))
        v.view(-1, dim).index_copy_(0, self.flat_index, value_states.reshape(-1, dim))
        if self.rows is None:
            return k, v
        if isinstance(self.rows, int):
            return k[: self.rows, :, : self.width], v[: self.rows, :, : self.width]
        return k[self.rows, :, : self.width], v[self.rows, :, : self.width]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.width

    def copy_columns(self, src: int, dst: int, lo: int, hi: int) -> None:
        for k, v in zip(self.keys, self.values, strict=True):
            k[dst, :, lo:hi] = k[src, :, lo:hi]
            v[dst, :, lo:hi] = v[src, :, lo:hi]

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
    pending: bool = True  # next_token not yet appended to generated


class _Runner:
    """The decoder body and the output head of ``model``, run under the batch-invariant attention."""

    def __init__(self, model: Any, cache: SlotCache, pad_id: int, device: str) -> None:
        self.body = decoder(model)
        self.head = unwrap(model).get_output_embeddings()
        self.kwarg = cache_kwarg(model)
        self.cache, self.pad_id, self.device = cache, pad_id, device

    def _logits_argmax(self, hidden: Any) -> list[int]:
        import torch

        n = hidden.shape[0]
        if n < MIN_ROWS:  # a GEMM with few rows rounds differently: never run one
            hidden = torch.cat([hidden, hidden[:1].expand(MIN_ROWS - n, -1)])
        # argmax over bf16 logits is 4x slower than a float copy's (same values, same first max)
        return list(self.head(hidden)[:n].float().argmax(-1).tolist())

    def prefill(self, chunks: Sequence[Piece], wanted: Sequence[int] = ()) -> list[int]:
        """Run ``(tokens, segments, tile)`` chunks packed into one sequence (see :class:`PackedPlan`);
        each chunk's keys go to the last columns of its last segment. Returns the greedy next
        token after the chunks listed in ``wanted``."""
        import torch

        from tunegate.harness.models.attention import Item, PackedPlan, planned

        ids: list[int] = []
        slot_of: list[int] = []
        column_of: list[int] = []
        plan: list[Item] = []
        for tokens, segments, tile in chunks:
            slot, hi = segments[-1][0], segments[-1][2]
            plan.append((len(ids), len(tokens), segments, tile))
            ids += tokens
            slot_of += [slot] * len(tokens)
            column_of += range(hi - len(tokens), hi)
        pad = MIN_ROWS - len(ids)
        if pad > 0:  # pad to MIN_ROWS tokens with a chunk in the spare slot
            plan.append((len(ids), pad, ((self.cache.spare, 0, pad),), 0))
            ids += [self.pad_id] * pad
            slot_of += [self.cache.spare] * pad
            column_of += range(pad)
        dev = self.device
        self.cache.pack(torch.tensor(slot_of, device=dev), torch.tensor(column_of, device=dev))
        with planned(PackedPlan(plan)):
            hidden = self.body(
                input_ids=torch.tensor([ids], device=dev),
                position_ids=torch.tensor([column_of], device=dev),
                use_cache=True,
                **{self.kwarg: self.cache},
            ).last_hidden_state
        if not wanted:
            return []
        last = torch.tensor([plan[c][0] + plan[c][1] - 1 for c in wanted], device=dev)
        return self._logits_argmax(hidden[0, last])

    def decode(self, active: Sequence[_Row]) -> list[int]:
        import torch

        from tunegate.harness.models.attention import DecodePlan, planned

        n = len(active)
        slot_ids = list(range(n))
        lengths_list = [r.length for r in active]
        tokens_list = [r.next_token for r in active]
        if n < MIN_ROWS:  # pad to MIN_ROWS rows in the spare slot (they write its column 0)
            slot_ids += [self.cache.spare] * (MIN_ROWS - n)
            lengths_list += [0] * (MIN_ROWS - n)
            tokens_list += [self.pad_id] * (MIN_ROWS - n)
        lengths = torch.tensor(lengths_list, device=self.device)
        plan = DecodePlan(visible=lengths + 1)
        self.cache.step(slot_ids, lengths, plan.width())
        with planned(plan):
            hidden = self.body(
                input_ids=torch.tensor(tokens_list, device=self.device)[:, None],
                position_ids=lengths[:, None],
                use_cache=True,
                **{self.kwarg: self.cache},
            ).last_hidden_state
        return self._logits_argmax(hidden[:, -1])[:n]


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
    ``max_new_tokens`` stops it regardless. The tokens of a prompt depend only on the prompt, the
    model and ``max_new_tokens``: not on the other prompts, their order or ``slots``
    (:mod:`tunegate.harness.models.attention`).
    """
    import torch

    from tunegate.harness.models.attention import exact

    if max_new_tokens <= 0 or not encoded:
        return [[] for _ in encoded]
    cfg = _config(model)
    # Room for the widest canonical width a row can reach (attention reads whole width classes).
    longest = max(len(e) for e in encoded) + max_new_tokens
    capacity = max(canonical_shape(1, longest)[1], canonical_shape(2, longest)[1])
    slots = slot_budget(model, min(slots, len(encoded)), capacity, device)
    kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    cache = SlotCache(cfg.num_hidden_layers, slots, capacity, kv_heads)
    runner = _Runner(model, cache, pad_id, device)
    results: list[list[int]] = [[] for _ in encoded]

    # Waiting prompts in token order: neighbours share the longest prefixes, so the blocks they
    # share mostly arrive in one admission and are computed once.
    queue = sorted(range(len(encoded)), key=lambda i: list(encoded[i]), reverse=True)  # pop() from the end
    active: list[_Row] = []
    refill_at = max(1, slots // 8)

    def admit() -> None:
        take: list[int] = []
        while queue and len(active) + len(take) < slots:
            take.append(queue.pop())
        first = len(active)
        # The running rows' prompts are still in their slots: a new prompt that shares a prefix
        # with one of them reads it there instead of computing it again.
        chunks = block_chunks(
            [(first + r, encoded[i]) for r, i in enumerate(take)],
            hosts=[(s, encoded[row.index]) for s, row in enumerate(active)],
        )
        leaves = [c for c, (_, _, leaf, _) in enumerate(chunks) if leaf is not None]
        # The running rows take their decode step in the same forward, as one-token chunks in
        # their own slots: the weights are read once for both (a decode step alone costs about
        # what reading them costs), and a row's numbers are the same either way.
        steps: list[Piece] = [([row.next_token], ((s, 0, row.length + 1),), None) for s, row in enumerate(active)]
        wanted = list(range(len(steps))) + [len(steps) + c for c in leaves]
        nxt = runner.prefill(steps + [(tokens, segments, tile) for tokens, segments, _, tile in chunks], wanted)
        for row, t in zip(active[: len(steps)], nxt[: len(steps)], strict=True):
            row.length += 1
            row.next_token = t
            row.pending = True
        by_slot: dict[int, int] = {}
        for c, t in zip(leaves, nxt[len(steps) :], strict=True):
            tokens, segments, leaf, _ = chunks[c]
            assert leaf is not None
            for src, lo, hi in segments[:-1]:
                if src != leaf:  # shared tokens computed in another row's slot
                    cache.copy_columns(src, leaf, lo, hi)
            by_slot[leaf] = t
        for r, i in enumerate(take):
            active.append(_Row(index=i, length=len(encoded[i]), next_token=by_slot[first + r]))

    with torch.inference_mode(), exact(cfg):
        while queue or active:
            # Record each row's pending token (a new row's: from its prefill); retire finished rows.
            finished: list[int] = []
            for s, row in enumerate(active):
                if row.pending:
                    row.pending = False
                    row.generated.append(row.next_token)
                    if len(row.generated) >= max_new_tokens or is_done(row.generated):
                        finished.append(s)
            if finished:
                _retire(cache, active, finished, results, on_finish)
            # Refill after retiring, so the rows that just stopped free their slots for this
            # step already (rows admitted together tend to stop together).
            if queue and (slots - len(active) >= refill_at or not active):
                admit()  # the running rows decode in the same forward
                continue  # record the new rows' first tokens before they decode
            if active:
                for row, t in zip(active, runner.decode(active), strict=True):
                    row.length += 1
                    row.next_token = t
                    row.pending = True
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
