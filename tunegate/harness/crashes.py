"""A crash inside tunegate's own code (a bug, a backend library that crashed under it) is pytest's
exit code 3, "internal error", never 1, which means only "a gate failed" (docs/ci.md).

``crash_site(excinfo)`` says whether a test's exception is such a crash: an exception that is not
an assertion, not a ``TunegateError`` (a clear message about the user's input or setup), and that
left tunegate's code last: walking out from the innermost frame, frames of installed libraries
(the standard library, site-packages: torch, the HTTP stack) are looked through, and the first
other frame decides: tunegate's package is a crash, anything else (the user's test, metric or
conftest) is the user's own failure. The run's hooks tag such a report with ``CRASH_PROPERTY``
and turn the session's exit status into 3.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from tunegate.harness.errors import TunegateError

__all__ = ["CRASH_PROPERTY", "crash_site"]

CRASH_PROPERTY = "tunegate_internal_error"
_PACKAGE = Path(__file__).resolve().parents[1]
_NOT_CRASHES = (AssertionError, TunegateError, KeyboardInterrupt)
_LIBRARY_PATHS = tuple(
    Path(p).resolve() for p in {sysconfig.get_path(n) for n in ("stdlib", "platstdlib", "purelib", "platlib")} if p
)


def _library(path: Path) -> bool:
    return any(path.is_relative_to(p) for p in _LIBRARY_PATHS)


def crash_site(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """``file:line`` where an unexpected exception left tunegate's own code; '' for anything else."""
    if excinfo.errisinstance(_NOT_CRASHES) or not excinfo.errisinstance(Exception):
        return ""
    for entry in reversed(excinfo.traceback):
        try:
            path = Path(str(entry.path)).resolve()
        except (OSError, ValueError):
            return ""
        if path.is_relative_to(_PACKAGE):
            return f"{path.relative_to(_PACKAGE.parent)}:{entry.lineno + 1}"
        if not _library(path):
            return ""  # the user's own code raised it
    return ""
