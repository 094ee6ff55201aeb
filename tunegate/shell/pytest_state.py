"""The state an activated tunegate session keeps in ``config.stash`` (shared by the plugin's modules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tunegate.harness.record import RunRecord
    from tunegate.harness.session import RunState

PARTIALS_KEY = pytest.StashKey["list[dict[str, Any]]"]()
"""Records sent by pytest-xdist workers to the controller."""


@dataclass
class Active:
    """The state of an activated tunegate session (``config.stash[ACTIVE_KEY]``)."""

    run: RunState
    project_dir: Path
    reason: str
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: RunRecord | None = None
    report_error: str = ""


ACTIVE_KEY = pytest.StashKey[Active]()
