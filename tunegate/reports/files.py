"""Reading results.json (with the schema-version check) and writing report files atomically."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tunegate.harness.errors import DataError
from tunegate.harness.record import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "check_results", "load_results", "sha256_of", "write_atomic"]
# SCHEMA_VERSION: the newest results.json schema these renderers understand (the run record's).


def check_results(results: object, source: str = "results") -> dict[str, Any]:
    """Return ``results`` if renderable; raise DataError naming the problem otherwise.

    Only what every renderer relies on is checked: a mapping with a known ``schema_version``
    and, where present, ``comparisons`` as a list. Everything else is optional so that a
    partial (ERROR) run still renders.
    """
    if not isinstance(results, dict):
        raise DataError(source, [f"expected a JSON object at the top level, got {type(results).__name__}"])
    version = results.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise DataError(
            source,
            [f"schema_version must be an integer, got {version!r}; is this a tunegate results.json?"],
        )
    if version > SCHEMA_VERSION:
        raise DataError(
            source,
            [
                f"schema_version {version} is newer than this tunegate understands "
                f"(<= {SCHEMA_VERSION}); install the tunegate version that wrote it (README, 'Use it in your project')"
            ],
        )
    if version < 1:
        raise DataError(source, [f"schema_version {version} is not a valid version (expected 1)"])
    shapes: tuple[tuple[str, type], ...] = (
        ("comparisons", list), ("items", dict), ("judges", list), ("suites", list), ("tests", list),
        ("verdict", dict), ("models", dict), ("run", dict), ("tool", dict), ("cache", dict),
    )  # fmt: skip
    for key, kind in shapes:
        value = results.get(key)
        if value is not None and not isinstance(value, kind):
            raise DataError(source, [f"{key!r} must be a {kind.__name__}, got {type(value).__name__}"])
    for key in ("comparisons", "tests", "suites"):
        for i, entry in enumerate(results.get(key) or []):
            if not isinstance(entry, dict):
                raise DataError(source, [f"{key}[{i}] must be an object, got {type(entry).__name__}"])
    for suite, rows in (results.get("items") or {}).items():
        if not isinstance(rows, list):
            raise DataError(source, [f"items[{suite!r}] must be a list of items, got {type(rows).__name__}"])
    return results


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (results.json holds null for a value that could not be computed)")


def load_results(path: Path | str) -> dict[str, Any]:
    """Read and check a results.json; every failure is a DataError with a one-line problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            str(p), ["file not found; pass the results.json written by `pytest --report DIR`"]
        ) from None
    except IsADirectoryError:
        raise DataError(str(p), ["is a directory; pass the results.json inside it"]) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            str(p), [f"not UTF-8 (byte {exc.start}); results.json is always UTF-8 JSON"]
        ) from None
    except OSError as exc:
        raise DataError(str(p), [f"cannot read: {exc.strerror}"]) from None
    return parse_results(text, str(p))


def parse_results(text: str, source: str = "results") -> dict[str, Any]:
    """``text`` (the content of a results.json) parsed and checked; every failure is a DataError."""
    try:
        results = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DataError(
            source,
            [f"line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg}); was the run interrupted?"],
        ) from None
    except RecursionError:
        raise DataError(source, ["nested too deeply to be a results.json"]) from None
    except ValueError as exc:  # NaN/Infinity literals, integers too long to convert
        raise DataError(source, [f"invalid JSON value: {exc}"]) from None
    return check_results(results, source)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same directory and ``os.replace``.

    A reader (a browser, CI uploading the artifact) never sees a half-written file, and a crash
    leaves the previous version intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            # mkstemp creates 0600; reports are meant to be read by others (CI artifact, web server).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
