"""The adapter's provenance manifest (``tunegate.json``), and the inputs fingerprint that lets
``tunegate train --skip-if-current`` skip a training whose inputs have not changed."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.fingerprint import HashMemo, digest, dir_digest, sha256_file
from harness.models.resolve import default_cache_dir, resolve_base
from trainers.config import TrainConfig

FORMAT_VERSION = 1
LIBRARIES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "tunegate")
# Bump when the training code changes in a way that changes the adapter for the same inputs.
TRAINER_VERSION = "1"


def base_fingerprint(model_dir: Path) -> str:
    return digest(dir_digest(model_dir, HashMemo(default_cache_dir())))


def data_files(cfg: TrainConfig) -> dict[str, dict[str, str]]:
    out = {
        "train": {
            "path": cfg.train,
            "absolute": str(Path(cfg.train).resolve()),
            "sha256": sha256_file(Path(cfg.train)),
        }
    }
    if cfg.dev:
        out["dev"] = {
            "path": cfg.dev,
            "absolute": str(Path(cfg.dev).resolve()),
            "sha256": sha256_file(Path(cfg.dev)),
        }
    return out


def inputs_fingerprint(cfg: TrainConfig, model_dir: Path | None = None) -> str:
    model_dir = model_dir or resolve_base(cfg.base)
    resolved = cfg.model_dump(exclude={"output", "train", "dev"})
    shas = {k: v["sha256"] for k, v in data_files(cfg).items()}
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
    return {
        "format_version": FORMAT_VERSION,
        "kind": "qlora" if cfg.quantization == "nf4" else "lora",
        "base": {"spec": cfg.base, "path": str(model_dir), "fingerprint": base_fingerprint(model_dir)},
        "data": data_files(cfg),
        "config": cfg.model_dump(),
        "config_path": config_path,
        "inputs_fingerprint": inputs_fingerprint(cfg, model_dir),
        "trainer_version": TRAINER_VERSION,
        "versions": _versions(),
        "git_commit": _git_commit(),
        **stats,
    }


def read_manifest(adapter_dir: str | Path) -> dict[str, Any] | None:
    path = Path(adapter_dir) / "tunegate.json"
    if not path.is_file() or not (Path(adapter_dir) / "adapter_model.safetensors").is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def adapter_is_current(cfg: TrainConfig) -> bool:
    """True when ``cfg.output`` holds an adapter trained from exactly these inputs."""
    manifest = read_manifest(cfg.output)
    return manifest is not None and manifest.get("inputs_fingerprint") == inputs_fingerprint(cfg)
