"""The adapter's provenance manifest (``tunegate.json`` beside the adapter's weights): its name, its
typed shape, the one reader and the one writer.

The trainer (``tunegate.trainers.manifest.build_manifest``) says what goes in it; the base check
(``models.adapters``), the leakage check (``leakage.sources``), the selection ledger and the
record's provenance read it here. Fields that a reader does not name are kept as written (older and
newer trainers add their own); a field it names is validated, and a problem names the file and the
field::

    manifest = read_manifest("adapters/support")   # None when the adapter has none
    manifest.base.fingerprint if manifest and manifest.base else None
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tunegate.harness.atomic import write_atomic
from tunegate.harness.errors import ConfigError
from tunegate.harness.validation import pydantic_problems

MANIFEST = "tunegate.json"
"""The manifest's file name in an adapter dir."""
FORMAT_VERSION = 2


class _Entry(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class BaseEntry(_Entry):
    """The base the adapter was trained on: as named, as resolved, its content fingerprint."""

    spec: str | None = None
    path: str | None = None
    fingerprint: str | None = None


class AdapterManifest(_Entry):
    """What the trainer recorded. ``data`` holds one entry a split (``train``, ``dev``), each
    checked by the leakage check, which names what is missing from it."""

    format_version: int = 1
    kind: str | None = None  # how the adapter was trained: "lora", "qlora"
    base: BaseEntry | None = None
    data: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    inputs_fingerprint: str | None = None

    @property
    def trained_nf4(self) -> bool:
        """Trained as QLoRA, on the NF4-quantized base."""
        return self.kind == "qlora" or (self.config or {}).get("quantization") == "nf4"

    def to_json(self) -> dict[str, Any]:
        """The manifest as written (fields this code does not name included)."""
        return self.model_dump(mode="json", exclude_unset=True)


def manifest_path(adapter_dir: str | Path) -> Path:
    return Path(adapter_dir) / MANIFEST


def read_manifest(adapter_dir: str | Path) -> AdapterManifest | None:
    """The manifest of ``adapter_dir``; None when there is none. One that cannot be read or does
    not have the manifest's shape is a ``ConfigError`` naming the file (and the field)."""
    path = manifest_path(adapter_dir)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: cannot read the training manifest: not a readable JSON object ({exc}); restore it from the training run"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the training manifest must be a JSON object, got {type(data).__name__}")
    try:
        return AdapterManifest.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("; ".join(pydantic_problems(exc, str(path)))) from None


def write_manifest(folder: str | Path, manifest: Mapping[str, Any] | AdapterManifest) -> Path:
    """Write ``manifest`` as ``folder/tunegate.json``, atomically."""
    data = manifest.to_json() if isinstance(manifest, AdapterManifest) else dict(manifest)
    return write_atomic(manifest_path(folder), json.dumps(data, indent=1, ensure_ascii=False) + "\n")


__all__ = ["FORMAT_VERSION", "MANIFEST", "AdapterManifest", "BaseEntry", "manifest_path", "read_manifest", "write_manifest"]
