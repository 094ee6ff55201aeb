"""The judge-provider protocol, its registry and the helpers every provider shares.

A provider turns rendered judge prompts into raw answers; it does no caching, retrying, budget
keeping or verdict parsing (tunegate/judges/engine.py does, once, for all providers). A new provider is
one module and one ``register_provider`` call, which declares the traits preflight, budgets and
redaction ask about (docs/plugins.md shows the whole module and how a distribution installs it)::

    @register_provider("my-api", key_env="MY_API_KEY", loggers=("my_sdk",))
    def make(model: str | None = None, **options: Any) -> JudgeProvider:
        return MyProvider(model, **options)
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from tunegate.harness.errors import ConfigError, JudgeError, RemoteAccessError
from tunegate.harness.redact import learn, redact_text, watch_key_var
from tunegate.harness.registry import Entry, Registry
from tunegate.harness.retry import Transient, server_message
from tunegate.harness.validation import pydantic_problems
from tunegate.judges.prompts import JudgePrompt, Output

SDK_REQUIREMENTS = {"openai": "openai>=1.40", "anthropic": "anthropic>=0.40"}
"""The judge SDKs and the versions the ``judges`` extra pins (pyproject.toml)."""
INSTALL_HINT = "pip install " + " ".join(f"'{r}'" for r in SDK_REQUIREMENTS.values())
"""tunegate is not on a package index: the fix names the SDKs themselves, not the extra."""


@dataclass(frozen=True)
class ProviderReply:
    """One raw answer. ``verdict``: the structured object when the API returned one (a tool call,
    a schema-constrained JSON); else None and ``text`` is parsed strictly. ``weighted``: the score
    is a probability-weighted mean (G-Eval), not a single sampled integer. ``problem``: why the
    answer is no verdict although the call worked (recorded as the failure reason with ``text``)."""

    text: str
    verdict: dict[str, Any] | None = None
    weighted: bool = False
    problem: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@runtime_checkable
class JudgeProvider(Protocol):
    name: str
    model: str
    output: Output  # "json": the answer is a verdict object; "token": scored from next-token probabilities
    max_batch: int  # prompts per ``complete`` call (1 for HTTP APIs)
    default_concurrency: int
    deterministic: bool  # asking again gives the same answer: a bad verdict is not re-asked

    def classify(self, exc: BaseException) -> Transient | None:
        """Whether a failure of ``complete`` is worth retrying (429, 5xx, timeouts, malformed bodies)."""
        ...

    async def complete(self, prompts: Sequence[JudgePrompt]) -> list[ProviderReply]:
        """One reply per prompt, in order."""
        ...

    async def aclose(self) -> None:
        """Release clients bound to the running event loop."""
        ...

    def settings_key(self) -> str:
        """Options that change answers (temperature, max tokens, dtype...): part of cache keys."""
        ...

    def describe(self) -> dict[str, Any]:
        """Provider, model and options for results.json. Never includes a key."""
        ...


ProviderFactory = Callable[..., JudgeProvider]


@dataclass(frozen=True)
class ProviderInfo(Entry[JudgeProvider]):
    """A registered judge provider: its factory ``factory(model=None, **options)`` and the traits
    checked before any judge is built.

    ``key_env``: the environment variable its API key is read from by default (the option
    ``api_key_env`` names another); ``needs_base_url`` / ``needs_model``: it cannot run without
    ``--judge-base-url`` / ``--judge-model``; ``free``: judging costs nothing (a budget in USD
    does not need prices); ``prices``: USD per million tokens (input, output) of its models, by
    name or name prefix; ``loggers`` (``Entry``): logger names its SDK logs under, redacted.
    """

    key_env: str | None = None
    needs_base_url: bool = False
    needs_model: bool = False
    free: bool = False
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.key_env:
            watch_key_var(self.key_env)


PROVIDERS: Registry[ProviderInfo] = Registry("judge provider", ProviderInfo.of)


def register_provider(
    name: str,
    *,
    key_env: str | None = None,
    needs_base_url: bool = False,
    needs_model: bool = False,
    free: bool = False,
    prices: Mapping[str, tuple[float, float]] | None = None,
    loggers: Sequence[str] = (),
) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a provider factory ``factory(model=None, **options)`` under ``name``, with its traits."""

    def wrap(factory: ProviderFactory) -> ProviderFactory:
        info = ProviderInfo(factory, key_env, needs_base_url, needs_model, free, dict(prices or {}), loggers=tuple(loggers))
        PROVIDERS.register(name, info)
        return factory

    return wrap


