"""Readable node ids for suite files outside pytest's rootdir.

pytest names a test by its file's path relative to the rootdir; a file outside it (the packaged
forgetting gates collected by ``--forgetting``, a suite passed as ``../shared/test_x.py``) gets an
empty file part, so every line of the summary, the report and results.json says
``::test_general_capability_does_not_regress[arithmetic]`` with no file at all. Such items are
renamed before anything records them: a file inside the installed ``tunegate`` package by its
path inside the package (``tunegate/harness/general/forgetting_suite.py``, the same on every
machine), any other file by its path relative to the rootdir (``../shared/test_x.py``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

_PACKAGE_PARENT = Path(__file__).resolve().parents[2]
"""The directory holding the ``tunegate`` package (site-packages, or a checkout)."""


def file_part(path: Path, rootdir: Path) -> str:
    """The readable file part of a node id for ``path``."""
    resolved = path.resolve()
    if resolved.is_relative_to(_PACKAGE_PARENT / "tunegate"):
        return resolved.relative_to(_PACKAGE_PARENT).as_posix()
    return Path(os.path.relpath(resolved, rootdir.resolve())).as_posix()


def _set_file_part(item: pytest.Item, part: str) -> None:
    """pytest has no public setter: 9 keeps a structured ``_id`` (a dataclass with ``path``), 8 a string."""
    node: Any = item
    current = getattr(node, "_id", None)
    if dataclasses.is_dataclass(current) and not isinstance(current, type) and hasattr(current, "path"):
        node._id = dataclasses.replace(current, path=part)
    else:
        node._nodeid = part + node.nodeid


def make_readable(items: list[pytest.Item], rootdir: Path) -> None:
    """Give every item whose node id has no file part (``::name``) one."""
    for item in items:
        if item.nodeid.startswith("::") and getattr(item, "path", None) is not None:
            _set_file_part(item, file_part(Path(item.path), rootdir))
