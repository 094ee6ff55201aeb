"""Exact and near duplicates inside one training file, with the leakage check's normalisation.

Exact: the normalised prompt (user turns) and answer are both equal (an error: the example is
weighted twice and a split may put one copy on each side). Same prompt, different answer: the
labels contradict each other (a warning). Near: word 5-gram shingles of the prompts, MinHash LSH
(the leakage check's permutations and band weights), each candidate re-checked with the exact
Jaccard similarity (a warning at >= 0.8).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunegate.harness.datacheck.findings import Finding, error, warning
from tunegate.harness.datacheck.schema import Record
from tunegate.harness.leakage import hashing, normalize
from tunegate.harness.leakage.config import LeakageConfig
from tunegate.harness.leakage.index import LSH_WEIGHTS
from tunegate.harness.leakage.sources import prompt_and_answer


def _canonical_answer(record: Record) -> str:
    """The answer as the leakage check compares it (a JSON answer as the text it holds, keys sorted)."""
    chat = {"messages": [m.to_dict() for m in record.messages]}
    return normalize(hashing.json_text(prompt_and_answer(chat)[1]))


def exact_duplicates(records: Sequence[Record]) -> list[Finding]:
    out: list[Finding] = []
    first_pair: dict[tuple[str, str], Record] = {}
    first_prompt: dict[str, Record] = {}
    for r in records:
        prompt = normalize(r.prompt)
        answer = _canonical_answer(r)
        earlier = first_pair.get((prompt, answer))
        if earlier is not None:
            out.append(
                error(
                    "duplicates",
                    "exact_duplicate",
                    f"{r.location}: exact duplicate of {earlier.location} (same prompt and answer after normalisation)",
                    r.location,
                    earlier.location,
                )
            )
            continue
        first_pair[(prompt, answer)] = r
        same_prompt = first_prompt.get(prompt)
        if same_prompt is not None:
            out.append(
                warning(
                    "duplicates",
                    "conflicting_answers",
                    f"{r.location}: same prompt as {same_prompt.location} with a different answer "
                    "(contradicting labels teach noise; keep one)",
                    r.location,
                    same_prompt.location,
                )
            )
            continue
        first_prompt[prompt] = r
    return out


def near_duplicates(
    records: Sequence[Record], config: LeakageConfig | None = None, *, skip: set[int] | None = None
) -> list[Finding]:
    """For each record, the earliest earlier record whose prompt has Jaccard >= the threshold.

    ``skip`` holds record indices already reported as exact duplicates (not repeated here).
    """
    from datasketch import MinHash, MinHashLSH

    cfg = config or LeakageConfig()
    if len(records) < 2:
        return []
    w = hashing.words([r.prompt for r in records])
    sh, owner = hashing.shingles(w, cfg.shingle_n)
    bounds = np.searchsorted(owner, np.arange(len(records) + 1))
    per_item = [np.unique(sh[bounds[i] : bounds[i + 1]]) for i in range(len(records))]
    perms = hashing.minhash_permutations(cfg.num_perm, cfg.minhash_seed)
    sig, present = hashing.minhash_signatures(sh, owner, len(records), perms)
    lsh = MinHashLSH(threshold=cfg.jaccard_threshold, num_perm=cfg.num_perm, weights=LSH_WEIGHTS)
    exact_prompts: dict[str, int] = {}
    out: list[Finding] = []
    for row, item in zip(sig, present.tolist(), strict=True):
        mh = MinHash(hashvalues=row, permutations=perms, scheme="affine32", seed=cfg.minhash_seed)
        key = normalize(records[item].prompt)
        same = exact_prompts.setdefault(key, item) != item  # equal prompts: the exact check's job
        if not same and not (skip and item in skip):
            best: tuple[float, int] | None = None
            for cand in lsh.query(mh):
                j = hashing.jaccard(per_item[item], per_item[cand])
                if j >= cfg.jaccard_threshold and (best is None or (j, -cand) > (best[0], -best[1])):
                    best = (j, cand)
            if best is not None:
                r, e = records[item], records[best[1]]
                out.append(
                    warning(
                        "duplicates",
                        "near_duplicate",
                        f"{r.location}: near duplicate of {e.location} (prompt word-5-gram Jaccard {best[0]:.2f})",
                        r.location,
                        e.location,
                        jaccard=round(best[0], 4),
                    )
                )
        lsh.insert(item, mh, check_duplication=False)
    return out


def check_duplicates(records: Sequence[Record], config: LeakageConfig | None = None) -> list[Finding]:
    exact = exact_duplicates(records)
    index_of = {r.location: i for i, r in enumerate(records)}
    skip = {index_of[f.locations[0]] for f in exact}
    return exact + near_duplicates(records, config, skip=skip)
