"""Settings of the leakage check. Defaults follow shared/STATS.md section 3."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from tunegate.harness.errors import ConfigError


@dataclass(frozen=True)
class LeakageConfig:
    """How training data is compared with eval items, and when the gate fails.

    Defaults: 13-gram overlap with boilerplate (13-grams in >= 10 training documents) ignored
    (GPT-3, appendix C); the PaLM rule (>= 70% of 8-grams seen) for items under 13 words; MinHash
    LSH on word 5-gram shingles with 128 permutations and Jaccard >= 0.8, re-checked exactly;
    containment >= 0.8 of an item's shingles inside one training document; for prompts of 13+
    words, word-level similarity >= 0.8 with a training prompt (a copy with a few words edited).
    The gate fails on any exact duplicate and when n-gram + near-duplicate items exceed 1% of the eval set
    (``max_near_duplicate_rate``): one leaked item in a hundred moves a mean by about as much as
    the smallest deltas worth gating on, so more than that makes the scores unreliable.

    Each item's reference answer is compared with the training answers (assistant turns) too: an
    eval item whose prompt was edited but whose gold answer was copied into training is leaked.
    A reference equal to a training answer is an exact duplicate, one with ``containment_threshold``
    of its shingles inside a training answer a near duplicate, when that training example's prompt
    shares at least ``reference_prompt_jaccard`` of its words with the item's prompt. Without that
    condition formulaic tasks flag everything: in the shipped support data 5,265 (eval item,
    training example) pairs share half of the reference's 13-grams (templated replies to different
    e-mails), and no such pair's prompts share more than 31% of their words; a lightly edited
    prompt keeps well over half. References shorter than ``reference_min_words`` words ("Paris",
    "12") are too common to prove anything and are not compared. A long, distinctive reference
    (``reference_alone_min_words``) equal to a training answer counts without the prompt condition:
    a gold answer copied under a rewritten prompt shares few prompt words (0.18-0.29 in our
    tests), and a 20-word reply that no other eval item and no stock training reply holds is not
    given to another question by chance, except by templated data (the shipped support generator
    redraws an eval case whose reply would repeat a training one).
    """

    ngram_n: int = 13
    """Word n-gram length of the overlap check; items with fewer words use the short-item rule."""
    boilerplate_min_docs: int = 10
    """An n-gram found in at least this many training documents is boilerplate and ignored."""
    max_boilerplate_share: float = 0.5
    """A shared n-gram whose words lie more than this share inside boilerplate n-grams of the same
    item is ignored too, so "<one rare word> + a stock sign-off" does not flag an item (1.0: the
    plain GPT-3 rule)."""
    short_ngram_n: int = 8
    """n-gram length of the PaLM rule for items shorter than ``ngram_n`` words."""
    short_min_fraction: float = 0.7
    """Fraction of a short item's n-grams that must occur in training to flag it."""
    shingle_n: int = 5
    """Word shingle length for MinHash and containment."""
    num_perm: int = 128
    """MinHash permutations."""
    minhash_seed: int = 1
    """Seed of the MinHash permutations (datasketch's default)."""
    jaccard_threshold: float = 0.8
    """Exact Jaccard similarity (of prompt shingles) at or above which an item is a near duplicate."""
    containment_threshold: float = 0.8
    """Share of an item's shingles inside one training document at or above which it is flagged."""
    edit_threshold: float = 0.8
    """Word-level similarity (difflib's ratio: 2 x matched words / both lengths) of an item's prompt
    and a training prompt at or above which the item is a near duplicate: a copy with a few words
    changed, reordered, added or cut, which breaks too many 13-grams and shingles to be caught by
    them (3 words swapped in 40: about 0.93; a sentence added: about 0.89; the first 70% kept:
    0.82). Clean pairs of the shipped support data reach 0.38 at most."""
    edit_min_words: int = 13
    """Shortest prompt (in words) compared word by word: shorter ones ("What is 12 + 7?") differ
    from another item by one number and go to the short-item n-gram rule instead."""
    check_references: bool = True
    """Compare each eval item's reference answer with the training answers (assistant turns)."""
    reference_min_words: int = 8
    """Shortest reference (in words) compared with training answers."""
    reference_prompt_jaccard: float = 0.5
    """Share of prompt words (Jaccard of the word sets) a training example must have in common with
    an eval item for its answer to count against the item's reference."""
    reference_alone_min_words: int = 20
    """A reference of at least this many words that equals a training answer exactly counts
    whatever the two prompts share (a gold answer copied under a rewritten prompt) when it is
    distinctive: no other eval item holds it, and fewer than ``boilerplate_min_docs`` training
    answers are it (more is a stock reply). 20 words: short answers ("Yes.", "Paris", a label,
    "The answer is 42.") coincide by chance, a 20-word reply does not; the packaged general suites'
    references have at most 6 words, the support suite's 36 to 71. 0 turns the rule off."""
    embedding: bool = False
    """Also compare MiniLM sentence embeddings (slow: one encoder pass over every training prompt)."""
    embedding_threshold: float = 0.8
    """Cosine similarity at or above which an item is a paraphrase (the Platypus rule)."""
    embedding_batch_size: int = 64
    """Texts per encoder batch."""
    max_near_duplicate_rate: float = 0.01
    """Gate: the largest tolerated share of n-gram + near-duplicate items."""
    max_paraphrase_rate: float | None = None
    """Gate on paraphrases too (None: report them, never fail on them)."""
    skip_bad_lines: bool = False
    """Report unreadable training lines in the result instead of raising DataError."""
    batch_lines: int = 4096
    """Training lines hashed together (memory grows with it, speed up to a point)."""
    excerpt_chars: int = 240
    """Longest excerpt of training text kept per flagged item."""

    def __post_init__(self) -> None:
        for name in (
            "ngram_n",
            "boilerplate_min_docs",
            "short_ngram_n",
            "shingle_n",
            "batch_lines",
            "excerpt_chars",
            "reference_min_words",
            "edit_min_words",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"leakage config {name} must be a positive integer, got {value!r}")
        alone = self.reference_alone_min_words
        if not isinstance(alone, int) or isinstance(alone, bool) or alone < 0:
            raise ConfigError(f"leakage config reference_alone_min_words must be an integer >= 0, got {alone!r}")
        if self.short_ngram_n > self.ngram_n:
            raise ConfigError(
                f"leakage config short_ngram_n ({self.short_ngram_n}) must not exceed ngram_n ({self.ngram_n})"
            )
        if not 2 <= self.num_perm <= 1024:
            raise ConfigError(f"leakage config num_perm must be in [2, 1024], got {self.num_perm!r}")
        for name in (
            "max_boilerplate_share",
            "short_min_fraction",
            "jaccard_threshold",
            "containment_threshold",
            "edit_threshold",
            "embedding_threshold",
            "reference_prompt_jaccard",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
                raise ConfigError(f"leakage config {name} must be in (0, 1], got {value!r}")
        for name in ("max_near_duplicate_rate", "max_paraphrase_rate"):
            value = getattr(self, name)
            if value is None and name == "max_paraphrase_rate":
                continue
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"leakage config {name} must be a rate in [0, 1], got {value!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeakageConfig:
        """Build from a mapping (e.g. ``[tool.tunegate.leakage]``); unknown keys are rejected."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown leakage setting(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
