"""One process's records of a run (a pytest-xdist worker's, or the controller's own), typed where the
controller reads them, and their union.

A worker sends its records to the controller as JSON (``RunRecorder.partial``); the controller reads
each with ``RunPartial.model_validate`` and merges them (:func:`merge_partials`) into the one
``RunPartial`` that ``tunegate.harness.results.build_results`` turns into the run record. The
comparison entries stay as the gates wrote them (``Comparison.to_dict``): they become the record's
``ComparisonRecord`` once, when the record is built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from tunegate.harness.record import JudgeRecord, ModelRecord, SuiteRecord, TestRecord

CACHE_COUNTS = ("hits", "misses", "generated", "generated_tokens", "generation_s")
"""The response-cache figures that add up across processes."""


class RunPartial(BaseModel):
    """What one process recorded; also the union of several (``merge_partials``)."""

    model_config = ConfigDict(extra="forbid")

    reference: str | None = None
    """The label of the reference in production (``--reference``) among ``models``, or None."""
    comparisons: list[dict[str, Any]] = []
    items: dict[str, dict[str, dict[str, Any]]] = {}
    """{suite: {item id: {id, messages, reference, tags, group, outputs, usage, scores, rationales}}}."""
    models: dict[str, ModelRecord] = {}
    suites: dict[str, SuiteRecord] = {}
    sections: dict[str, Any] = {}
    judges: list[JudgeRecord] = []
    adapter_checks: dict[str, dict[str, Any]] = {}
    tests: list[TestRecord] = []
    leakage_checked: list[str] = []
    notes: list[str] = []
    cache: dict[str, float | None] = {}

    @property
    def empty(self) -> bool:
        """Nothing was measured: no comparison, item or test."""
        return not (self.comparisons or self.items or self.tests)


def merge_partials(partials: Iterable[RunPartial | dict[str, Any]]) -> RunPartial:
    """Union of the processes' records: comparisons and tests appended, items merged field by field,
    a model's record with a fingerprint (it was loaded) preferred, cache counts added up."""
    merged = RunPartial()
    judges: dict[str, JudgeRecord] = {}
    for raw in partials:
        part = raw if isinstance(raw, RunPartial) else RunPartial.model_validate(raw)
        merged.reference = merged.reference or part.reference
        merged.comparisons.extend(part.comparisons)
        for suite, rows in part.items.items():
            target = merged.items.setdefault(suite, {})
            for item_id, row in rows.items():
                cur = target.setdefault(item_id, {**row, "outputs": {}, "scores": {}, "usage": {}})
                cur["outputs"].update(row.get("outputs") or {})
                cur.setdefault("usage", {}).update(row.get("usage") or {})
                for metric, cell in (row.get("scores") or {}).items():
                    cur["scores"].setdefault(metric, {}).update(cell)
        for label, model in part.models.items():
            if model.fingerprint or label not in merged.models:
                merged.models[label] = model
        merged.suites.update(part.suites)
        for name, sec in part.sections.items():
            if isinstance(sec, dict):
                merged.sections.setdefault(name, {}).update(sec)
            else:
                merged.sections[name] = sec
        judges.update({j.rubric or j.name or "": j for j in part.judges})
        merged.adapter_checks.update(part.adapter_checks)
        merged.tests.extend(part.tests)
        for done in part.leakage_checked:
            if done not in merged.leakage_checked:
                merged.leakage_checked.append(done)
        for note in part.notes:
            if note not in merged.notes:
                merged.notes.append(note)
        for k in CACHE_COUNTS:
            count = part.cache.get(k)
            if count is not None:
                merged.cache[k] = (merged.cache.get(k) or 0) + count
    merged.judges = list(judges.values())
    return merged


__all__ = ["CACHE_COUNTS", "RunPartial", "merge_partials"]
