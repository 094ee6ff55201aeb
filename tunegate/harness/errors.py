"""Domain exceptions. They become ``pytest.UsageError`` or a CLI message only at the edge."""

from __future__ import annotations


class TunegateError(Exception):
    """Base of every error tunegate reports to a user as one clear message (no traceback)."""


class DataError(TunegateError):
    """A suite or dataset file is invalid. ``problems`` holds one ``path:line: message`` each."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = list(problems)
        head = f"{path}: {len(problems)} problem(s) found; fix them and run again:"
        super().__init__("\n".join([head, *("  " + p for p in problems)]))


class ConfigError(TunegateError):
    """A user-facing option or config value is invalid."""


class ModelLoadError(TunegateError):
    """A base model or adapter cannot be resolved or loaded."""


class UnsafeAdapterError(ModelLoadError):
    """An adapter ships pickle weights (.bin/.pt); only safetensors are loaded."""


class GenerationError(TunegateError):
    """A backend could not produce a completion (after its retries)."""


class CacheError(TunegateError):
    """The response cache is corrupt or locked."""


class RemoteAccessError(TunegateError):
    """A remote API (a served model, a judge) rejected the credentials (HTTP 401/403) or cannot be
    reached at all: the run cannot be carried out, so it stops once (exit 4) instead of failing
    every gate. Raised as a subclass that is also the caller's own error (GenerationError, JudgeError)."""


class StatsError(TunegateError):
    """Inputs to a statistical comparison are invalid (mismatched ids, NaN scores, ...)."""


class GateFailure(AssertionError):
    """A gate did not pass. Subclasses AssertionError so pytest reports it as a test failure."""


class JudgeError(TunegateError):
    """A judge provider or rubric problem (unknown provider, missing key, invalid rubric)."""


class BudgetExceeded(TunegateError):
    """A judge token/cost budget ran out; finished work is kept."""
