"""Forgetting measured on general text: KL drift and perplexity shift of an adapter vs its base.

Both come from one teacher-forced pass per document (shared/STATS.md section 4):

- KL drift: per token, KL(p_base || p_cand) = sum_v p_base(v) (log p_base(v) - log p_cand(v)),
  from fp32 log-softmax whatever the weights' dtype; averaged per document, then the mean over
  documents with a bootstrap interval over documents, and the worst documents.
- Perplexity shift: per document, the log-likelihood per UTF-8 byte of the candidate minus that of
  the base (bytes, not tokens, so the figure does not depend on the tokenizer); paired, with a
  bootstrap interval. Negative means the candidate finds general text less likely.

The base distribution comes from the same weights with the adapter switched off
(``PeftModel.disable_adapter()``), so nothing is loaded twice. For a QLoRA adapter on a 4-bit
(bitsandbytes NF4) base this compares against that same 4-bit base, which isolates the adapter's
effect from quantisation; to also report against the full-precision base, call again with
``reference_model=`` a full-precision copy (it must share the tokenizer).

Each document is scored after a context token (BOS, else EOS, when the tokenizer has one) so
that its first token is predicted too; documents are truncated to ``max_length`` tokens and the
bytes counted are those of the text the kept tokens cover.

The KL drift gate (``drift_gate``) passes when the upper bound of the interval of the mean KL is
at most ``max_kl`` nats/token (``DEFAULT_MAX_KL`` unless the suite declares its own): the
candidate must be shown to stay below the limit, so a run with too few documents to say cannot
pass by accident. See ``DEFAULT_MAX_KL`` for why the default is 1.0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.harness.errors import ConfigError, DataError, GateFailure

DRIFT_TEXTS = Path(__file__).resolve().parent / "data_assets" / "drift_texts.jsonl"
_LOGIT_CHUNK = 1 << 25  # elements of one fp32 log-softmax block (128 MiB)

DEFAULT_MAX_KL = 1.0
"""Default KL drift limit, in nats per token of KL(base || candidate) on the built-in texts.

Measured on the built-in general texts with SmolLM2-135M-Instruct: the demo adapter (a LoRA
trained on the support task only, which the general suites show lost some factual recall) drifts
0.63 nats/token; an adapter that broke the model (large random LoRA B matrices)
drifts about 2.1. 1.0 sits between them: about 1.6 times what learning one narrow task cost, under
half of what breaking the model costs, and near their geometric mean (1.15) rounded down to the
side of caution. In plain terms, at 1.0 nats/token the candidate needs on average 1.44 extra bits
to encode each token of text the base writes: its next-token beliefs about ordinary English have
moved a long way. The limit catches a destroyed or badly over-trained adapter; smaller losses of
a particular skill are what the general-suite non-inferiority gates are for. The figure depends
on the base model's vocabulary and on the texts, so a suite on another base or other texts
should measure a known-good and a known-bad adapter and declare its own ``max_kl``.
"""


@dataclass(frozen=True)
class DocDrift:
    """One document's drift (for the list of worst documents)."""

    index: int
    excerpt: str
    kl: float
    n_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "excerpt": self.excerpt, "kl": _num(self.kl), "n_tokens": self.n_tokens}


