"""The eval side of the leakage check, hashed once and held in memory (it scales with eval size).

Training data is streamed past this index; nothing about training text is kept except, for the
eval n-grams only, how many training documents hold each one and where the first one was. That
makes the boilerplate count exact without a count-min sketch: only n-grams that occur in some
eval item can ever decide a flag, so only those are counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunegate.harness.data import EvalItem, Suite
from tunegate.harness.errors import ConfigError
from tunegate.harness.leakage import hashing
from tunegate.harness.leakage.config import LeakageConfig

LSH_WEIGHTS = (0.05, 0.95)
"""(false positive, false negative) weights of datasketch's band optimiser: tuned for recall.
With 128 permutations and threshold 0.8 this picks 16 bands of 8 rows: a pair at Jaccard 0.8
becomes a candidate with probability 0.95 (0.99 at 0.85; the balanced default gives 0.40 and
0.69). Every candidate is re-checked exactly, so a false positive costs only time."""


@dataclass(frozen=True)
class Postings:
    """Sorted unique hashes and, for each, the eval items that hold it (compressed rows)."""

    keys: np.ndarray  # uint64, sorted unique
    starts: np.ndarray  # int64, items of keys[i] are items[starts[i]:starts[i + 1]]
    items: np.ndarray  # int64
    bitmap: np.ndarray  # bool, one slot per value of a hash's top bits: a cheap "maybe present"
    shift: np.uint64

    @classmethod
    def build(cls, hashes: np.ndarray, items: np.ndarray) -> Postings:
        order = np.lexsort((items, hashes))
        h, it = hashes[order], items[order]
        if len(h):
            keep = np.concatenate(([True], (h[1:] != h[:-1]) | (it[1:] != it[:-1])))
            h, it = h[keep], it[keep]
        keys, first = np.unique(h, return_index=True)
        # about 16 slots per key: most absent hashes are rejected by one gather, and only the
        # rest pay for a binary search (the hashes are mixed, so top bits are uniform)
        bits = int(min(26, max(10, math.ceil(math.log2(16 * max(len(keys), 1))))))
        shift = np.uint64(64 - bits)
        bitmap = np.zeros(1 << bits, dtype=bool)
        bitmap[keys >> shift] = True
        return cls(keys, np.append(first, len(h)).astype(np.int64), it.astype(np.int64), bitmap, shift)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """Index of each hash in ``keys``, or -1."""
        out = np.full(len(hashes), -1, dtype=np.int64)
        if len(self.keys) == 0 or len(hashes) == 0:
            return out
        maybe = np.flatnonzero(self.bitmap[hashes >> self.shift])
        cand = hashes[maybe]
        pos = np.minimum(np.searchsorted(self.keys, cand), len(self.keys) - 1)
        hit = self.keys[pos] == cand
        out[maybe[hit]] = pos[hit]
        return out

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        return self.find(hashes) >= 0

    def expand(self, key_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (position in ``key_idx``, item) pair: the items holding each found key."""
        lo = self.starts[key_idx]
        counts = self.starts[key_idx + 1] - lo
        rep = np.repeat(np.arange(len(key_idx)), counts)
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        return rep, self.items[np.repeat(lo, counts) + within]

    def items_per_key(self) -> np.ndarray:
        return np.diff(self.starts)

    def keys_per_item(self, n_items: int) -> np.ndarray:
        return np.bincount(self.items, minlength=n_items)


def user_text(item: EvalItem) -> str:
    """The prompt of an eval item as the check sees it: its user turns, joined."""
    return "\n".join(m.content for m in item.messages if m.role == "user")


@dataclass(frozen=True)
class EvalIndex:
    """Hashes of every eval item: exact keys, n-grams, shingles, MinHash LSH."""

    keys: tuple[tuple[str, str], ...]  # (suite name, item id)
    prompts: tuple[str, ...]
    n_words: np.ndarray
    prompt_hash: Postings
    pair_hash: Postings
    long_grams: Postings  # ngram_n-grams of items with >= ngram_n words
    long_positions: tuple[np.ndarray, ...]  # per item, the long_grams key at each word position
    short_grams: Postings  # short_ngram_n-grams of items with fewer than ngram_n words
    shingles: tuple[np.ndarray, ...]  # per item, sorted unique shingle hashes of the prompt
    shingle_index: Postings  # every item's shingles
    containment_prefix: Postings  # prefix-filter shingles of items with >= ngram_n words
    permutations: np.ndarray
    lsh: Any  # datasketch.MinHashLSH over item index -> prompt MinHash
    reference_hash: Postings  # whole-reference hashes of items with >= reference_min_words words
    reference_shingles: tuple[np.ndarray, ...]  # per item, sorted unique shingles of the reference
    reference_prefix: Postings  # prefix-filter shingles of the references (as for containment)
    prompt_words: tuple[np.ndarray, ...]  # per item, sorted unique word hashes of the prompt
    reference_words: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per item

    def __len__(self) -> int:
        return len(self.keys)


