"""The models of a run: the base, each candidate and the reference, loaded on first use, and their labels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.harness.data import Suite
from tunegate.harness.errors import ConfigError
from tunegate.harness.manifest import read_manifest
from tunegate.harness.models.base import BACKENDS, Backend, ModelSpec


class AdapterHasNoEffect(UserWarning):
    """The candidate's logits equal the base's on a probe batch: the adapter changes nothing."""


def read_provenance(adapter: str | None) -> dict[str, Any] | None:
    """The adapter's manifest as written, for the record (``{"error": ...}`` when it cannot be read)."""
    if not adapter:
        return None
    try:
        manifest = read_manifest(adapter)
    except ConfigError as exc:
        return {"error": str(exc)}
    return None if manifest is None else manifest.to_json()


@dataclass
class ModelHandle:
    """A model of the run (the base or one candidate); loads its backend on first use."""

    label: str
    spec: ModelSpec
    cache_path: Path
    outputs: Callable[[ModelHandle, Suite], list[str]] | None = None
    _backend: Backend | None = None
    _content_fingerprint: str | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            factory = BACKENDS.get(self.spec.backend)
            self._backend = factory(self.spec, cache_dir=str(self.cache_path))
        return self._backend

    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def generate(self, suite: Suite) -> list[str]:
        """Greedy outputs for every item of ``suite`` (cached for the session and on disk)."""
        if self.outputs is None:
            raise RuntimeError(f"model {self.label!r} belongs to no run: it has no outputs store")
        return self.outputs(self, suite)

    @property
    def content_fingerprint(self) -> str | None:
        """Hash of the adapter (or full model) dir's files alone, hashed once per run; None
        without a local dir. Equal for byte-identical copies anywhere (``--stamp``, the ledger)."""
        if self._content_fingerprint is None and self.spec.adapter and Path(self.spec.adapter).is_dir():
            from tunegate.harness.fingerprint import HashMemo, content_fingerprint

            memo = HashMemo(self.cache_path)
            self._content_fingerprint = content_fingerprint(Path(self.spec.adapter), memo)
        return self._content_fingerprint

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "spec": {
                "base": self.spec.base,
                "adapter": self.spec.adapter,
                "backend": self.spec.backend,
                "dtype": self.spec.dtype,
                "quantization": self.spec.quantization,
            },
            "fingerprint": None,
            "content_fingerprint": self.content_fingerprint,
            "describe": None,
        }
        if self._backend is not None:
            out["fingerprint"] = self._backend.fingerprint
            out["describe"] = self._backend.describe()
        return out


def candidate_labels(candidates: Sequence[str]) -> list[str]:
    """Each candidate's label: its adapter dir's (or model's) name, made unique, never ``base``.

    A single candidate is labelled by its name too, so a report says which adapter it gated.
    """
    labels: list[str] = []
    for c in candidates:
        name = Path(c.rstrip("/")).name or c
        label, k = name, 2
        while label in labels or label == "base":
            label, k = f"{name}-{k}", k + 1
        labels.append(label)
    return labels


def reference_label(reference: str, candidates: Sequence[str]) -> str:
    """The reference's label: its dir's (or model's) name, never ``base`` nor a candidate's label.

    >>> reference_label("prod/support-v1", ["support-v2"]), reference_label("out/adapter", ["adapter"])
    ('support-v1', 'adapter-reference')
    """
    name = Path(reference.rstrip("/")).name or reference
    label = name if name not in (*candidates, "base") else f"{name}-reference"
    k = 2
    while label in candidates or label == "base":
        label, k = f"{name}-reference-{k}", k + 1
    return label
