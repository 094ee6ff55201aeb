"""Surface-overlap metrics: BLEU and chrF (corpus metrics, via sacrebleu) and ROUGE F (per item).

BLEU and chrF are corpus statistics: averaging sentence scores is not the corpus score. So each
item contributes sacrebleu's own sufficient statistics (``_extract_corpus_statistics``: lengths and
n-gram match counts), and ``corpus`` maps summed statistics of shape ``(..., k)`` to scores of
shape ``(...)``, reproducing ``sacrebleu.corpus_bleu`` / ``CHRF().corpus_score`` (same smoothing,
same order of floating-point operations). The statistics layer resamples items, sums their
rows and calls ``corpus`` on a whole batch of resamples at once. Scores are on sacrebleu's
0-100 scale. ``values`` holds sentence-level scores for display only (BLEU with effective order,
as ``sacrebleu.sentence_bleu`` does).

A list reference holds several references for one item (sacrebleu's multi-reference BLEU/chrF;
for ROUGE the best-scoring reference counts). ``field=`` scores one text field of the output's
JSON object against the same field of the reference object (e.g. ``rouge_l(field="reply")``);
an output without it is scored as empty text.

ROUGE uses ``rouge_score`` with its default tokenizer, which lowercases and keeps only ``[a-z0-9]``
runs: text in other scripts tokenises to nothing and scores 0. Use chrF or BERTScore there.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import ConfigError
from tunegate.harness.metrics._common import (
    as_metric,
    check_lengths,
    output_texts,
    reference_texts,
    scored_name,
)
from tunegate.harness.metrics.base import Kind, Metric, MetricScores, register_metric

_SMOOTH_DEFAULTS: dict[str, float | None] = {"none": None, "floor": 0.1, "add-k": 1.0, "exp": None}
# sacrebleu's my_log floors log(0) at this value instead of -inf.
_LOG_ZERO = -9999999999.0
_ROUGE_NAMES = {"rouge1": "rouge_1", "rouge2": "rouge_2", "rougeL": "rouge_l", "rougeLsum": "rouge_lsum"}


def bleu_corpus_score(
    stats: np.ndarray,
    *,
    max_ngram_order: int = 4,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    effective_order: bool = False,
) -> np.ndarray:
    """BLEU from summed statistics ``[sys_len, ref_len, correct_1..N, total_1..N]`` on the last axis.

    Vectorised ``sacrebleu.metrics.BLEU.compute_bleu``: shape ``(..., 2 + 2N)`` -> ``(...)``.
    """
    s = np.asarray(stats, dtype=np.float64)
    n = max_ngram_order
    if s.shape[-1] != 2 + 2 * n:
        raise ValueError(f"BLEU statistics need {2 + 2 * n} columns for order {n}, got shape {s.shape}")
    if smooth_method not in _SMOOTH_DEFAULTS:
        raise ValueError(f"unknown smooth_method {smooth_method!r}; use one of {sorted(_SMOOTH_DEFAULTS)}")
    default = _SMOOTH_DEFAULTS[smooth_method]
    k = float(smooth_value if smooth_value is not None else default or 0.0)
    sys_len, ref_len = s[..., 0], s[..., 1]
    correct, total = s[..., 2 : 2 + n].copy(), s[..., 2 + n : 2 + 2 * n].copy()
    any_correct = (correct != 0).any(axis=-1)  # sacrebleu checks this before add-k smoothing
    if smooth_method == "add-k":
        correct[..., 1:] += k
        total[..., 1:] += k
    # sacrebleu stops at the first order with no hypothesis n-grams; later precisions stay 0.
    reached = np.cumprod(total > 0, axis=-1).astype(bool)
    zero = (correct == 0) & reached
    safe_total = np.where(total > 0, total, 1.0)
    if smooth_method == "exp":
        # mteval's smoothing halves the pseudo-count at every zero-match order reached so far.
        zero_prec = 100.0 / (2.0 ** np.cumsum(zero, axis=-1) * safe_total)
    elif smooth_method == "floor":
        zero_prec = 100.0 * k / safe_total
    else:
        zero_prec = np.zeros_like(total)
    prec = np.where(zero, zero_prec, 100.0 * correct / safe_total)
    prec = np.where(reached, prec, 0.0)
    log_prec = np.where(prec > 0, np.log(np.where(prec > 0, prec, 1.0)), _LOG_ZERO)
    if effective_order:
        n_reached = reached.sum(axis=-1)
        eff = np.where(n_reached > 0, n_reached, n).astype(np.float64)
    else:
        eff = np.full(sys_len.shape, float(n))
    # Summed order by order, as sacrebleu's Python sum() does.
    log_sum = np.zeros(sys_len.shape)
    for j in range(n):
        log_sum = log_sum + np.where(j < eff, log_prec[..., j], 0.0)
    safe_sys = np.where(sys_len > 0, sys_len, 1.0)
    bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / safe_sys), 0.0), 1.0)
    return np.where(any_correct, bp * np.exp(log_sum / eff), 0.0)


def chrf_corpus_score(
    stats: np.ndarray,
    *,
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    eps_smoothing: bool = False,
) -> np.ndarray:
    """chrF from summed statistics ``[hyp, ref, match]`` per order on the last axis.

    Vectorised ``sacrebleu.metrics.CHRF._compute_f_score``: shape ``(..., 3 * order)`` -> ``(...)``.
    """
    s = np.asarray(stats, dtype=np.float64)
    order = char_order + word_order
    if s.shape[-1] != 3 * order:
        raise ValueError(f"chrF statistics need {3 * order} columns, got shape {s.shape}")
    eps = 1e-16
    factor = float(beta**2)
    shape = s.shape[:-1]
    score, avg_prec, avg_rec = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    effective = np.zeros(shape)
    for i in range(order):
        n_hyp, n_ref, n_match = s[..., 3 * i], s[..., 3 * i + 1], s[..., 3 * i + 2]
        prec = np.where(n_hyp > 0, n_match / np.where(n_hyp > 0, n_hyp, 1.0), eps)
        rec = np.where(n_ref > 0, n_match / np.where(n_ref > 0, n_ref, 1.0), eps)
        denom = factor * prec + rec
        score = score + np.where(denom > 0, (1 + factor) * prec * rec / np.where(denom > 0, denom, 1.0), eps)
        valid = (n_hyp > 0) & (n_ref > 0)
        avg_prec = avg_prec + np.where(valid, prec, 0.0)
        avg_rec = avg_rec + np.where(valid, rec, 0.0)
        effective = effective + valid
    if eps_smoothing:
        return 100 * score / order
    safe_eff = np.where(effective > 0, effective, 1.0)
    avg_prec = np.where(effective > 0, avg_prec / safe_eff, 0.0)
    avg_rec = np.where(effective > 0, avg_rec / safe_eff, 0.0)
    nonzero = (avg_prec + avg_rec) != 0
    f = (1 + factor) * avg_prec * avg_rec
    f = f / np.where(nonzero, factor * avg_prec + avg_rec, 1.0)
    return np.where(nonzero, 100 * f, 0.0)


def _reference_streams(refs: list[list[str]]) -> list[list[str | None]]:
    """Per-item reference lists -> sacrebleu's reference streams (None pads missing ones)."""
    width = max(len(alts) for alts in refs)
    return [[alts[j] if j < len(alts) else None for alts in refs] for j in range(width)]


