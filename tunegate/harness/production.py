"""What is in production: the record ``tunegate promote`` keeps in the project's root.

``tunegate-production.json`` sits beside the project's pyproject.toml (the one with a
``[tool.tunegate]`` table; without one, the current directory) and names one adapter::

    {"schema": 1, "adapter": "artifacts/support-v1", "label": "support-v1",
     "fingerprint": "<content fingerprint of the adapter dir>", "promoted_at": "2026-12-06T17:40:00Z",
     "results": {"path": "reports/v1/results.json", "sha256": "..."}, "verdict": "PASS",
     "base": "<the base's fingerprint (or its name) in that run>"}

``adapter`` and ``results.path`` are relative to the record's folder (absolute when they lie
outside it), so the record can be committed with the project. ``fingerprint`` is the adapter's
content fingerprint (``tunegate.harness.fingerprint.content_fingerprint``: its model files alone,
the value a run records as ``models.candidates[].content_fingerprint``), so a byte-identical copy
is the same adapter and an edited or retrained one is not.

``production_reference(project_dir)`` is how a run finds the adapter to gate against: the path,
checked (the record exists and is valid, the adapter is there, its files are still the promoted
ones). The record is written atomically (``tunegate.harness.atomic``).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunegate.harness.atomic import write_atomic
from tunegate.harness.errors import ConfigError, DataError
from tunegate.harness.fingerprint import HashMemo, content_fingerprint
from tunegate.harness.validation import JSONProblem, pydantic_problems, strict_json

RECORD_NAME = "tunegate-production.json"
SCHEMA: Literal[1] = 1


class ResultsDigest(BaseModel):
    """The results.json that justified the promotion, and its sha256 (the file's bytes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str = Field(..., min_length=1, description="relative to the record's folder, or absolute")
    sha256: str = Field(..., pattern=r"^[0-9a-f]{64}$")


class ProductionRecord(BaseModel):
    """``tunegate-production.json``, version ``SCHEMA``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    schema_version: Literal[1] = Field(SCHEMA, alias="schema", description="the record's format version")
    adapter: str = Field(..., min_length=1, description="the adapter dir, relative to the record's folder")
    label: str = Field(..., min_length=1, description="the candidate's label in the run")
    fingerprint: str = Field(..., pattern=r"^[0-9a-f]{64}$", description="content fingerprint of the adapter dir")
    promoted_at: str = Field(..., description="ISO-8601 UTC time of the promotion")
    results: ResultsDigest
    verdict: Literal["PASS"] = Field(..., description="the candidate's verdict in that run (only PASS is promoted)")
    base: str = Field(..., min_length=1, description="the base of that run: its fingerprint, else its name")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True), indent=1, ensure_ascii=False) + "\n"

    def adapter_path(self, folder: Path) -> Path:
        """The adapter dir, resolved against the record's ``folder``."""
        return (Path(folder) / self.adapter) if not Path(self.adapter).is_absolute() else Path(self.adapter)


def project_dir(start: Path | None = None) -> Path:
    """The project whose production record applies: the nearest folder (``start`` or a parent,
    default the current directory) whose pyproject.toml has a ``[tool.tunegate]`` table; else ``start``."""
    here = Path(start or Path.cwd()).resolve()
    here = here if here.is_dir() else here.parent
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _has_tunegate_table(pyproject):
            return folder
    return here


def _has_tunegate_table(path: Path) -> bool:
    try:
        tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return False
    return isinstance(tool, dict) and "tunegate" in tool


def record_path(project: Path) -> Path:
    return Path(project) / RECORD_NAME


def read_record(path: Path) -> ProductionRecord:
    """The record at ``path``; a missing, unreadable or malformed file is one error naming the
    file and the field (``ConfigError`` for a missing one, ``DataError`` otherwise)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no production record; promote a gated adapter first with "
            "`tunegate promote RESULTS.json` (it accepts only a PASS run)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DataError(str(path), [f"cannot read the production record: {reason}"]) from None
    try:
        data = strict_json(text)
    except JSONProblem as exc:
        raise DataError(str(path), [f"not valid JSON ({exc}); restore it from version control or promote again"]) from None
    try:
        return ProductionRecord.model_validate(data)
    except ValidationError as exc:
        problems = pydantic_problems(exc, str(path), known=[*ProductionRecord.model_fields, "schema"])
        raise DataError(str(path), [p[len(str(path)) + 2 :] for p in problems]) from None


def write_record(project: Path, record: ProductionRecord) -> Path:
    """Write ``record`` as the project's production record (atomically); returns its path."""
    return write_atomic(record_path(project), record.to_json())


def relative_to(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` in POSIX form (``..`` allowed), or absolute when they share
    no root (another drive)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def production_reference(project_dir: Path, *, memo: HashMemo | None = None) -> Path:
    """The adapter in production for the project at ``project_dir``, checked.

    Raises ``ConfigError`` when there is no record (run ``tunegate promote``), when the recorded
    adapter dir is gone, or when its files changed since it was promoted (its content fingerprint
    is not the recorded one); ``DataError`` when the record is malformed.
    """
    path = record_path(project_dir)
    record = read_record(path)
    adapter = record.adapter_path(path.parent)
    if not adapter.is_dir():
        raise ConfigError(
            f"{path}: the production adapter {record.adapter!r} ({adapter}) is not a directory; restore it, "
            "or promote the adapter now in production with `tunegate promote RESULTS.json`"
        )
    now = content_fingerprint(adapter, memo)
    if now != record.fingerprint:
        raise ConfigError(
            f"{path}: the production adapter {record.adapter!r} changed since it was promoted on "
            f"{record.promoted_at}: its fingerprint is {now[:12]}, the promoted one {record.fingerprint[:12]}; "
            "restore the promoted files, or gate the new ones and promote that run"
        )
    return adapter


__all__ = [
    "RECORD_NAME",
    "SCHEMA",
    "ProductionRecord",
    "ResultsDigest",
    "production_reference",
    "project_dir",
    "read_record",
    "record_path",
    "relative_to",
    "write_record",
]