def provider_info(name: str) -> ProviderInfo:
    """The registered provider ``name``, or a JudgeError listing the known ones."""
    try:
        return PROVIDERS.get(name)
    except ConfigError:
        known = ", ".join(PROVIDERS.names()) or "(none)"
        raise JudgeError(
            f"unknown judge provider {name!r}; known providers: {known}. Pick one of them (e.g. --judge local) "
            "or register your own with tunegate.judges.register_provider (docs/plugins.md)"
        ) from None


def make_provider(
    name: str, model: str | None = None, options: Mapping[str, Any] | None = None
) -> JudgeProvider:
    return provider_info(name)(model=model, **dict(options or {}))


# -- helpers shared by providers ------------------------------------------------------------


class ProviderOptions(BaseModel):
    """Base of every provider's options: unknown keys are rejected with the list of known ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)


OptionsT = TypeVar("OptionsT", bound=ProviderOptions)


def parse_options(cls: type[OptionsT], options: Mapping[str, Any], provider: str) -> OptionsT:
    try:
        return cls.model_validate(dict(options))
    except ValidationError as exc:
        known = ", ".join(cls.model_fields)
        where = f"invalid options for the {provider} judge"
        problems = "; ".join(
            p[len(where) + 2 :] for p in pydantic_problems(exc, where, unknown="unknown option")
        )
        raise JudgeError(redact_text(f"{where}: {problems}; known options: {known}")) from None


def import_sdk(module: str, provider: str) -> ModuleType:
    """Import an optional SDK, or say exactly how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise JudgeError(
            f"the {provider} judge needs the {module!r} package, which is not installed; "
            f"install it with: pip install '{SDK_REQUIREMENTS.get(module, module)}'"
        ) from None


def api_key_from_env(var: str, provider: str) -> str:
    """The API key in ``var``; a missing key is one message naming the variable. Keys live only here."""
    key = os.environ.get(var, "").strip()
    if not key:
        raise JudgeError(
            f"the {provider} judge needs an API key in the environment variable {var}, which is not set; "
            f"export {var}=<your key> (or name another variable with the option api_key_env), "
            "or use the offline judge: --judge local"
        )
    learn(key)  # masked wherever a server echoes it, whatever the variable's name
    return key


def settings_key(provider: str, model: str, settings: Mapping[str, Any]) -> str:
    body = ";".join(f"{k}={settings[k]!r}" for k in sorted(settings))
    return f"{provider}:{model}:{body}"


class JudgeAccessDenied(JudgeError, RemoteAccessError):
    """The judge's API rejected the key (401/403): no judgment can be made, the run stops (exit 4)."""


def api_error(provider: str, exc: BaseException, *, key_env: str | None, model: str) -> JudgeError | None:
    """A JudgeError for API failures that retrying cannot fix (bad key, unknown model, bad request).

    The server's own text is redacted: a 401 that echoes the key sent does not pass it on."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return None
    detail = server_message(exc)
    if status in (401, 403):
        where = f" in {key_env}" if key_env else ""
        return JudgeAccessDenied(
            f"the {provider} API rejected the API key{where} (HTTP {status}: {detail}); check the key and its access"
        )
    if status == 404:
        return JudgeError(
            f"the {provider} API does not know the model {model!r} (HTTP 404: {detail}); check the model name for this provider"
        )
    if 400 <= status < 500 and status not in (408, 409, 429):
        return JudgeError(f"the {provider} API refused the judge request (HTTP {status}: {detail})")
    return None
