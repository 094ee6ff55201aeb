"""Domain exceptions. They become ``pytest.UsageError`` or a CLI message only at the edge."""

from __future__ import annotations

import re
from collections import Counter


class TunegateError(Exception):
    """Base of every error tunegate reports to a user as one clear message (no traceback)."""


SHOWN_PER_KIND = 8
"""Problems of one kind shown in a DataError's message (the terminal, junit.xml); ``problems`` keeps all."""
_KIND_END = re.compile(r"""[\d"'\[({:]""")


def problem_kind(problem: str) -> str:
    """What a ``path:line: message`` problem is, without where or which value: the words before
    the first quote, bracket, digit or colon of its message ("invalid JSON", "unknown key")."""
    message = re.sub(r"^.*?:\d+: ", "", problem, count=1)
    return _KIND_END.split(message, maxsplit=1)[0].strip() or message[:40]


def shown_problems(problems: list[str], per_kind: int = SHOWN_PER_KIND) -> list[str]:
    """At most ``per_kind`` problems of each kind, in order, each kind's rest as one count line."""
    counts: Counter[str] = Counter(problem_kind(p) for p in problems)
    seen: Counter[str] = Counter()
    out: list[str] = []
    for p in problems:
        kind = problem_kind(p)
        seen[kind] += 1
        if seen[kind] <= per_kind:
            out.append(p)
        if seen[kind] == per_kind and counts[kind] > per_kind:
            out.append(f"... and {counts[kind] - per_kind} more of this kind ({kind})")
    return out


class DataError(TunegateError):
    """A suite or dataset file is invalid. ``problems`` holds one ``path:line: message`` each; the
    message shows at most ``SHOWN_PER_KIND`` of each kind, with a count of the rest."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = list(problems)
        head = f"{path}: {len(problems)} problem(s) found; fix them and run again:"
        super().__init__("\n".join([head, *("  " + p for p in shown_problems(self.problems))]))


class ConfigError(TunegateError):
    """A user-facing option or config value is invalid."""


class ModelLoadError(TunegateError):
    """A base model or adapter cannot be resolved or loaded."""


class TrainingDiverged(TunegateError):
    """The training loss or the adapter's weights are no longer finite numbers; nothing was saved."""


class UnsafeAdapterError(ModelLoadError):
    """An adapter ships pickle weights (.bin/.pt); only safetensors are loaded."""


class GenerationError(TunegateError):
    """A backend could not produce a completion (after its retries)."""


class CacheError(TunegateError):
    """The response cache is corrupt or locked."""


class RemoteAccessError(TunegateError):
    """A remote API (a served model, a judge) rejected the credentials (HTTP 401/403), cannot be
    reached at all, or (a served model) answered no attempt of a request within its retries: the
    run cannot be carried out, so it stops once (exit 4) instead of failing every gate. Raised as a
    subclass that is also the caller's own error (GenerationError, JudgeError)."""


class StatsError(TunegateError):
    """Inputs to a statistical comparison are invalid (mismatched ids, NaN scores, ...)."""


class GateFailure(AssertionError):
    """A gate did not pass. Subclasses AssertionError so pytest reports it as a test failure."""


class JudgeError(TunegateError):
    """A judge provider or rubric problem (unknown provider, missing key, invalid rubric)."""
