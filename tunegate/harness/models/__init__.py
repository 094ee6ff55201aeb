"""Model backends. Importing this package registers the built-in ones (fake, hf, openai, vllm); each
module registers itself with ``register_backend`` as a plugin's backend would."""

from __future__ import annotations

from tunegate.harness.models import fake, hf, openai_compat, vllm  # noqa: F401  (registration)
from tunegate.harness.models.base import (
    BACKENDS,
    Backend,
    BackendInfo,
    Completion,
    GenerationParams,
    GenerationRequest,
    ModelSpec,
    backend_info,
    register_backend,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendInfo",
    "Completion",
    "GenerationParams",
    "GenerationRequest",
    "ModelSpec",
    "backend_info",
    "register_backend",
]
