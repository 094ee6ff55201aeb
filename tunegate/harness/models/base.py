"""The backend protocol every model runner implements, and the plain values it exchanges."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tunegate.harness.data import Message
from tunegate.harness.errors import ConfigError
from tunegate.harness.registry import Registry


@dataclass(frozen=True)
class GenerationParams:
    """Greedy decoding settings. Part of every fingerprint and cache key."""

    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()

    def key(self) -> str:
        return f"greedy;max_new_tokens={self.max_new_tokens};stop={list(self.stop)!r}"


@dataclass(frozen=True)
class GenerationRequest:
    """One chat to complete. ``id`` is the eval item id (for progress and error messages)."""

    id: str
    messages: tuple[Message, ...]
    params: GenerationParams = GenerationParams()


@dataclass(frozen=True)
class Completion:
    text: str
    n_tokens: int = 0
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    cached: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """What to run: a base (dir, Hub id, .gguf path or alias), an optional adapter, a backend."""

    base: str
    adapter: str | None = None
    backend: str = "hf"
    dtype: str = "auto"  # auto | bf16 | fp32 | fp16
    quantization: str = "none"  # none | nf4
    label: str = ""
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return self.base if self.adapter is None else f"{self.base}+{self.adapter}"


@runtime_checkable
class Backend(Protocol):
    """A loaded model that answers chats. Instances are created by a factory in ``BACKENDS``."""

    spec: ModelSpec

    @property
    def fingerprint(self) -> str:
        """Hash of weights, adapter, chat template, dtype: equal fingerprints -> equal outputs."""
        ...

    def render(self, messages: Sequence[Message]) -> str:
        """The exact prompt text the model sees (cache key component)."""
        ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        """Greedy completions, in request order."""
        ...

    def describe(self) -> dict[str, Any]:
        """Provenance for results.json: resolved paths, dtype, device, library versions."""
        ...


# -- capabilities: what a backend can do beyond generate(); declared by implementing the method --


@runtime_checkable
class SupportsDrift(Protocol):
    """Teacher-forced next-token distributions (KL drift, perplexity shift)."""

    def scoring_model(self) -> AbstractContextManager[tuple[Any, Any, bool]]:
        """``(torch model with this spec's adapter active, tokenizer, is_adapter)``, under the backend's lock.

        With ``is_adapter`` the base distribution is the same model under ``disable_adapter()``.
        """
        ...


@runtime_checkable
class SupportsAdapterProbe(Protocol):
    """Can tell whether a candidate's adapter changes the base's logits at all."""

    def adapter_effect(self, messages: Sequence[Sequence[Message]]) -> dict[str, Any]: ...


CAPABILITIES: dict[str, tuple[type, str]] = {
    "drift": (SupportsDrift, "KL drift and perplexity shift (teacher-forced next-token distributions)"),
    "adapter_probe": (SupportsAdapterProbe, "the adapter-effect probe (logits with and without the adapter)"),
}


def require(backend: object, capability: str, backend_name: str) -> Any:
    """``backend`` if it supports ``capability``, else ConfigError naming the backend and the feature."""
    protocol, feature = CAPABILITIES[capability]
    if isinstance(backend, protocol):
        return backend
    able = ", ".join(sorted(name for name in BACKENDS.names() if name == "hf")) or "hf"
    raise ConfigError(
        f"the {backend_name!r} backend does not support {feature}; run this check with --backend {able}, "
        "or leave it out for this backend"
    )


def supports(backend: object, capability: str) -> bool:
    return isinstance(backend, CAPABILITIES[capability][0])


class BackendFactory(Protocol):
    def __call__(self, spec: ModelSpec, *, cache_dir: str) -> Backend: ...


BACKENDS: Registry[BackendFactory] = Registry("backend")
