"""The backend protocol every model runner implements, and the plain values it exchanges."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tunegate.harness.data import Message
from tunegate.harness.errors import ConfigError
from tunegate.harness.registry import Entry, Registry


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
    """One answer. ``n_tokens``: the tokens the model generated for it; ``prompt_tokens``: the
    prompt's tokens as the model saw them (None: not known, e.g. cached by an older tunegate);
    ``latency_s``: wall-clock seconds of the request, where the backend measures it honestly (a
    server's reply time as this machine saw it), else None; never stored in the cache."""

    text: str
    n_tokens: int = 0
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    cached: bool = False
    prompt_tokens: int | None = None
    latency_s: float | None = None


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
    able = " or ".join(name for name, info in BACKENDS.items() if capability in info.capabilities)
    fix = f"run this check with --backend {able}, or leave it out" if able else "leave it out"
    raise ConfigError(f"the {backend_name!r} backend does not support {feature}; {fix} for this backend")


def supports(backend: object, capability: str) -> bool:
    return isinstance(backend, CAPABILITIES[capability][0])


class BackendFactory(Protocol):
    def __call__(self, spec: ModelSpec, *, cache_dir: str) -> Backend: ...


@dataclass(frozen=True)
class BackendInfo(Entry[Backend]):
    """A registered backend: its factory ``factory(spec, *, cache_dir) -> Backend`` and the traits
    checked before anything is loaded.

    ``local_weights``: the base and the candidates are files this process loads (preflight checks
    them; candidates are adapter or model dirs); else they are names a server knows.
    ``capabilities``: the names in ``CAPABILITIES`` its backends implement (the hint of ``require``).
    ``loggers`` (``Entry``): logger names its SDK logs under, redacted like tunegate's own.
    """

    local_weights: bool = False
    capabilities: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.capabilities) - set(CAPABILITIES))
        if unknown:
            raise ConfigError(f"unknown backend capabilities {unknown}; known: {sorted(CAPABILITIES)}")
        super().__post_init__()


BACKENDS: Registry[BackendInfo] = Registry("backend", BackendInfo.of)


def register_backend(
    name: str,
    *,
    local_weights: bool = False,
    capabilities: Iterable[str] = (),
    loggers: Iterable[str] = (),
) -> Callable[[BackendFactory], BackendFactory]:
    """Register ``factory(spec, *, cache_dir) -> Backend`` under ``name`` with its traits::

        @register_backend("echo", capabilities=())
        def make_echo(spec: ModelSpec, *, cache_dir: str) -> Backend:
            return EchoBackend(spec)
    """

    def wrap(factory: BackendFactory) -> BackendFactory:
        info = BackendInfo(factory, local_weights, frozenset(capabilities), loggers=tuple(loggers))
        BACKENDS.register(name, info)
        return factory

    return wrap


def backend_info(name: str) -> BackendInfo:
    """The registered backend ``name`` (ConfigError listing the known ones otherwise)."""
    return BACKENDS.get(name)
