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
    fields = {f.alias or name for name, f in MODELS[section].model_fields.items()}  # results.json's keys
    assert doc[section] == fields, (
        f"{section}: documented but not in the record: {sorted(doc[section] - fields)}; "
        f"in the record but not documented: {sorted(fields - doc[section])}"
    )


def test_schema_version_is_the_documented_one() -> None:
    assert f"schema version {record.SCHEMA_VERSION}" in SCHEMA.read_text(encoding="utf-8")


def _as_version_2(data: dict) -> dict:
    """A results.json as version 2 wrote it: no pair, no reference."""
    old = {**data, "schema_version": 2}
    old["run"] = {k: v for k, v in data["run"].items() if k != "reference"}
    old["models"] = {k: v for k, v in data["models"].items() if k != "reference"}
    old["comparisons"] = [
        {k: v for k, v in c.items() if k not in ("against", "reference", "reference_mean")} for c in data["comparisons"]
    ]
    return old


def test_older_files_load_with_every_comparison_against_the_base() -> None:
    from tests.reports.built import built_results

    data = built_results().to_json()
    old = _as_version_2(data)
    assert all("against" not in c for c in old["comparisons"])
    loaded = record.RunRecord.from_json(old)
    assert loaded.schema_version == record.SCHEMA_VERSION == 3
    assert {c.against for c in loaded.comparisons} == {"base"}
    assert all(c.reference is None and c.reference_mean is None for c in loaded.comparisons)
    assert all(c.against_mean == c.base_mean and c.pair == "base" for c in loaded.comparisons)
    assert loaded.run.reference is None and loaded.models.reference is None and loaded.reference_label is None
    assert loaded.comparisons == record.RunRecord.from_json(data).comparisons  # nothing else changed
    with pytest.raises(record.DataError, match=r"comparisons.0.against: Input should be 'base' or 'reference'"):
        record.RunRecord.from_json({**data, "comparisons": [{**data["comparisons"][0], "against": "production"}]})
