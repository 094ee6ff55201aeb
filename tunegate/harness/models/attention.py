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
plan: a decode step (every row one query, each row's own length as the mask), or a packed
prefill (all new tokens of several prompts in one sequence, each chunk attending only to its own
prompt's keys). Every item is attended in a canonical shape that depends on the item alone
(:func:`canonical_shape`: 32 or 1 queries, the key width rounded up to a multiple of 32 or 128),
and items of one shape are batched; on the shipped suites, whose prompts share long passages,
shapes chosen by the neighbours (bucket padding, the step's longest row, a radix split) used to
change texts. Query heads that share a key/value head are folded into the matmul's rows, so no
key is copied.

A prompt token is always attended at the same place: row ``column % 32`` of the 32-query tile of
its block, over the block's key width. A chunk may cover only part of a block (the rest of the
block shared with another prompt and computed there); its queries still sit at their own rows
of the tile (``tile``), the other rows are padding. A GEMM row's numbers depend on its own
inputs and its place in the shape, not on the other rows, so a token gets the same bits whether
its block is computed whole, in parts, or by another prompt that shares it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

NAME = "tunegate_exact"


BLOCK = 32
"""A prompt's prefill is cut at columns 0, BLOCK, 2 x BLOCK, ... whatever else is admitted with
it, and each chunk of two or more tokens attends as ``BLOCK`` queries over a key width rounded up
to a multiple of ``BLOCK``: the shapes a prompt's numbers go through depend on the prompt alone."""
ONE_QUERY_STEP = 128
"""A one-query item (a decode step, a one-token chunk) attends over its visible width rounded up
to a multiple of this."""
MIN_ROWS = 8
"""Every GEMM of the slot loop gets at least this many rows (padding rows in a spare slot): a
GEMM with very few rows takes other kernels (fp32 on an AVX2 CPU: M = 1, M = 2-3 and M >= 4 are
three rounding classes; bf16 with oneDNN on AVX512: M = 1 against M >= 2)."""


def canonical_shape(count: int, end: int, tile: int | None = None) -> tuple[int, int]:
    """``(queries, key width)`` an item of ``count`` new tokens ending at column ``end`` is
    attended with: a function of the item alone, never of the other items of the forward.

    ``tile`` is the row of its block's 32-query tile where the item's first token sits (its
    column's offset in the block). Without one, a one-token item takes the one-query path (a
    decode step, or a prompt whose last block is one token) and a longer one starts at row 0."""
    if tile is None and count == 1:
        return 1, -(-end // ONE_QUERY_STEP) * ONE_QUERY_STEP
    if (tile or 0) + count > BLOCK:
        raise ValueError(f"a chunk of {count} tokens from tile row {tile or 0} is longer than a block ({BLOCK})")
    return BLOCK, -(-end // BLOCK) * BLOCK


@dataclass
class DecodePlan:
    """One query per row; row ``r`` sees key columns ``< visible[r]`` (a [rows] tensor). Rows are
    attended in classes of one canonical width (:func:`canonical_shape`)."""

    visible: Any
    _classes: list[tuple[int, int, Any, int, Any]] | None = None

    def classes(self) -> list[tuple[int, int, Any, int, Any]]:
        """``(lo, hi, members, width, bias)`` per width class: the class is attended over the rows
        ``lo .. hi`` that span it (slices of the cache, no copy), and ``members`` (an index
        relative to ``lo``, ``None`` for every row of the span) says whose results are kept; a
        row's numbers do not depend on the other rows of the call. The bias is [hi - lo, 1, 1,
        1, width] float, 0 where a row sees the column, -inf where not. Built on the first layer."""
        if self._classes is None:
            import torch

            widths = [canonical_shape(1, int(v))[1] for v in self.visible.tolist()]
            out: list[tuple[int, int, Any, int, Any]] = []
            for w in sorted(set(widths)):
                rows = [r for r, x in enumerate(widths) if x == w]
                lo, hi = rows[0], rows[-1] + 1
                members = None if len(rows) == hi - lo else torch.tensor(rows, device=self.visible.device) - lo
                vis = self.visible[lo:hi].clamp(max=w)  # other classes' rows: any nonempty mask
                cols = torch.arange(w, device=self.visible.device)
                out.append((lo, hi, members, w, _bias(cols[None, :] < vis[:, None])[:, None, None, None, :]))
            self._classes = out
        return self._classes

    def width(self) -> int:
        """The widest class: the key columns a step must read."""
        return max(canonical_shape(1, int(v))[1] for v in self.visible.tolist())


Segment = tuple[int, int, int]
"""``(slot, lo, hi)``: key/value columns ``lo .. hi`` of ``slot``."""


@dataclass
class Bucket:
    """Chunks of a packed prefill attended in one batched call (see :meth:`PackedPlan.buckets`).

    ``queries`` [chunks, T]: positions in the packed sequence (padding points at 0); ``keys``
    [chunks, heads, W]: rows of the flat ``[slots * heads * capacity, head_dim]`` key buffer;
    ``bias`` [chunks, 1, 1, T, W]: 0 where a query sees a key, -inf where not (a padded query
    sees column 0 only; its output is never read); ``taken`` the flat ``chunks * T`` indices of
    real queries and ``dest`` their positions in the packed sequence, in the same order.
    """

    queries: Any
    keys: Any
    bias: Any
    taken: Any
    dest: Any


Item = tuple[int, int, Sequence[Segment], int | None]
"""``(start, count, segments, tile)`` of a packed-prefill chunk (see :class:`PackedPlan`)."""


@dataclass
class PackedPlan:
    """New tokens of several chunks in one sequence of the batch's single row.

    ``items`` holds ``(start, count, segments, tile)`` per chunk: its ``count`` tokens sit at
    ``start`` in the packed sequence, and its queries see the keys of ``segments``, in order,
    which cover columns ``0 .. end`` (``end`` the column after the chunk's last token); the last
    segment is the chunk's own (its new keys at columns ``end - count .. end`` of its slot).
    Earlier segments may lie in other slots: a prefix shared with other prompts, computed once,
    possibly in this same forward. ``tile`` is the row of the block's query tile where the
    chunk's first token sits, ``None`` for a one-query item (:func:`canonical_shape`).
    """

    items: Sequence[Item]
    _buckets: list[Bucket] | None = None

    def buckets(self, heads: int, capacity: int, device: Any) -> list[Bucket]:
        """The chunks grouped by canonical shape (:func:`canonical_shape`), each group attended in
        batched calls of at most ``BUCKET_SCORES`` scores per head. Built on the first layer,
        reused by the rest."""
        if self._buckets is None:
            shapes: dict[tuple[int, int], list[int]] = {}
            for c, (_, count, segments, tile) in enumerate(self.items):
                shapes.setdefault(canonical_shape(count, segments[-1][2], tile), []).append(c)
            self._buckets = []
            for (t, w), members in sorted(shapes.items()):
                per_call = max(1, BUCKET_SCORES // (t * w))
                for i in range(0, len(members), per_call):
                    part = [self.items[c] for c in members[i : i + per_call]]
                    self._buckets.append(self._bucket(part, t, w, heads, capacity, device))
        return self._buckets

    @staticmethod
    def _bucket(items: Sequence[Item], t_max: int, w_max: int, heads: int, capacity: int, device: Any) -> Bucket:
        import torch

        queries: list[list[int]] = []
        columns: list[list[int]] = []
        firsts: list[int] = []  # the tile row of each chunk's first token
        for start, count, segments, tile in items:
            before = tile or 0
            firsts.append(before)
            queries.append([0] * before + list(range(start, start + count)) + [0] * (t_max - before - count))
            cols = [slot * heads * capacity + c for slot, lo, hi in segments for c in range(lo, hi)]
            columns.append(cols + [0] * (w_max - len(cols)))
        first = torch.tensor(firsts, device=device)
        counts = torch.tensor([count for _, count, _, _ in items], device=device)
        # the column of tile row 0: the block's first column (the chunk's own on the one-query path)
        base = torch.tensor([segs[-1][2] for _, _, segs, _ in items], device=device) - counts - first
        t = torch.arange(t_max, device=device)
        cols_w = torch.arange(w_max, device=device)
        valid = (t[None, :] >= first[:, None]) & (t[None, :] < (first + counts)[:, None])
        allowed = (cols_w[None, None, :] <= (base[:, None] + t[None, :])[:, :, None]) & valid[:, :, None]
        allowed |= ~valid[:, :, None] & (cols_w == 0)[None, None, :]
        head_offsets = torch.arange(heads, device=device)[None, :, None] * capacity
        query_index = torch.tensor(queries, device=device)
        taken = valid.reshape(-1).nonzero().squeeze(1)
        return Bucket(
            queries=query_index,
            keys=torch.tensor(columns, device=device)[:, None, :] + head_offsets,
            bias=_bias(allowed)[:, None, None],
            taken=taken,
            dest=query_index.reshape(-1)[taken],
        )


def _bias(allowed: Any) -> Any:
    """0.0 where ``allowed``, -inf elsewhere (float32): added to the scores, it masks exactly as
    ``masked_fill(~allowed, -inf)`` does."""
    import torch

    return torch.zeros(allowed.shape, dtype=torch.float32, device=allowed.device).masked_fill_(
        ~allowed, float("-inf")
    )


BUCKET_SCORES = 96 * 1024
"""...and while chunks x queries x keys stays under this (per query head: ~3.5 MB of float32
scores for 9 heads). Bigger score tensors no longer fit the CPU's cache, and each float pass
over them costs several times more: a 44-chunk bucket of 40 x 130 took 10.8 ms in one call,
3.2 ms in two."""

_PLAN: DecodePlan | PackedPlan | None = None


@contextmanager
def planned(plan: DecodePlan | PackedPlan) -> Iterator[None]:
    global _PLAN
    saved, _PLAN = _PLAN, plan
    try:
        yield
    finally:
        _PLAN = saved


def _attend(q: Any, k: Any, v: Any, bias: Any, scaling: float) -> Any:
    """q [b, H, T, D], k/v [b, KV, W, D], bias float [b or 1, 1, 1, T or 1, W] -> [b, H, T, D].

    Scores in the model's dtype, scaled and masked in float32 (adding a bias of 0 or -inf: the
    same numbers as ``masked_fill``), softmax in float32, probabilities back to the model's dtype
    for ``p @ v``."""
    import torch

    b, heads, t, d = q.shape
    kv, width = k.shape[1], k.shape[2]
    # One batched matmul per (row, key head). A slot-cache slice [rows, kv, :width] folds into
    # that batch as a view (its first two dims are one stride apart), so no key is copied:
    # the same numbers as multiplying a contiguous copy, without reading the cache twice.
    kf, vf = k.flatten(0, 1), v.flatten(0, 1)
    group = heads // kv
    rows = group * t
    qf = q.reshape(b * kv, rows, d)  # heads kv*group+j share key head kv: fold them into rows
    pad = rows == 1  # a one-row matmul takes another kernel: keep two rows
    if pad:
        qf = torch.cat([qf, qf], dim=1)
    scores = torch.bmm(qf, kf.transpose(-1, -2))
    if pad:
        scores = scores[:, :1]
    # float copy, then scale and mask in place: a mixed-dtype add is 20x slower on CPU
    scores = scores.reshape(b, kv, group, t, width).float().mul_(scaling).add_(bias)
    probs = torch.softmax(scores, dim=-1).to(v.dtype).view(b * kv, rows, width)
    if pad:
        probs = torch.cat([probs, probs], dim=1)
    out = torch.bmm(probs, vf)
    if pad:
        out = out[:, :1]
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
        classes = plan.classes()
        if len(classes) == 1 and classes[0][3] == key.shape[2]:  # one class holds every row
            out = _attend(query, key, value, classes[0][4], scale)
        else:
            out = torch.empty_like(query)
            for lo, hi, members, width, bias in classes:
                res = _attend(query[lo:hi], key[lo:hi, :, :width], value[lo:hi, :, :width], bias, scale)
                if members is None:
                    out[lo:hi] = res
                else:
                    out.index_copy_(0, members + lo, res.index_select(0, members))
    elif isinstance(plan, PackedPlan):
        # Chunks of one canonical shape in one batched attention: queries and keys gathered into
        # [chunks, BLOCK or 1, ...], padded to the canonical width, masked. A chunk is attended
        # with the same shapes whatever else is in the forward.
        heads, capacity, dim = key.shape[1], key.shape[2], key.shape[3]
        tokens = query[0].transpose(0, 1)  # [T, H, D]
        packed = torch.empty_like(tokens)
        flat_k, flat_v = key.reshape(-1, dim), value.reshape(-1, dim)
        for bucket in plan.buckets(heads, capacity, key.device):
            q = tokens[bucket.queries].transpose(1, 2)  # [chunks, H, T, D]
            res = _attend(q, flat_k[bucket.keys], flat_v[bucket.keys], bucket.bias, scale)
            res = res.transpose(1, 2).flatten(0, 1)  # [chunks * T, H, D]
            packed.index_copy_(0, bucket.dest, res.index_select(0, bucket.taken))
        return packed[None], None
    else:  # a plain causal forward (no plan): every row full length
        t, width = query.shape[2], key.shape[2]
        cols = torch.arange(width, device=key.device)
        allowed = cols[None, :] <= (width - t + torch.arange(t, device=key.device))[:, None]
        out = _attend(query, key, value, _bias(allowed)[None, None, None], scale)
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