def _corpus_stats(metric: Any, hyps: list[str], refs: list[list[str]], k: int) -> np.ndarray:
    if not hyps:
        return np.zeros((0, k))
    rows = metric._extract_corpus_statistics(hyps, _reference_streams(refs))
    return np.asarray(rows, dtype=np.float64).reshape(len(hyps), k)


@dataclass(frozen=True)
class Bleu:
    """Corpus BLEU (sacrebleu's defaults: 13a tokenizer, exp smoothing, 4-grams)."""

    field: str | None = None
    tokenize: str = "13a"
    lowercase: bool = False
    smooth_method: str = "exp"
    smooth_value: float | None = None
    max_ngram_order: int = 4
    effective_order: bool = False
    name: str = ""
    kind: ClassVar[Kind] = "corpus"
    higher_is_better: ClassVar[bool] = True
    worst_score: ClassVar[float] = 0.0

    def __post_init__(self) -> None:
        from sacrebleu.metrics.bleu import BLEU

        if self.tokenize not in BLEU.TOKENIZERS:
            raise ConfigError(
                f"unknown BLEU tokenize={self.tokenize!r}; use one of {sorted(BLEU.TOKENIZERS)}"
            )
        if self.smooth_method not in _SMOOTH_DEFAULTS:
            raise ConfigError(
                f"unknown BLEU smooth_method={self.smooth_method!r}; use one of {sorted(_SMOOTH_DEFAULTS)}"
            )
        if self.max_ngram_order < 1:
            raise ConfigError(f"BLEU max_ngram_order must be >= 1, got {self.max_ngram_order}")
        if not self.name:
            object.__setattr__(self, "name", scored_name("bleu", self.field))

    def corpus_fn(self, *, effective_order: bool | None = None) -> functools.partial[np.ndarray]:
        return functools.partial(
            bleu_corpus_score,
            max_ngram_order=self.max_ngram_order,
            smooth_method=self.smooth_method,
            smooth_value=self.smooth_value,
            effective_order=self.effective_order if effective_order is None else effective_order,
        )

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        from sacrebleu.metrics.bleu import BLEU

        check_lengths(self.name, items, outputs)
        refs = reference_texts(self.name, items, self.field)
        bleu = BLEU(
            lowercase=self.lowercase,
            tokenize=self.tokenize,
            smooth_method=self.smooth_method,
            smooth_value=self.smooth_value,
            max_ngram_order=self.max_ngram_order,
            effective_order=self.effective_order,
        )
        stats = _corpus_stats(bleu, output_texts(outputs, self.field), refs, 2 + 2 * self.max_ngram_order)
        extra = {"signature": bleu.get_signature().format()} if len(stats) else {}
        return MetricScores(
            values=self.corpus_fn(effective_order=True)(stats),
            stats=stats,
            corpus=self.corpus_fn(),
            extra=extra,
        )

    def describe(self) -> dict[str, Any]:
        import sacrebleu

        return {
            "metric": "bleu",
            "field": self.field,
            "tokenize": self.tokenize,
            "lowercase": self.lowercase,
            "smooth_method": self.smooth_method,
            "smooth_value": self.smooth_value,
            "max_ngram_order": self.max_ngram_order,
            "effective_order": self.effective_order,
            "scale": "0-100",
            "sacrebleu": sacrebleu.__version__,
        }


