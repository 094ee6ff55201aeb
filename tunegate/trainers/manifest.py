"""The adapter's provenance manifest (``tunegate.json``), and the inputs fingerprint that lets
``tunegate train --skip-if-current`` skip a training whose inputs have not changed.

Each data file is recorded four ways, so the manifest travels with a copied adapter::

    "data": {"train": {"path": "suites/data/support/train.jsonl",      # as given (format 1)
                       "absolute": "/home/me/proj/suites/data/support/train.jsonl",
                       "project_path": "suites/data/support/train.jsonl",  # relative to the root
                       "sha256": "..."}}
    "project_root": "/home/me/proj"

``project_path`` is relative to the project root at training time (the git work tree, else the
current directory); it is None for a file outside the project. Readers
(``tunegate.harness.leakage.sources.training_files_from_manifest``) try it against the current project
root, and verify the sha256 of whatever they find. Format-1 manifests (no ``project_path``) still
resolve.
"""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from tunegate.harness.errors import ConfigError
from tunegate.harness.fingerprint import (
    HashMemo,
    content_fingerprint,
    digest,
    path_in_project,
    project_root,
    sha256_file,
)
from tunegate.harness.manifest import FORMAT_VERSION, read_manifest
from tunegate.harness.models.resolve import default_cache_dir, resolve_base
from tunegate.trainers.config import TrainConfig

LIBRARIES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "tunegate")
# Bump when the training code changes in a way that changes the adapter for the same inputs.
TRAINER_VERSION = "1"


def base_fingerprint(model_dir: Path) -> str:
    """The base's content fingerprint (``tunegate.harness.fingerprint.content_fingerprint``)."""
    return content_fingerprint(model_dir, HashMemo(default_cache_dir()))


def data_entry(path: str | Path, root: Path | None = None) -> dict[str, str | None]:
    """How one data file is recorded: as given, absolute, relative to the project, its sha256."""
    root = root or project_root()
    return {
        "path": str(path),
        "absolute": str(Path(path).resolve()),
        "project_path": path_in_project(Path(path), root),
        "sha256": sha256_file(Path(path)),
    }


def data_files(cfg: TrainConfig, root: Path | None = None) -> dict[str, dict[str, str | None]]:
    root = root or project_root()
    out = {"train": data_entry(cfg.train, root)}
    if cfg.dev:
        out["dev"] = data_entry(cfg.dev, root)
    return out


def inputs_fingerprint(cfg: TrainConfig, model_dir: Path | None = None) -> str:
    model_dir = model_dir or resolve_base(cfg.base)
    resolved = cfg.model_dump(exclude={"output", "train", "dev", "eval_suites"})
    shas = {k: sha256_file(Path(p)) for k, p in (("train", cfg.train), ("dev", cfg.dev)) if p}
    if cfg.replay is None:  # replay (tunegate/trainers/replay.py): the pool by content, not by path
        resolved.pop("replay", None)
    else:
        resolved["replay"] = cfg.replay.model_dump(exclude={"pool", "file"})
        shas["replay_pool"] = sha256_file(Path(cfg.replay.pool))
    return digest(
        {"base": base_fingerprint(model_dir), "data": shas, "config": resolved, "trainer": TRAINER_VERSION}
    )


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _git_commit() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def build_manifest(
    cfg: TrainConfig, model_dir: Path, stats: dict[str, Any], config_path: str
) -> dict[str, Any]:
    root = project_root()
    return {
        "format_version": FORMAT_VERSION,
        "kind": "qlora" if cfg.quantization == "nf4" else "lora",
        "base": {"spec": cfg.base, "path": str(model_dir), "fingerprint": base_fingerprint(model_dir)},
        "data": data_files(cfg, root),
        "project_root": str(root),
        "config": cfg.model_dump(),
        "config_path": config_path,
        "inputs_fingerprint": inputs_fingerprint(cfg, model_dir),
        "trainer_version": TRAINER_VERSION,
        "versions": _versions(),
        "git_commit": _git_commit(),
        **stats,
    }


def adapter_is_current(cfg: TrainConfig) -> bool:
    """True when ``cfg.output`` holds an adapter trained from exactly these inputs (an adapter
    whose manifest cannot be read is not current: it is trained again)."""
    if not (Path(cfg.output) / "adapter_model.safetensors").is_file():
        return False
    try:
        manifest = read_manifest(cfg.output)
    except ConfigError:
        return False
    return manifest is not None and manifest.inputs_fingerprint == inputs_fingerprint(cfg)
