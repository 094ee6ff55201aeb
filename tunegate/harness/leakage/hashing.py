"""Text normalisation and vectorised 64-bit hashing of words, n-grams and MinHash signatures.

A batch of texts is normalised in one pass (NFKC, lowercase, punctuation and whitespace runs
become one space: the lm-evaluation-harness janitor rule, with punctuation turned into a word
break rather than deleted, so "don't" -> "don t" on both sides alike). Before that, ``fold``
undoes what hides a copy without changing how it reads: HTML character references are decoded,
invisible characters (zero-width spaces and joiners, soft hyphens, byte order marks, bidi marks:
Unicode's default-ignorable code points) are dropped, and Cyrillic and Greek letters that look
like Latin ones are read as those. Without it a zero-width space inside every
word, or a Cyrillic "о" for "o", makes a verbatim copy share no word with its source. Texts are joined with NUL
bytes, encoded to UTF-8 once, and every word and n-gram is hashed with numpy: a word is a
polynomial hash of its bytes, an n-gram a polynomial hash of its word hashes, both computed from
prefix sums (mod 2^64) so that no Python object is created per word or per n-gram. A final
splitmix64 mix spreads the bits. Equal word sequences get equal hashes wherever they occur.

MinHash signatures use datasketch's ``affine32`` scheme exactly (MurmurHash3 finalizer, then
``a * h + b mod 2^32``) with the permutations of ``datasketch.MinHash(num_perm, seed)``, so a
signature computed here for a whole batch equals the one ``MinHash.update_batch`` would give for
each text (tests pin this).
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

_SEP_RE = re.compile(r"(?:[^\w\x00]|_)+")
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
"""Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): zero-width spaces
and joiners, soft hyphen, bidi marks, word joiner, variation selectors, byte order mark, tags.
They are never drawn, so a copy can carry any number of them."""
_INVISIBLE = {cp: None for lo, hi in _DEFAULT_IGNORABLE for cp in range(lo, hi + 1)}
_LOOKALIKES = str.maketrans(
    "авекмнорстухіјѕԁһӏԛԝαβεζηικμνορτυχ",
    "abekmhopctyxijsdhlqwabezhikmnoptyx",
)
"""Lower-case Cyrillic and Greek letters whose capital or small form is drawn like a Latin letter
(the common part of Unicode's confusables.txt), applied after lowercasing so that both cases of a
letter read alike: "Нет" and "нет" are both "het", "ΝΑΙ" and "ναι" both "nai"."""
_TEXT_SEP = "\x00"
_P_BYTES = 0x9E3779B97F4A7C15 | 1  # odd multipliers are invertible mod 2^64
_P_WORDS = 0xC2B2AE3D27D4EB4F | 1
_MASK32 = np.uint64(0xFFFFFFFF)
# ASCII fast path: for pure-ASCII text, NFKC is the identity and [^\w\x00]|_ is exactly this table
_ASCII_SEP = str.maketrans({chr(c): " " for c in range(1, 128) if not chr(c).isalnum()})


def fold(text: str) -> str:
    """``text`` lower-cased with the disguises that leave it reading the same undone.

    HTML character references are decoded (``&amp;``, ``&#39;``, ``&nbsp;``); default-ignorable
    code points (never drawn) are dropped; NFKC folds compatibility forms (full-width letters,
    ligatures, no-break spaces); after lowercasing, Cyrillic and Greek look-alikes of Latin
    letters become those letters. Both sides of every comparison go through it, so real Cyrillic
    or Greek text still matches itself (in either case). Accents and other combining marks are
    kept: in Vietnamese, Hindi, Thai or Japanese they tell words apart ("bán" sell, "bạn"
    friend). Two C-speed translations and one normalisation: plain text pays little.
    """
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
    return text.lower().translate(_LOOKALIKES)


def normalize(text: str) -> str:
    """Folded (``fold``), lowercase, punctuation -> space, whitespace collapsed: the form every
    check compares."""
    text = text.replace(_TEXT_SEP, " ")
    if not text.isascii() or "&" in text:
        text = fold(text)
    return _SEP_RE.sub(" ", text.lower()).strip()


def json_text(text: str) -> str:
    """A JSON object or array (as text) turned into the text it holds; any other text unchanged.

    Keys come in sorted order, each followed by its value; strings are unescaped, other scalars
    written as JSON. Serialised JSON writes a line break inside a string as backslash + "n", so
    normalised words would carry escape debris ("hi yael n ni can"), and a copied reply with its
    blank lines or key order changed would no longer equal its source. Answers and references
    are compared in this form, on both sides.
    """
    stripped = text.lstrip()
    if stripped[:1] not in ("{", "["):
        return text
    try:
        value = json.loads(stripped)
        return "\n".join(_json_leaves(value))
    except (ValueError, RecursionError):
        return text


def _json_leaves(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield str(key)
            yield from _json_leaves(value[key])
    elif isinstance(value, list):
        for v in value:
            yield from _json_leaves(v)
    elif isinstance(value, str):
        yield value
    else:
        yield json.dumps(value)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijection on uint64 that spreads every input bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch applies it before its affine permutations."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x85EBCA6B)
    x = x ^ (x >> np.uint32(13))
    x = x * np.uint32(0xC2B2AE35)
    return x ^ (x >> np.uint32(16))


class _Powers:
    """Cached powers p^j and p^-j (mod 2^64), grown on demand."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.inverse = pow(base, -1, 1 << 64)
        self.fwd = np.ones(1, dtype=np.uint64)
        self.inv = np.ones(1, dtype=np.uint64)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.fwd) < n:
            size = max(n, 2 * len(self.fwd))
            self.fwd = _power_table(self.base, size)
            self.inv = _power_table(self.inverse, size)
        return self.fwd[:n], self.inv[:n]


def _power_table(base: int, n: int) -> np.ndarray:
    table = np.full(n, base, dtype=np.uint64)
    table[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(table, dtype=np.uint64)


_BYTE_POWERS = _Powers(_P_BYTES)
_WORD_POWERS = _Powers(_P_WORDS)


@dataclass(frozen=True)
class Words:
    """The words of a batch of texts: hashes, owning text, and where each sits in ``norm``."""

    hashes: np.ndarray  # uint64, one per word
    text_of: np.ndarray  # int64, index of the text each word belongs to
    offsets: np.ndarray  # int64, words of text i are hashes[offsets[i]:offsets[i + 1]]
    byte_start: np.ndarray  # int64, word i is norm[byte_start[i]:byte_end[i]]
    byte_end: np.ndarray
    norm: bytes  # the normalised batch, texts separated by NUL bytes

    @property
    def n_texts(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def excerpt(self, first: int, last: int, *, context: int = 12) -> str:
        """Normalised text from word ``first - context`` to word ``last + context`` of one text."""
        text = int(self.text_of[first])
        lo = max(int(self.offsets[text]), first - context)
        hi = min(int(self.offsets[text + 1]) - 1, last + context)
        raw = " ".join(
            self.norm[int(self.byte_start[lo]) : int(self.byte_end[hi])].decode("utf-8", "replace").split()
        )
        head = "… " if lo > self.offsets[text] else ""
        tail = " …" if hi < self.offsets[text + 1] - 1 else ""
        return head + raw + tail


def words(texts: Sequence[str]) -> Words:
    """Normalise and hash a batch of texts in one vectorised pass."""
    joined = _TEXT_SEP.join(texts)
    if joined.count(_TEXT_SEP) != max(len(texts) - 1, 0):
        joined = _TEXT_SEP.join(t.replace(_TEXT_SEP, " ") for t in texts)
    if joined.isascii() and "&" not in joined:
        norm = joined.translate(_ASCII_SEP).lower().encode("ascii")
    else:
        norm = _SEP_RE.sub(" ", fold(joined).lower()).encode("utf-8")
    data = np.frombuffer(norm, dtype=np.uint8)
    n_bytes = len(data)
    if n_bytes == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Words(np.zeros(0, np.uint64), empty, np.zeros(len(texts) + 1, np.int64), empty, empty, norm)
    is_sep = (data == 32) | (data == 0)
    word = ~is_sep
    starts = np.flatnonzero(word & np.concatenate(([True], is_sep[:-1])))
    ends = np.flatnonzero(word & np.concatenate((is_sep[1:], [True]))) + 1
    breaks = np.flatnonzero(data == 0)
    text_of = np.searchsorted(breaks, starts).astype(np.int64)
    fwd, inv = _BYTE_POWERS.upto(n_bytes + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(n_bytes + 1, dtype=np.uint64)
        np.cumsum(data.astype(np.uint64) * fwd[:n_bytes], out=prefix[1:])
        hashes = mix64((prefix[ends] - prefix[starts]) * inv[starts])
    offsets = np.searchsorted(text_of, np.arange(len(texts) + 1)).astype(np.int64)
    return Words(hashes, text_of, offsets, starts.astype(np.int64), ends.astype(np.int64), norm)


def _word_prefix(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = len(hashes)
    fwd, inv = _WORD_POWERS.upto(m + 1)
    prefix = np.zeros(m + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(hashes * fwd[:m], out=prefix[1:])
    return prefix, inv


def ngrams(w: Words, n: int, group: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every word n-gram that does not cross a group boundary, and each one's first word.

    ``group`` (one value per word, non-decreasing) defaults to the text index; pass a coarser one
    (e.g. ``text_of // 2``) to let n-grams run across consecutive texts of one document.
    """
    g = w.text_of if group is None else group
    m = len(w.hashes)
    if m < n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    first = np.flatnonzero(g[: m - n + 1] == g[n - 1 :])
    prefix, inv = _word_prefix(w.hashes)
    with np.errstate(over="ignore"):
        h = mix64((prefix[first + n] - prefix[first]) * inv[first] ^ np.uint64(n))
    return h, first.astype(np.int64)


def text_hashes(w: Words) -> np.ndarray:
    """One hash per text of its whole word sequence (0 for a text with no words)."""
    prefix, inv = _word_prefix(w.hashes)
    lo, hi = w.offsets[:-1], w.offsets[1:]
    with np.errstate(over="ignore"):
        h = mix64((prefix[hi] - prefix[lo]) * inv[lo] ^ (hi - lo).astype(np.uint64) * np.uint64(_P_BYTES))
    h[hi == lo] = 0
    return h


def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """An order-dependent hash of two hashes (prompt, answer)."""
    with np.errstate(over="ignore"):
        return mix64(a * np.uint64(_P_WORDS) + mix64(b ^ np.uint64(_P_BYTES)))


def shingles(w: Words, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Word n-gram shingles per text; a text shorter than n words is one shingle (its whole text).

    Returns (hashes, text index), sorted by text index; texts with no words have no shingle.
    """
    grams, first = ngrams(w, n)
    lengths = w.lengths()
    short = np.flatnonzero((lengths > 0) & (lengths < n))
    if len(short) == 0:
        return grams, w.text_of[first]
    whole = text_hashes(w)[short]
    h = np.concatenate((grams, whole))
    t = np.concatenate((w.text_of[first], short))
    order = np.argsort(t, kind="stable")
    return h[order], t[order]


def minhash_permutations(num_perm: int, seed: int) -> np.ndarray:
    """The (a, b) parameters datasketch's ``MinHash(num_perm, seed)`` uses (scheme affine32)."""
    from datasketch import MinHash

    return np.asarray(MinHash(num_perm=num_perm, seed=seed).permutations, dtype=np.uint32)


def minhash_signatures(
    hashes: np.ndarray, group: np.ndarray, n_groups: int, permutations: np.ndarray, *, chunk: int = 32768
) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures (uint32, one row per group that has shingles) and those groups' ids.

    ``group`` must be sorted. The input hash of each shingle is its low 32 bits, as a
    ``hashfunc`` returning ``h & 0xffffffff`` would give datasketch.
    """
    a, b = permutations[0], permutations[1]
    present = (
        np.flatnonzero(np.bincount(group, minlength=n_groups) > 0) if len(group) else np.zeros(0, np.int64)
    )
    sig = np.full((len(present), len(a)), np.iinfo(np.uint32).max, dtype=np.uint32)
    if len(hashes) == 0:
        return sig, present
    row_of = np.searchsorted(present, group)
    with np.errstate(over="ignore"):
        for lo in range(0, len(hashes), chunk):
            h32 = fmix32((hashes[lo : lo + chunk] & _MASK32).astype(np.uint32))
            phv = h32[:, None] * a[None, :] + b[None, :]
            rows = row_of[lo : lo + chunk]
            cut = np.flatnonzero(np.diff(rows)) + 1
            seg_starts = np.concatenate(([0], cut))
            mins = np.minimum.reduceat(phv, seg_starts, axis=0)
            idx = rows[seg_starts]
            sig[idx] = np.minimum(sig[idx], mins)
    return sig, present


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sets of hashes given as sorted unique arrays."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def containment(small: np.ndarray, big: np.ndarray) -> float:
    """Fraction of ``small``'s hashes found in ``big`` (both sorted unique arrays)."""
    if len(small) == 0:
        return 0.0
    return len(np.intersect1d(small, big, assume_unique=True)) / len(small)