@dataclass(frozen=True)
class Chrf:
    """Corpus chrF (chrF++ with ``word_order=2``), sacrebleu's defaults."""

    field: str | None = None
    char_order: int = 6
    word_order: int = 0
    beta: int = 2
    lowercase: bool = False
    whitespace: bool = False
    eps_smoothing: bool = False
    name: str = ""
    kind: ClassVar[Kind] = "corpus"
    higher_is_better: ClassVar[bool] = True
    worst_score: ClassVar[float] = 0.0

    def __post_init__(self) -> None:
        if self.char_order < 1 or self.word_order < 0 or self.beta < 1:
            raise ConfigError(
                f"chrF needs char_order >= 1, word_order >= 0 and beta >= 1; got char_order={self.char_order}, "
                f"word_order={self.word_order}, beta={self.beta}"
            )
        if not self.name:
            object.__setattr__(self, "name", scored_name("chrf" + "+" * self.word_order, self.field))

    def corpus_fn(self) -> functools.partial[np.ndarray]:
        return functools.partial(
            chrf_corpus_score,
            char_order=self.char_order,
            word_order=self.word_order,
            beta=self.beta,
            eps_smoothing=self.eps_smoothing,
        )

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        from sacrebleu.metrics.chrf import CHRF

        check_lengths(self.name, items, outputs)
        refs = reference_texts(self.name, items, self.field)
        chrf = CHRF(
            char_order=self.char_order,
            word_order=self.word_order,
            beta=self.beta,
            lowercase=self.lowercase,
            whitespace=self.whitespace,
            eps_smoothing=self.eps_smoothing,
        )
        k = 3 * (self.char_order + self.word_order)
        stats = _corpus_stats(chrf, output_texts(outputs, self.field), refs, k)
        extra = {"signature": chrf.get_signature().format()} if len(stats) else {}
        corpus = self.corpus_fn()
        return MetricScores(values=corpus(stats), stats=stats, corpus=corpus, extra=extra)

    def describe(self) -> dict[str, Any]:
        import sacrebleu

        return {
            "metric": "chrf",
            "field": self.field,
            "char_order": self.char_order,
            "word_order": self.word_order,
            "beta": self.beta,
            "lowercase": self.lowercase,
            "whitespace": self.whitespace,
            "eps_smoothing": self.eps_smoothing,
            "scale": "0-100",
            "sacrebleu": sacrebleu.__version__,
        }