@dataclass(frozen=True)
class DriftReport:
    """KL drift and perplexity shift over a set of general documents (per-document values kept)."""

    kl_per_doc: tuple[float, ...]
    """Mean per-token KL(p_base || p_cand) of each document, in nats."""
    ll_base: tuple[float, ...]
    """Total log-likelihood (nats) of each document under the base."""
    ll_candidate: tuple[float, ...]
    tokens: tuple[int, ...]
    """Scored tokens per document."""
    n_bytes: tuple[int, ...]
    """UTF-8 bytes of the text each document's scored tokens cover."""
    worst: tuple[DocDrift, ...]
    kl_ci: tuple[float, float]
    ll_shift_ci: tuple[float, float]
    ci_level: float = 0.95
    n_resamples: int = 10_000
    seed: int = 0
    reference: str = "disable_adapter"
    max_length: int = 512
    n_truncated: int = 0

    @property
    def n_docs(self) -> int:
        return len(self.kl_per_doc)

    @property
    def n_tokens(self) -> int:
        return int(sum(self.tokens))

    @property
    def kl_mean(self) -> float:
        return float(np.mean(self.kl_per_doc))

    @property
    def ll_shift_per_doc(self) -> np.ndarray:
        """Candidate minus base log-likelihood per byte, per document (nats/byte)."""
        b = np.asarray(self.n_bytes, dtype=np.float64)
        return (np.asarray(self.ll_candidate) - np.asarray(self.ll_base)) / b

    @property
    def ll_shift_mean(self) -> float:
        return float(self.ll_shift_per_doc.mean())

    @property
    def base_bits_per_byte(self) -> float:
        return -float(np.sum(self.ll_base)) / float(np.sum(self.n_bytes)) / math.log(2)

    @property
    def candidate_bits_per_byte(self) -> float:
        return -float(np.sum(self.ll_candidate)) / float(np.sum(self.n_bytes)) / math.log(2)

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Bootstrap interval of the mean KL over documents (recomputed at the asked level)."""
        return bootstrap_mean_ci(np.asarray(self.kl_per_doc), confidence_level, self.n_resamples, self.seed)

    def to_dict(self) -> dict[str, Any]:
        """The ``kl`` and ``perplexity`` parts of results.json's ``forgetting`` section."""
        shift_lo, shift_hi = self.ll_shift_ci
        return {
            "kl": {
                "mean": _num(self.kl_mean),
                "ci_low": _num(self.kl_ci[0]),
                "ci_high": _num(self.kl_ci[1]),
                "ci_level": self.ci_level,
                "unit": "nats per token, KL(base || candidate)",
                "n_docs": self.n_docs,
                "n_tokens": self.n_tokens,
                "per_doc": [_num(v) for v in self.kl_per_doc],
                "worst": [d.to_dict() for d in self.worst],
            },
            "perplexity": {
                "base_bits_per_byte": _num(self.base_bits_per_byte),
                "candidate_bits_per_byte": _num(self.candidate_bits_per_byte),
                "delta_ll_per_byte": _num(self.ll_shift_mean),
                "ci_low": _num(shift_lo),
                "ci_high": _num(shift_hi),
                "ci_level": self.ci_level,
                "delta_bits_per_byte": _num(-self.ll_shift_mean / math.log(2)),
                "unit": "candidate minus base log-likelihood per UTF-8 byte (nats); negative = worse",
                "per_doc": [_num(v) for v in self.ll_shift_per_doc.tolist()],
            },
            "settings": {
                "reference": self.reference,
                "max_length": self.max_length,
                "n_truncated": self.n_truncated,
                "n_resamples": self.n_resamples,
                "seed": self.seed,
            },
        }


def drift_gate(report: DriftReport, *, max_kl: float = DEFAULT_MAX_KL) -> tuple[bool, str]:
    """(passed, message): passed when the interval's upper bound of the mean KL is <= ``max_kl``.

    The upper bound, not the mean, decides: the gate asks for evidence that the drift is below the
    limit (a mean just under it with a wide interval does not pass). An empty or non-finite
    measurement fails.

    >>> ok, message = drift_gate(report, max_kl=DEFAULT_MAX_KL)  # doctest: +SKIP
    """
    if isinstance(max_kl, bool) or not isinstance(max_kl, (int, float)) or not math.isfinite(max_kl) or max_kl <= 0:
        raise ConfigError(f"max_kl must be a positive number of nats per token, got {max_kl!r}")
    if report.n_docs == 0:
        return False, "KL drift: no documents were scored, so the drift limit cannot be shown to hold"
    mean = report.kl_mean
    low, high = report.kl_ci
    level = f"{report.ci_level:.0%}"
    figures = (
        f"KL drift {mean:.4f} nats/token ({level} CI [{low:.4f}, {high:.4f}], {report.n_docs} documents)"
    )
    if not (math.isfinite(mean) and math.isfinite(high)):
        return False, f"{figures}: not a finite measurement, so the limit {max_kl:g} cannot be shown to hold"
    if high <= max_kl:
        return True, f"{figures} is within the limit of {max_kl:g} nats/token"
    if low > max_kl:
        why = "the whole interval is above it: the adapter moved the base's next-token distribution too far"
    else:
        why = "the interval reaches above it: the drift is not shown to stay below the limit"
    return False, f"{figures} exceeds the limit of {max_kl:g} nats/token; {why}"


