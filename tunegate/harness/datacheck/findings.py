"""One finding of the data check: a severity, a check, a headline with numbers, and where."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")
"""error: fix before training (exit status 1); warning: look at it; info: context, no action."""


@dataclass(frozen=True)
class Finding:
    """What one check found. ``locations`` are ``path:line`` strings, the first one the main one."""

    severity: str
    check: str
    code: str
    message: str
    locations: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "check": self.check,
            "code": self.code,
            "message": self.message,
            "locations": list(self.locations),
            "details": self.details,
        }


def error(check: str, code: str, message: str, /, *locations: str, **details: Any) -> Finding:
    return Finding("error", check, code, message, tuple(locations), dict(details))


def warning(check: str, code: str, message: str, /, *locations: str, **details: Any) -> Finding:
    return Finding("warning", check, code, message, tuple(locations), dict(details))


def info(check: str, code: str, message: str, /, *locations: str, **details: Any) -> Finding:
    return Finding("info", check, code, message, tuple(locations), dict(details))
