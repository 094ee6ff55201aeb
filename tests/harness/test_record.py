"""tunegate/reports/SCHEMA.md and the typed run record (tunegate/harness/record.py) describe the same fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tunegate.harness import record, record_sections

SCHEMA = Path(__file__).resolve().parents[2] / "tunegate" / "reports" / "SCHEMA.md"
MODELS = {
    "RunRecord (top level)": record.RunRecord,
    "RunInfo": record.RunInfo,
    "RunVerdict": record.RunVerdict,
    "ModelRecord": record.ModelRecord,
    "ComparisonRecord": record.ComparisonRecord,
    "GateResult": record.GateResult,
    "CoverageRecord": record.CoverageRecord,
    "TestRecord": record.TestRecord,
    "CandidateVerdict": record.CandidateVerdict,
    "CostRecord": record.CostRecord,
    "ModelCost": record_sections.ModelCost,
}


def documented() -> dict[str, set[str]]:
    sections: dict[str, set[str]] = {}
    current = None
    for line in SCHEMA.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = set()
        elif current is not None and line.startswith("- "):
            # Field names are the backticked names before the first ': ' of a bullet, outside parentheses.
            head = re.sub(r"\([^)]*\)", "", line[2:].split(": ", 1)[0])
            sections[current] |= set(re.findall(r"`([a-z_0-9]+)`", head))
    return sections


@pytest.mark.parametrize("section", sorted(MODELS))
def test_schema_doc_lists_exactly_the_record_fields(section: str) -> None:
    doc = documented()
    assert section in doc, f"tunegate/reports/SCHEMA.md has no section '## {section}'"
    fields = set(MODELS[section].model_fields)
    assert doc[section] == fields, (
        f"{section}: documented but not in the record: {sorted(doc[section] - fields)}; "
        f"in the record but not documented: {sorted(fields - doc[section])}"
    )


def test_schema_version_is_the_documented_one() -> None:
    assert f"schema version {record.SCHEMA_VERSION}" in SCHEMA.read_text(encoding="utf-8")
