"""``check_leakage``: stream training files past the eval index and flag every leaked eval item.

One pass over the training data, in batches of ``config.batch_lines`` lines. Per batch, every
step is vectorised over all its words (see ``hashing``); Python-level work happens only for
candidate matches. Memory is the eval index plus one batch, whatever the training size.

Checks, per training document (user turns = prompt, assistant turns = answer):

- exact: the normalised prompt, and prompt + answer, hashed whole, looked up among the eval
  prompts and (prompt, reference) pairs;
- n-grams: the document's ``ngram_n``-grams (and ``short_ngram_n``-grams) looked up among the eval
  items' n-grams; per eval n-gram, the number of training documents holding it is counted, so
  after the pass boilerplate (``>= boilerplate_min_docs`` documents) is known exactly;
- containment: documents holding one of an item's prefix-filter shingles are checked exactly;
- near duplicates: a document's prompt is a MinHash LSH query only when at least
  ``jaccard_threshold`` of its shingles occur in some eval item: below that no eval item can reach
  the threshold on the exact re-check, so the skipped queries could not change any result;
- edited copies: documents sharing at least one word shingle with an item's prompt (the few most
  sharing, per item and batch) are compared word by word (difflib's ratio over normalised words),
  which a copy with a few words changed, reordered, added or cut passes where its 13-grams and
  shingles no longer match;
- paraphrase (optional): MiniLM embeddings of the prompts, cosine against every eval prompt;
- references: the document's answer, hashed whole, looked up among the eval references (long
  enough ones), and its shingles among the references' prefix-filter shingles; a candidate whose
  prompt shares enough words with the item's is re-checked exactly (reference containment). This
  catches an eval item whose prompt was edited but whose gold answer was copied into training; a
  long, distinctive reference (``reference_alone_min_words``) equal to a training answer counts
  whatever the prompts share (a gold answer copied under a rewritten prompt).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunegate.harness.data import Suite
from tunegate.harness.errors import DataError
from tunegate.harness.leakage import hashing
from tunegate.harness.leakage.config import LeakageConfig
from tunegate.harness.leakage.edits import EditedCopies
from tunegate.harness.leakage.index import EvalIndex, build_index
from tunegate.harness.leakage.paraphrase import Embedder, load_minilm
from tunegate.harness.leakage.report import FLAGS, ItemFlag, LeakageReport, TrainingFile, strongest
from tunegate.harness.leakage.sources import FileStats, iter_batches

_MAX_PROBLEMS_SHOWN = 50
_Locate = Callable[[int], str]


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass
class _Hit:
    """Evidence for one check on one item: the best score so far and where it was found."""

    score: float
    source: str
    excerpt: str
    detail: str = ""


class _Scanner:
    def __init__(self, index: EvalIndex, config: LeakageConfig, embedder: Embedder | None) -> None:
        self.index = index
        self.cfg = config
        self.n_long = np.zeros(len(index.long_grams), dtype=np.int64)
        self.long_where: dict[int, tuple[str, str]] = {}
        self.short_seen = np.zeros(len(index.short_grams), dtype=bool)
        self.short_where: dict[int, tuple[str, str]] = {}
        self.exact: dict[int, _Hit] = {}
        self.near: dict[int, _Hit] = {}  # Jaccard of prompts: the whole item is nearly there
        self.contained: dict[int, _Hit] = {}  # containment: the item sits inside a longer document
        self.edited: dict[int, _Hit] = {}  # word-level similarity: a copy with a few words edited
        self._edits = EditedCopies(index, config)
        self.para: dict[int, _Hit] = {}
        self.ref_exact: dict[int, _Hit] = {}  # score: prompt word Jaccard
        self.ref_alone: dict[int, _Hit] = {}  # the same, prompts unlike: counts if distinctive
        self.ref_copies: dict[int, int] = {}  # item -> training answers equal to its reference
        self.ref_near: dict[int, _Hit] = {}  # score: reference containment; detail: prompt Jaccard
        self.embedder = embedder
        self.eval_embeddings = embedder.encode(list(index.prompts)) if embedder is not None else None

    # -- one batch ------------------------------------------------------------------------
    def feed(self, path: str, batch: list[tuple[int, str, str]]) -> None:
        lines = [ln for ln, _, _ in batch]
        prompts = [p for _, p, _ in batch]
        answers = [a for _, _, a in batch]
        compared = [hashing.json_text(a) for a in answers]  # JSON answers as the text they hold
        w = hashing.words([t for pair in zip(prompts, compared, strict=True) for t in pair])
        doc_of_word = w.text_of // 2

        def source(doc: int) -> str:
            return f"{path}:{lines[doc]}"

        def raw_excerpt(doc: int) -> str:
            return _cap(
                prompts[doc] if not answers[doc] else f"{prompts[doc]}\n{answers[doc]}",
                self.cfg.excerpt_chars,
            )

        self._exact(w, source, raw_excerpt)
        self._ngrams(w, doc_of_word, source)
        self._containment(w, doc_of_word, source)
        self._near_duplicates(w, source, raw_excerpt)
        self._edited_copies(w, prompts, source, raw_excerpt)
        if self.cfg.check_references:
            self._references(w, source, raw_excerpt)
        if self.embedder is not None:
            self._paraphrases(prompts, source, raw_excerpt)

    def _exact(self, w: hashing.Words, source: _Locate, raw_excerpt: _Locate) -> None:
        th = hashing.text_hashes(w)
        p_hash, a_hash = th[0::2], th[1::2]
        pairs = hashing.combine(p_hash, a_hash)
        for hashes, postings, detail in (
            (pairs, self.index.pair_hash, "pair"),
            (p_hash, self.index.prompt_hash, "prompt"),
        ):
            found = postings.find(hashes)
            docs = np.flatnonzero((found >= 0) & (hashes != 0))
            if len(docs) == 0:
                continue
            rep, items = postings.expand(found[docs])
            for doc, item in zip(docs[rep].tolist(), items.tolist(), strict=True):
                known = self.exact.get(item)
                # the first location wins, except that a prompt + answer match outranks a prompt one
                if known is None or (detail == "pair" and known.detail != "pair"):
                    self.exact[item] = _Hit(1.0, source(doc), raw_excerpt(doc), detail)

    def _references(self, w: hashing.Words, source: _Locate, raw_excerpt: _Locate) -> None:
        """Training answers against eval references, for documents whose prompt resembles the item's.

        Candidates: an answer equal to a reference (whole-text hash), or holding one of a
        reference's prefix-filter shingles. A candidate counts only when the two prompts share at
        least ``reference_prompt_jaccard`` of their words: otherwise two different questions
        merely share an answer, as labels and templated replies do.
        """
        cfg, index = self.cfg, self.index
        pairs: dict[tuple[int, int], bool] = {}  # (doc, item) -> whole answer equal
        a_hash = hashing.text_hashes(w)[1::2]
        found = index.reference_hash.find(a_hash)
        docs = np.flatnonzero((found >= 0) & (a_hash != 0))
        sharers: dict[int, int] = {}  # item -> eval items holding the same whole reference
        if len(docs):
            rep, items = index.reference_hash.expand(found[docs])
            shared = index.reference_hash.items_per_key()[found[docs]][rep]
            for doc, item, n in zip(docs[rep].tolist(), items.tolist(), shared.tolist(), strict=True):
                pairs[(doc, item)] = True
                sharers[item] = int(n)
        sh, owner = hashing.shingles(w, cfg.shingle_n)
        answer = owner % 2 == 1
        sh, docs_of = sh[answer], owner[answer] // 2
        if len(index.reference_prefix) and len(sh):
            found = index.reference_prefix.find(sh)
            hit = np.flatnonzero(found >= 0)
            if len(hit):
                rep, items = index.reference_prefix.expand(found[hit])
                for key in np.unique(docs_of[hit][rep] * len(index) + items).tolist():
                    pairs.setdefault(divmod(key, len(index)), False)
        if not pairs:
            return
        bounds = np.searchsorted(docs_of, np.arange(w.n_texts // 2 + 1))
        for (doc, item), equal in sorted(pairs.items()):
            if equal:
                self.ref_copies[item] = self.ref_copies.get(item, 0) + 1
            if item in self.ref_exact:
                continue
            words = np.unique(w.hashes[w.offsets[2 * doc] : w.offsets[2 * doc + 1]])
            similar = hashing.jaccard(index.prompt_words[item], words)
            if similar < cfg.reference_prompt_jaccard - 1e-9:
                if equal and item not in self.ref_alone and self._distinctive(item, sharers):
                    self.ref_alone[item] = _Hit(similar, source(doc), raw_excerpt(doc), "alone")
                continue
            if equal:
                self.ref_exact[item] = _Hit(similar, source(doc), raw_excerpt(doc), "answer")
                continue
            score = hashing.containment(
                index.reference_shingles[item], np.unique(sh[bounds[doc] : bounds[doc + 1]])
            )
            best = self.ref_near.get(item)
            if score >= cfg.containment_threshold - 1e-9 and (best is None or score > best.score):
                self.ref_near[item] = _Hit(score, source(doc), raw_excerpt(doc), f"{similar:.2f}")

    def _distinctive(self, item: int, sharers: dict[int, int]) -> bool:
        """A reference long enough, and held by this eval item alone, to count without the prompts."""
        n_words, least = self.index.reference_words, self.cfg.reference_alone_min_words
        long_enough = least > 0 and item < len(n_words) and int(n_words[item]) >= least
        return long_enough and sharers.get(item, 0) == 1

    def _reference_exact(self, item: int) -> _Hit | None:
        """The exact reference match of an item: with similar prompts, else counted alone when the
        answer is no stock reply (fewer than ``boilerplate_min_docs`` training answers are it)."""
        if item in self.ref_exact:
            return self.ref_exact[item]
        if item in self.ref_alone and self.ref_copies.get(item, 0) < self.cfg.boilerplate_min_docs:
            return self.ref_alone[item]
        return None

    def _ngrams(self, w: hashing.Words, doc_of_word: np.ndarray, source: _Locate) -> None:
        for n, postings, where in (
            (self.cfg.ngram_n, self.index.long_grams, self.long_where),
            (self.cfg.short_ngram_n, self.index.short_grams, self.short_where),
        ):
            if len(postings) == 0:
                continue
            grams, first = hashing.ngrams(w, n, doc_of_word)
            found = postings.find(grams)
            hit = np.flatnonzero(found >= 0)
            if len(hit) == 0:
                continue
            docs = doc_of_word[first[hit]]
            # one count per (document, n-gram): ngrams come in document order, so the first
            # occurrence of a pair is its earliest position
            pair_key = docs * len(postings) + found[hit]
            _, uniq = np.unique(pair_key, return_index=True)
            keys = found[hit][uniq]
            if postings is self.index.long_grams:
                np.add.at(self.n_long, keys, 1)
            else:
                self.short_seen[keys] = True
            for k, pos in zip(keys.tolist(), first[hit][uniq].tolist(), strict=True):
                if k not in where:
                    excerpt = _cap(w.excerpt(pos, pos + n - 1), self.cfg.excerpt_chars)
                    where[k] = (source(int(doc_of_word[pos])), excerpt)

    def _containment(self, w: hashing.Words, doc_of_word: np.ndarray, source: _Locate) -> None:
        prefix = self.index.containment_prefix
        if len(prefix) == 0:
            return
        grams, first = hashing.ngrams(w, self.cfg.shingle_n, doc_of_word)
        found = prefix.find(grams)
        hit = np.flatnonzero(found >= 0)
        if len(hit) == 0:
            return
        rep, items = prefix.expand(found[hit])
        docs = doc_of_word[first[hit]][rep]
        cand = np.unique(docs * len(self.index) + items)
        doc_bounds = np.searchsorted(doc_of_word[first], np.arange(w.n_texts // 2 + 1))
        doc_sets: dict[int, np.ndarray] = {}
        for key in cand.tolist():
            doc, item = divmod(key, len(self.index))
            if doc not in doc_sets:
                doc_sets[doc] = np.unique(grams[doc_bounds[doc] : doc_bounds[doc + 1]])
            item_set = self.index.shingles[item]
            score = hashing.containment(item_set, doc_sets[doc])
            best = self.contained.get(item)
            if score >= self.cfg.containment_threshold and (best is None or score > best.score):
                lo, hi = doc_bounds[doc], doc_bounds[doc + 1]
                matched = lo + np.flatnonzero(np.isin(grams[lo:hi], item_set))
                start, end = int(first[matched[0]]), int(first[matched[-1]]) + self.cfg.shingle_n - 1
                excerpt = _cap(w.excerpt(start, end, context=3), self.cfg.excerpt_chars)
                self.contained[item] = _Hit(score, source(doc), excerpt, "containment")

    def _near_duplicates(self, w: hashing.Words, source: _Locate, raw_excerpt: _Locate) -> None:
        from datasketch import MinHash

        sh, owner = hashing.shingles(w, self.cfg.shingle_n)
        keep = owner % 2 == 0
        sh, docs = sh[keep], owner[keep] // 2
        if len(sh) == 0:
            return
        order = np.lexsort((sh, docs))
        sh, docs = sh[order], docs[order]
        uniq = np.concatenate(([True], (sh[1:] != sh[:-1]) | (docs[1:] != docs[:-1])))
        sh, docs = sh[uniq], docs[uniq]
        inside = self.index.shingle_index.contains(sh)
        n_docs = w.n_texts // 2
        total = np.bincount(docs, minlength=n_docs)
        shared = np.bincount(docs, weights=inside, minlength=n_docs)
        # Jaccard(E, T) <= |E & T| / |T| <= shared / total: below the threshold no item can pass
        cand = np.flatnonzero((total > 0) & (shared >= self.cfg.jaccard_threshold * total - 1e-9))
        if len(cand) == 0:
            return
        bounds = np.searchsorted(docs, np.arange(n_docs + 1))
        sel = np.isin(docs, cand)
        sig, present = hashing.minhash_signatures(sh[sel], docs[sel], n_docs, self.index.permutations)
        lsh = self.index.lsh
        for row, doc in zip(sig, present.tolist(), strict=True):
            mh = MinHash(hashvalues=row, permutations=self.index.permutations, scheme="affine32")
            doc_set = sh[bounds[doc] : bounds[doc + 1]]
            for item in lsh.query(mh):
                score = hashing.jaccard(self.index.shingles[item], doc_set)
                best = self.near.get(item)
                if score >= self.cfg.jaccard_threshold and (best is None or score > best.score):
                    self.near[item] = _Hit(score, source(doc), raw_excerpt(doc), "jaccard")

    def _edited_copies(self, w: hashing.Words, prompts: list[str], source: _Locate, raw_excerpt: _Locate) -> None:
        for item, (score, doc) in self._edits.find(w, prompts).items():
            best = self.edited.get(item)
            if best is None or score > best.score:
                self.edited[item] = _Hit(score, source(doc), raw_excerpt(doc), "edit")

    def _paraphrases(self, prompts: list[str], source: _Locate, raw_excerpt: _Locate) -> None:
        if self.embedder is None or self.eval_embeddings is None:
            return
        emb = self.embedder.encode(prompts)
        n_items = self.eval_embeddings.shape[0]
        best = np.full(n_items, -np.inf, dtype=np.float32)
        best_doc = np.zeros(n_items, dtype=np.int64)
        for lo in range(0, len(emb), 1024):  # bounds the (docs x items) similarity block
            sims = emb[lo : lo + 1024] @ self.eval_embeddings.T
            arg = sims.argmax(axis=0)
            top = sims[arg, np.arange(n_items)]
            better = top > best
            best[better], best_doc[better] = top[better], arg[better] + lo
        for item in np.flatnonzero(best >= self.cfg.embedding_threshold).tolist():
            score = float(best[item])
            prev = self.para.get(item)
            if prev is None or score > prev.score:
                doc = int(best_doc[item])
                self.para[item] = _Hit(score, source(doc), raw_excerpt(doc), "cosine")

    # -- after the pass ------------------------------------------------------------------
    def flags(self) -> list[ItemFlag]:
        cfg, index = self.cfg, self.index
        ngram = self._ngram_hits()
        out: list[ItemFlag] = []
        for item, (suite, item_id) in enumerate(index.keys):
            evidence: dict[str, tuple[_Hit, str]] = {}
            matched: set[str] = set()
            if item in self.exact:
                hit = self.exact[item]
                what = "prompt and reference answer appear" if hit.detail == "pair" else "prompt appears"
                evidence["exact"] = (hit, f"its {what} verbatim in a training example (after normalisation)")
                matched |= {"prompt", "reference"} if hit.detail == "pair" else {"prompt"}
            ref_hit = self._reference_exact(item)
            if ref_hit is not None:
                matched.add("reference")
                if "exact" not in evidence or self.exact[item].detail != "pair":
                    hit = ref_hit
                    evidence["exact"] = (
                        hit,
                        "its reference answer is verbatim the answer of a training example (after "
                        f"normalisation) whose prompt shares {hit.score:.0%} of its words (threshold "
                        f"{cfg.reference_prompt_jaccard:.0%}): the gold answer was copied with an edited prompt",
                    ) if hit.detail != "alone" else (
                        hit,
                        "its reference answer is verbatim the answer of a training example (after normalisation), "
                        f"a reference of {int(self.index.reference_words[item])} words (at least "
                        f"{cfg.reference_alone_min_words}) that no other eval item holds, in "
                        f"{self.ref_copies.get(item, 0)} training example(s) (a stock reply, in "
                        f"{cfg.boilerplate_min_docs}+, would not count): it counts alone, although the prompts share only "
                        f"{hit.score:.0%} of their words: the gold answer was copied under a rewritten prompt",
                    )
            if item in ngram:
                evidence["ngram"] = ngram[item]
                matched.add("prompt")
            if item in self.near or item in self.contained or item in self.edited:
                hit = self.near.get(item) or self.contained.get(item) or self.edited[item]
                if hit.detail == "jaccard":
                    why = (
                        f"near duplicate of a training prompt: exact Jaccard {hit.score:.2f} of word "
                        f"{cfg.shingle_n}-gram shingles (threshold {cfg.jaccard_threshold})"
                    )
                elif hit.detail == "edit":
                    why = (
                        f"near duplicate of a training prompt: {hit.score:.0%} of their words line up in order "
                        f"(word-level similarity, threshold {cfg.edit_threshold:.0%}): a copy with a few words "
                        "changed, reordered, added or cut"
                    )
                else:
                    why = (
                        f"{hit.score:.0%} of its word {cfg.shingle_n}-gram shingles occur inside one training "
                        f"example (containment threshold {cfg.containment_threshold:.0%})"
                    )
                evidence["near_duplicate"] = (hit, why)
                matched.add("prompt")
            if item in self.ref_near:
                matched.add("reference")
                hit = self.ref_near[item]
                evidence.setdefault(
                    "near_duplicate",
                    (
                        hit,
                        f"{hit.score:.0%} of its reference answer's word {cfg.shingle_n}-gram shingles occur in the "
                        f"answer of a training example whose prompt shares {float(hit.detail):.0%} of its words "
                        f"(thresholds {cfg.containment_threshold:.0%} and {cfg.reference_prompt_jaccard:.0%})",
                    ),
                )
            if item in self.para:
                hit = self.para[item]
                evidence["paraphrase"] = (
                    hit,
                    f"paraphrase of a training prompt: embedding cosine {hit.score:.2f} "
                    f"(all-MiniLM-L6-v2, threshold {cfg.embedding_threshold})",
                )
                matched.add("prompt")
            flag = strongest(list(evidence))
            if flag == "clean":
                out.append(ItemFlag(suite, item_id, "clean"))
                continue
            hit, reason = evidence[flag]
            checks = tuple(f for f in FLAGS if f in evidence)
            parts = tuple(p for p in ("prompt", "reference") if p in matched)
            out.append(
                ItemFlag(suite, item_id, flag, reason, hit.source, hit.excerpt, hit.score, checks, parts)
            )
        return out

    def _shared_positions(self, keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Word positions of one item whose n-gram is in training, not boilerplate, and not mostly
        made of boilerplate n-grams (``keys``: the item's n-gram key at each position)."""
        cfg = self.cfg
        n = cfg.ngram_n
        n_words = len(keys) + n - 1
        boiler_pos = np.flatnonzero(counts[keys] >= cfg.boilerplate_min_docs)
        cover = np.zeros(n_words + 1, dtype=np.int64)
        np.add.at(cover, boiler_pos, 1)
        np.add.at(cover, boiler_pos + n, -1)
        covered = np.concatenate(([0], np.cumsum(np.cumsum(cover)[:n_words] > 0)))
        pos = np.flatnonzero((counts[keys] >= 1) & (counts[keys] < cfg.boilerplate_min_docs))
        share = (covered[pos + n] - covered[pos]) / n
        return pos[share <= cfg.max_boilerplate_share + 1e-9]

    def _ngram_hits(self) -> dict[int, tuple[_Hit, str]]:
        cfg, index = self.cfg, self.index
        out: dict[int, tuple[_Hit, str]] = {}
        n = cfg.ngram_n
        valid_key = (self.n_long >= 1) & (self.n_long < cfg.boilerplate_min_docs)
        total = index.long_grams.keys_per_item(len(index))
        _, cand = index.long_grams.expand(np.flatnonzero(valid_key))
        for item in np.unique(cand).tolist():
            keys = index.long_positions[item]  # one key per word position
            pos = self._shared_positions(keys, self.n_long)
            if len(pos) == 0:
                continue
            n_shared = len(np.unique(keys[pos]))
            key = int(keys[pos[0]])
            src, excerpt = self.long_where[key]
            why = (
                f"{n_shared} of its {total[item]} word {n}-grams occur in training (this one in "
                f"{int(self.n_long[key])} training example(s); {n}-grams found in {cfg.boilerplate_min_docs}+ "
                "examples, or mostly made of such, are boilerplate and ignored)"
            )
            out[item] = (_Hit(n_shared / total[item], src, excerpt), why)
        seen = np.flatnonzero(self.short_seen)
        if len(seen):
            rep, items = index.short_grams.expand(seen)
            total = index.short_grams.keys_per_item(len(index))
            shared = np.bincount(items, minlength=len(index))
            for key, item in zip(seen[rep].tolist(), items.tolist(), strict=True):
                frac = shared[item] / total[item]
                if item in out or frac < cfg.short_min_fraction - 1e-9:
                    continue
                src, excerpt = self.short_where[key]
                why = (
                    f"short item ({index.n_words[item]} words): {shared[item]} of its {total[item]} word "
                    f"{cfg.short_ngram_n}-grams occur in training (PaLM rule: at least "
                    f"{cfg.short_min_fraction:.0%})"
                )
                out[item] = (_Hit(frac, src, excerpt), why)
        return out