def build_index(suites: Sequence[Suite], config: LeakageConfig) -> EvalIndex:
    from datasketch import MinHash, MinHashLSH

    names = [s.name for s in suites]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"suites passed to the leakage check must have distinct names; repeated: {dupes}")
    items = [(s.name, it) for s in suites for it in s.items]
    if not items:
        raise ConfigError("the leakage check needs at least one eval item; the suites given are empty")
    keys = tuple((name, it.id) for name, it in items)
    prompts = [user_text(it) for _, it in items]
    refs = [hashing.json_text(it.reference_text()) for _, it in items]  # as training answers are read
    w = hashing.words([t for pair in zip(prompts, refs, strict=True) for t in pair])
    n = len(items)
    th = hashing.text_hashes(w)
    p_hash, r_hash = th[0::2], th[1::2]
    has_prompt = p_hash != 0
    has_pair = has_prompt & (r_hash != 0)
    idx = np.arange(n, dtype=np.int64)
    n_words = w.lengths()[0::2]

    grams, first = hashing.ngrams(w, config.ngram_n)
    owner = w.text_of[first]
    keep = owner % 2 == 0
    long_grams, long_positions = _positional(grams[keep], owner[keep] // 2, n)

    grams, first = hashing.ngrams(w, config.short_ngram_n)
    owner = w.text_of[first]
    keep = (owner % 2 == 0) & (n_words[owner // 2] < config.ngram_n)
    short_grams = Postings.build(grams[keep], owner[keep] // 2)

    sh, owner = hashing.shingles(w, config.shingle_n)
    ref_words = w.lengths()[1::2]
    has_ref = (r_hash != 0) & (ref_words >= config.reference_min_words) & config.check_references
    keep = (owner % 2 == 1) & has_ref[owner // 2]
    ref_shingles = Postings.build(sh[keep], owner[keep] // 2)
    ref_per_item = _split_by_item(ref_shingles, n)
    ref_prefix = _containment_prefix(ref_shingles, ref_per_item, np.where(has_ref, config.ngram_n, 0), config)
    keep = owner % 2 == 0
    sh, owner = sh[keep], owner[keep] // 2
    all_shingles = Postings.build(sh, owner)
    per_item = _split_by_item(all_shingles, n)
    prefix = _containment_prefix(all_shingles, per_item, n_words, config)

    perms = hashing.minhash_permutations(config.num_perm, config.minhash_seed)
    sig, present = hashing.minhash_signatures(sh, owner, n, perms)
    lsh = MinHashLSH(threshold=config.jaccard_threshold, num_perm=config.num_perm, weights=LSH_WEIGHTS)
    with lsh.insertion_session() as session:
        for row, item in zip(sig, present, strict=True):
            mh = MinHash(hashvalues=row, permutations=perms, scheme="affine32", seed=config.minhash_seed)
            session.insert(int(item), mh, check_duplication=False)
    return EvalIndex(
        keys=keys,
        prompts=tuple(prompts),
        n_words=n_words,
        prompt_hash=Postings.build(p_hash[has_prompt], idx[has_prompt]),
        pair_hash=Postings.build(hashing.combine(p_hash, r_hash)[has_pair], idx[has_pair]),
        long_grams=long_grams,
        long_positions=long_positions,
        short_grams=short_grams,
        shingles=tuple(per_item),
        shingle_index=all_shingles,
        containment_prefix=prefix,
        permutations=perms,
        lsh=lsh,
        reference_hash=Postings.build(r_hash[has_ref], idx[has_ref]),
        reference_shingles=tuple(ref_per_item),
        reference_prefix=ref_prefix,
        prompt_words=tuple(np.unique(w.hashes[w.offsets[2 * i] : w.offsets[2 * i + 1]]) for i in range(n)),
        reference_words=ref_words.astype(np.int64),
    )


def _positional(
    grams: np.ndarray, owners: np.ndarray, n_items: int
) -> tuple[Postings, tuple[np.ndarray, ...]]:
    """Postings of n-grams and, per item, the key of the n-gram at each word position (in order)."""
    postings = Postings.build(grams, owners)
    key_at = postings.find(grams)  # word order within each item is kept
    bounds = np.searchsorted(owners, np.arange(n_items + 1))
    return postings, tuple(key_at[bounds[i] : bounds[i + 1]] for i in range(n_items))


def _split_by_item(postings: Postings, n_items: int) -> list[np.ndarray]:
    """Each item's sorted unique hashes, from a key -> items postings."""
    key_of = np.repeat(np.arange(len(postings.keys)), postings.items_per_key())
    order = np.lexsort((key_of, postings.items))
    hashes = postings.keys[key_of[order]]
    bounds = np.searchsorted(postings.items[order], np.arange(n_items + 1))
    return [hashes[bounds[i] : bounds[i + 1]] for i in range(n_items)]


def _containment_prefix(
    shingles: Postings, per_item: list[np.ndarray], n_words: np.ndarray, config: LeakageConfig
) -> Postings:
    """Prefix filter for containment: a training document that holds at least ``t`` of an item's k
    shingles must hold one of any ``k - ceil(t * k) + 1`` of them, so only those (the item's
    rarest, by eval document frequency) need an index entry. Only items with at least
    ``ngram_n`` words are checked this way; shorter ones fall under the PaLM rule.
    """
    df = shingles.items_per_key()
    hashes: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for item, sh in enumerate(per_item):
        k = len(sh)
        if n_words[item] < config.ngram_n or k == 0:
            continue
        p = k - math.ceil(config.containment_threshold * k - 1e-9) + 1
        rarity = df[np.searchsorted(shingles.keys, sh)]
        chosen = sh[np.lexsort((sh, rarity))[:p]]
        hashes.append(chosen)
        owners.append(np.full(len(chosen), item, dtype=np.int64))
    if not hashes:
        return Postings.build(np.zeros(0, np.uint64), np.zeros(0, np.int64))
    return Postings.build(np.concatenate(hashes), np.concatenate(owners))