@dataclass(frozen=True)
class Rouge:
    """Per-item ROUGE F-measure (rouge-score); ``variant`` is rouge1, rouge2, rougeL or rougeLsum."""

    variant: str = "rougeL"
    field: str | None = None
    use_stemmer: bool = False
    name: str = ""
    kind: ClassVar[Kind] = "continuous"
    higher_is_better: ClassVar[bool] = True
    worst_score: ClassVar[float] = 0.0  # F-measure in [0, 1]

    def __post_init__(self) -> None:
        if self.variant not in _ROUGE_NAMES:
            raise ConfigError(f"unknown ROUGE variant {self.variant!r}; use one of {sorted(_ROUGE_NAMES)}")
        if not self.name:
            object.__setattr__(self, "name", scored_name(_ROUGE_NAMES[self.variant], self.field))

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        from rouge_score import rouge_scorer

        check_lengths(self.name, items, outputs)
        refs = reference_texts(self.name, items, self.field)
        scorer = rouge_scorer.RougeScorer([self.variant], use_stemmer=self.use_stemmer)
        values = np.empty(len(items))
        for i, (hyp, alts) in enumerate(zip(output_texts(outputs, self.field), refs, strict=True)):
            result = scorer.score(alts[0], hyp) if len(alts) == 1 else scorer.score_multi(alts, hyp)
            values[i] = result[self.variant].fmeasure
        return MetricScores(values=values)

    def describe(self) -> dict[str, Any]:
        return {
            "metric": _ROUGE_NAMES[self.variant],
            "variant": self.variant,
            "measure": "fmeasure",
            "field": self.field,
            "use_stemmer": self.use_stemmer,
            "tokenizer": "rouge_score default (lowercase, [a-z0-9]+)",
        }


@register_metric("bleu")
def bleu(
    *,
    field: str | None = None,
    tokenize: str = "13a",
    lowercase: bool = False,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    max_ngram_order: int = 4,
    effective_order: bool = False,
) -> Metric:
    """Corpus BLEU on sacrebleu's 0-100 scale; the arguments are sacrebleu's ``BLEU`` options."""
    return as_metric(
        Bleu(
            field=field,
            tokenize=tokenize,
            lowercase=lowercase,
            smooth_method=smooth_method,
            smooth_value=smooth_value,
            max_ngram_order=max_ngram_order,
            effective_order=effective_order,
        )
    )


@register_metric("chrf")
def chrf(
    *,
    field: str | None = None,
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    lowercase: bool = False,
    whitespace: bool = False,
    eps_smoothing: bool = False,
) -> Metric:
    """Corpus chrF on sacrebleu's 0-100 scale; ``word_order=2`` gives chrF++ (named ``chrf++``)."""
    return as_metric(
        Chrf(
            field=field,
            char_order=char_order,
            word_order=word_order,
            beta=beta,
            lowercase=lowercase,
            whitespace=whitespace,
            eps_smoothing=eps_smoothing,
        )
    )


@register_metric("rouge_1")
def rouge_1(*, field: str | None = None, use_stemmer: bool = False) -> Metric:
    """ROUGE-1 F-measure per item (0-1)."""
    return as_metric(Rouge("rouge1", field=field, use_stemmer=use_stemmer))


@register_metric("rouge_2")
def rouge_2(*, field: str | None = None, use_stemmer: bool = False) -> Metric:
    """ROUGE-2 F-measure per item (0-1)."""
    return as_metric(Rouge("rouge2", field=field, use_stemmer=use_stemmer))


@register_metric("rouge_l")
def rouge_l(*, field: str | None = None, use_stemmer: bool = False) -> Metric:
    """ROUGE-L (longest common subsequence) F-measure per item (0-1)."""
    return as_metric(Rouge("rougeL", field=field, use_stemmer=use_stemmer))


@register_metric("rouge_lsum")
def rouge_lsum(*, field: str | None = None, use_stemmer: bool = False) -> Metric:
    """ROUGE-Lsum F-measure per item (0-1): LCS over sentences split on newlines."""
    return as_metric(Rouge("rougeLsum", field=field, use_stemmer=use_stemmer))
