"""Moved to ``harness.retry`` (public). Kept as a re-export for code that still imports it here."""

from __future__ import annotations

from harness.retry import (
    Classifier,
    MalformedReply,
    RetriesExhausted,
    RetryPolicy,
    RetryStats,
    Transient,
    aretry,
    describe,
    is_transient_status,
    parse_retry_after,
    retry,
    sdk_classifier,
)

__all__ = [
    "Classifier",
    "MalformedReply",
    "RetriesExhausted",
    "RetryPolicy",
    "RetryStats",
    "Transient",
    "aretry",
    "describe",
    "is_transient_status",
    "parse_retry_after",
    "retry",
    "sdk_classifier",
]