def check_leakage(
    train_files: str | Path | Sequence[str | Path],
    suites: Sequence[Suite],
    *,
    config: LeakageConfig | None = None,
    embedder: Embedder | None = None,
) -> LeakageReport:
    """Compare eval suites with training data; one flag per eval item.

    ``train_files`` are JSONL files (see ``tunegate.harness.leakage.sources`` for the accepted shapes),
    streamed in batches, never held in memory. Unreadable lines raise one DataError listing each
    as ``path:line: message`` (or are skipped and listed in the report with ``skip_bad_lines``).

    >>> report = check_leakage([Path("train.jsonl")], [suite])  # doctest: +SKIP
    >>> report.assert_passed(); report.clean_ids(suite)  # doctest: +SKIP
    """
    cfg = config or LeakageConfig()
    started = time.perf_counter()
    files = [train_files] if isinstance(train_files, (str, Path)) else list(train_files)
    if not files:
        raise DataError(
            "(no training files)", ["(none):0: no training files given; pass at least one JSONL file"]
        )
    index = build_index(suites, cfg)
    if cfg.embedding and embedder is None:
        embedder = load_minilm(batch_size=cfg.embedding_batch_size)
    scanner = _Scanner(index, cfg, embedder if cfg.embedding else None)
    problems: list[str] = []
    stats: list[FileStats] = []
    for raw_path in files:
        path = Path(raw_path)
        st = FileStats(str(path))
        stats.append(st)
        for batch in iter_batches(path, cfg.batch_lines, problems, st):
            scanner.feed(str(path), batch)
    n_bad = sum(s.bad_lines for s in stats)
    if n_bad and not cfg.skip_bad_lines:
        shown = problems[:_MAX_PROBLEMS_SHOWN]
        if n_bad > len(shown):
            shown.append(f"... and {n_bad - len(shown)} more unreadable line(s)")
        raise DataError(", ".join(s.path for s in stats if s.bad_lines), shown)
    return LeakageReport(
        config=cfg,
        items=tuple(scanner.flags()),
        training_files=tuple(TrainingFile(s.path, s.lines, s.docs, s.sha256, s.bad_lines) for s in stats),
        problems=tuple(problems),
        elapsed_s=time.perf_counter() - started,
    )
