"""Edited copies: eval prompts that line up word by word with a training prompt.

A copy with a few words changed, reordered, added or cut breaks many of its 13-grams and
shingles (each edited word breaks ``shingle_n`` of them), but not its word order. Per batch of
training documents, the documents sharing at least one shingle with an item's prompt are ranked by
how many they share, and the ``CANDIDATES`` first are compared with difflib's ratio over the
normalised words (2 x matched words / both lengths), when they hold at least ``MIN_SHARED`` of
its shingles: a copy with k words edited keeps all but about k x shingle_n of them, so it ranks
among them.
"""

from __future__ import annotations

import difflib

import numpy as np

from tunegate.harness.leakage import hashing
from tunegate.harness.leakage.config import LeakageConfig
from tunegate.harness.leakage.index import EvalIndex

CANDIDATES = 4
"""Training documents per eval item and batch compared word by word (those sharing most shingles)."""
MAX_ITEMS_PER_SHINGLE = 8
"""A shingle in more eval items than this is a stock phrase of the suite (a greeting, a sign-off):
it is not used to find candidates, which would pair every document with every item using it."""
MIN_SHARED = 0.25
"""Share of an item's distinctive shingles a document must hold to be compared: a copy at the similarity
threshold with its edits spread out keeps about half (4 words changed in 45: 0.5), and the
documents that only share stock phrases with it are never compared."""


class EditedCopies:
    """Finds edited copies batch by batch; what depends on the eval items alone (which shingles are
    distinctive, how many each item holds, the items' normalised words) is computed once."""

    def __init__(self, index: EvalIndex, cfg: LeakageConfig) -> None:
        self.index, self.cfg = index, cfg
        postings = index.shingle_index
        self._distinctive = postings.items_per_key() <= MAX_ITEMS_PER_SHINGLE
        held = postings.items[np.repeat(self._distinctive, postings.items_per_key())]
        self._per_item = np.bincount(held, minlength=len(index))
        self._item_words: dict[int, list[str]] = {}

    def find(self, w: hashing.Words, prompts: list[str]) -> dict[int, tuple[float, int]]:
        """``{item: (similarity, document)}`` for the items whose prompt reaches ``cfg.edit_threshold``
        with a document's prompt in this batch (the best document each). ``w`` holds the batch's
        (prompt, answer) texts."""
        index, cfg = self.index, self.cfg
        sh, owner = hashing.shingles(w, cfg.shingle_n)
        keep = owner % 2 == 0
        sh, docs = sh[keep], owner[keep] // 2
        postings = index.shingle_index
        found = postings.find(sh)
        hit = np.flatnonzero(found >= 0)
        hit = hit[self._distinctive[found[hit]]]
        if len(hit) == 0:
            return {}
        rep, items = postings.expand(found[hit])
        long_enough = index.n_words[items] >= cfg.edit_min_words
        pairs, shared = np.unique(docs[hit][rep][long_enough] * len(index) + items[long_enough], return_counts=True)
        pair_doc, pair_item = np.divmod(pairs, len(index))
        enough = shared >= MIN_SHARED * self._per_item[pair_item]
        shared, pair_doc, pair_item = shared[enough], pair_doc[enough], pair_item[enough]
        order = np.lexsort((-shared, pair_item))  # per item, the documents sharing most first
        pair_doc, pair_item = pair_doc[order], pair_item[order]
        first = np.arange(len(order)) - np.searchsorted(pair_item, pair_item) < CANDIDATES
        out: dict[int, tuple[float, int]] = {}
        doc_words: dict[int, list[str]] = {}
        for doc, item in zip(pair_doc[first].tolist(), pair_item[first].tolist(), strict=True):
            if doc not in doc_words:
                doc_words[doc] = hashing.normalize(prompts[doc]).split()
            matcher = difflib.SequenceMatcher(None, self._words(item), doc_words[doc], autojunk=False)
            floor = max(cfg.edit_threshold - 1e-9, out[item][0] if item in out else 0.0)
            if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
                continue
            score = matcher.ratio()
            if score >= floor and (item not in out or score > out[item][0]):
                out[item] = (score, doc)
        return out

    def _words(self, item: int) -> list[str]:
        if item not in self._item_words:
            self._item_words[item] = hashing.normalize(self.index.prompts[item]).split()
        return self._item_words[item]
