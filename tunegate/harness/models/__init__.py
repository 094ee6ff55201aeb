"""Model backends. Importing this package registers the built-in ones (hf, openai, vllm)."""

from __future__ import annotations

import importlib

from tunegate.harness.models.base import (
    BACKENDS,
    Backend,
    Completion,
    GenerationParams,
    GenerationRequest,
    ModelSpec,
)

for _name in ("hf", "openai_compat", "vllm"):
    try:
        importlib.import_module(f"tunegate.harness.models.{_name}")
    except ModuleNotFoundError as _exc:  # a module not shipped yet; SDKs themselves import lazily
        if _exc.name != f"tunegate.harness.models.{_name}":
            raise

__all__ = ["BACKENDS", "Backend", "Completion", "GenerationParams", "GenerationRequest", "ModelSpec"]
