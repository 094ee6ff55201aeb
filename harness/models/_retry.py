"""Moved to ``harness.retry`` (public). Kept as a re-export for code that still imports it here."""

from __future__ import annotations

from harness.retry import *  # noqa: F403
from harness.retry import __all__ as __all__