def assert_drift_within(report: DriftReport, *, max_kl: float = DEFAULT_MAX_KL) -> DriftReport:
    """Raise GateFailure (a test failure under pytest) unless ``drift_gate`` passes; else the report."""
    ok, message = drift_gate(report, max_kl=max_kl)
    if not ok:
        raise GateFailure(message)
    return report


def drift_gate_record(report: DriftReport, *, max_kl: float = DEFAULT_MAX_KL) -> dict[str, Any]:
    """The gate's part of results.json's ``forgetting`` section: limit, verdict and message."""
    ok, message = drift_gate(report, max_kl=max_kl)
    return {
        "max_kl": max_kl,
        "statistic": f"upper bound of the {report.ci_level:.0%} bootstrap interval of the mean KL",
        "passed": ok,
        "status": "pass" if ok else "fail",
        "message": message,
    }


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 8)


def bootstrap_mean_ci(x: np.ndarray, level: float, n_resamples: int, seed: int) -> tuple[float, float]:
    """BCa bootstrap interval of a mean; the exact value when the data cannot vary."""
    from scipy import stats

    x = np.asarray(x, dtype=np.float64)
    if not 0.0 < level < 1.0:
        raise ConfigError(f"confidence_level must be in (0, 1), got {level!r}")
    if len(x) == 0:
        return (math.nan, math.nan)
    if len(x) < 2 or float(np.ptp(x)) == 0.0:
        return (float(x.mean()), float(x.mean()))
    rng = np.random.default_rng(seed)
    for method in ("BCa", "percentile"):  # BCa can be undefined on degenerate-looking data
        res = stats.bootstrap(
            (x,),
            np.mean,
            n_resamples=n_resamples,
            confidence_level=level,
            method=method,
            rng=rng,
            vectorized=True,
        )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi):
            return (lo, hi)
    return (float(x.mean()), float(x.mean()))


@dataclass
class _Encoded:
    ids: list[int]
    n_bytes: int
    truncated: bool


def _encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[_Encoded]:
    context = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    room = max_length - (1 if context is not None else 0)
    out: list[_Encoded] = []
    for text in texts:
        enc = tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=bool(getattr(tokenizer, "is_fast", False))
        )
        ids = list(enc["input_ids"])
        truncated = len(ids) > room
        n_bytes = len(text.encode("utf-8"))
        if truncated:
            ids = ids[:room]
            if "offset_mapping" in enc:
                n_bytes = len(text[: enc["offset_mapping"][room - 1][1]].encode("utf-8"))
            else:  # slow tokenizer: approximate by the decoded kept tokens
                n_bytes = len(tokenizer.decode(ids).encode("utf-8"))
        if context is not None:
            ids = [int(context), *ids]
        out.append(_Encoded(ids, max(n_bytes, 1), truncated))
    return out


