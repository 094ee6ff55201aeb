"""The LoRA/QLoRA trainer: ``tunegate train CONFIG.yaml`` writes an adapter + ``tunegate.json``."""

from __future__ import annotations

from tunegate.harness.manifest import read_manifest
from tunegate.trainers.config import TrainConfig, load_config
from tunegate.trainers.manifest import adapter_is_current, inputs_fingerprint

__all__ = ["TrainConfig", "adapter_is_current", "inputs_fingerprint", "load_config", "read_manifest"]
