"""Reading results.json (through ``RunRecord.from_json``: the schema-version check, the upgrade of
older versions and the one validation; then its verdict checked against its evidence) and writing
report files atomically."""

from __future__ import annotations

import json
from pathlib import Path

from tunegate.harness.atomic import write_atomic
from tunegate.harness.errors import DataError
from tunegate.harness.record import SCHEMA_VERSION, RunRecord

__all__ = ["SCHEMA_VERSION", "load_results", "parse_results", "write_atomic"]
# SCHEMA_VERSION: the newest results.json schema these renderers understand (the run record's).


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON (results.json holds null for a value that could not be computed)")


def load_results(path: Path | str) -> RunRecord:
    """Read and validate a results.json; every failure is a DataError with a one-line problem."""
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


def parse_results(text: str, source: str = "results") -> RunRecord:
    """``text`` (the content of a results.json) parsed and validated; every failure is a DataError."""
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
    record = RunRecord.from_json(results, where=source)
    if results.get("schema_version") == SCHEMA_VERSION:
        check_verdict(record, source)
    return record


def check_verdict(record: RunRecord, source: str) -> None:
    """Refuse a record whose stored verdict is not the one its comparisons and tests give
    (``harness.results.verdict_disagreement``, the rule the run applied): a report is evidence, and
    a PASS shown next to a REGRESSED gate is not. Older schema versions were decided by older
    rules and are not checked."""
    from tunegate.harness.results import verdict_disagreement

    problem = verdict_disagreement(record)
    if problem:
        raise DataError(source, [f"{problem}; the file was edited or is corrupt: re-run the suites"])