def kl_drift(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    max_length: int = 512,
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence_level: float = 0.95,
    reference_model: Any = None,
    n_worst: int = 5,
    excerpt_chars: int = 160,
) -> DriftReport:
    """KL drift and perplexity shift of a peft ``model`` (adapter on) vs its base (adapter off).

    >>> report = kl_drift(peft_model, tokenizer, default_drift_texts())  # doctest: +SKIP
    >>> report.kl_mean, report.confidence_interval(0.95)  # doctest: +SKIP
    """
    import torch

    texts = list(texts)
    if not texts:
        raise ConfigError("kl_drift needs at least one text; pass default_drift_texts() for the built-in set")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise ConfigError(f"kl_drift texts must be non-empty strings; bad at index(es) {bad[:10]}")
    if batch_size < 1 or max_length < 2:
        raise ConfigError(f"batch_size must be >= 1 and max_length >= 2, got {batch_size} and {max_length}")
    if reference_model is None and not hasattr(model, "disable_adapter"):
        raise ConfigError(
            f"kl_drift needs a peft model (one with disable_adapter()), got {type(model).__name__}; "
            "load the adapter with peft.PeftModel.from_pretrained, or pass reference_model="
        )
    encoded = _encode(tokenizer, texts, max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    n = len(texts)
    kl = np.zeros(n)
    ll_base = np.zeros(n)
    ll_cand = np.zeros(n)
    scored = np.zeros(n, dtype=np.int64)
    order = sorted(range(n), key=lambda i: len(encoded[i].ids))
    models = [model] + ([reference_model] if reference_model is not None else [])
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        with torch.inference_mode():
            for lo in range(0, n, batch_size):
                idx = order[lo : lo + batch_size]
                width = max(len(encoded[i].ids) for i in idx)
                ids = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    seq = encoded[i].ids
                    ids[row, : len(seq)] = torch.tensor(seq)
                    mask[row, : len(seq)] = 1
                ids, mask = ids.to(device), mask.to(device)
                cand_logits = model(input_ids=ids, attention_mask=mask).logits
                base_ctx: AbstractContextManager[Any] = (
                    nullcontext() if reference_model is not None else model.disable_adapter()
                )
                with base_ctx:
                    base_model = reference_model if reference_model is not None else model
                    base_logits = base_model(input_ids=ids, attention_mask=mask).logits
                for row, i in enumerate(idx):
                    length = len(encoded[i].ids)
                    kl_sum, lb, lc = _score_row(base_logits[row], cand_logits[row], ids[row], length)
                    scored[i] = length - 1
                    kl[i] = kl_sum / max(length - 1, 1)
                    ll_base[i], ll_cand[i] = lb, lc
                del cand_logits, base_logits
    finally:
        for m, flag in zip(models, was_training, strict=True):
            m.train(flag)
    n_bytes = np.array([e.n_bytes for e in encoded])
    shift = (ll_cand - ll_base) / n_bytes
    worst_idx = sorted(range(n), key=lambda i: (-kl[i], i))[: max(n_worst, 0)]
    worst = tuple(
        DocDrift(i, _excerpt(texts[i], excerpt_chars), float(kl[i]), int(scored[i])) for i in worst_idx
    )
    return DriftReport(
        kl_per_doc=tuple(float(v) for v in kl),
        ll_base=tuple(float(v) for v in ll_base),
        ll_candidate=tuple(float(v) for v in ll_cand),
        tokens=tuple(int(v) for v in scored),
        n_bytes=tuple(int(v) for v in n_bytes),
        worst=worst,
        kl_ci=bootstrap_mean_ci(kl, confidence_level, n_resamples, seed),
        ll_shift_ci=bootstrap_mean_ci(shift, confidence_level, n_resamples, seed),
        ci_level=confidence_level,
        n_resamples=n_resamples,
        seed=seed,
        reference="reference_model" if reference_model is not None else "disable_adapter",
        max_length=max_length,
        n_truncated=sum(e.truncated for e in encoded),
    )


def _score_row(base: Any, cand: Any, ids: Any, length: int) -> tuple[float, float, float]:
    """Summed token KL and the two log-likelihoods of one sequence, in fp32, in position chunks."""
    import torch

    vocab = base.shape[-1]
    step = max(1, _LOGIT_CHUNK // vocab)
    kl_sum = 0.0
    ll_b = 0.0
    ll_c = 0.0
    for s in range(0, length - 1, step):
        e = min(length - 1, s + step)
        lp_b = torch.log_softmax(base[s:e].float(), dim=-1)
        lp_c = torch.log_softmax(cand[s:e].float(), dim=-1)
        target = ids[s + 1 : e + 1].unsqueeze(-1)
        kl_sum += float((lp_b.exp() * (lp_b - lp_c)).sum())
        ll_b += float(lp_b.gather(-1, target).sum())
        ll_c += float(lp_c.gather(-1, target).sum())
    return kl_sum, ll_b, ll_c


def _excerpt(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def default_drift_texts(path: str | Path | None = None) -> list[str]:
    """The built-in general-English documents for KL drift (encyclopedic, how-to, dialogue, ...)."""
    source = Path(path) if path is not None else DRIFT_TEXTS
    problems: list[str] = []
    texts: list[str] = []
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(str(source), [f"{source}:0: cannot read the drift texts: {exc}"]) from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{source}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        text = obj.get("text") if isinstance(obj, dict) else None
        if not isinstance(text, str) or not text.strip():
            problems.append(f'{source}:{lineno}: expected an object with a non-empty "text" string')
            continue
        texts.append(text)
    if problems or not texts:
        raise DataError(str(source), problems or [f"{source}:1: no documents"])
    return texts
