"""The recorder of a run: every comparison, check and test outcome of it, and the sections and
notes of results.json, as plain data a pytest-xdist worker can send to the controller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunegate.harness.data import Suite
from tunegate.harness.handles import ModelHandle, read_provenance
from tunegate.harness.options import RunOptions

if TYPE_CHECKING:
    from tunegate.harness.compare import Comparison
    from tunegate.harness.run_models import RunModels
    from tunegate.harness.run_outputs import RunOutputs


@dataclass
class RunRecorder:
    """What a run found, by test: ``current_test`` is the node id of the test running now, and
    what it does (a comparison, a leakage check, a drift measurement) sets its role."""

    options: RunOptions
    comparisons: list[tuple[str, Comparison]] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)
    judges: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    leakage_checked: set[str] = field(default_factory=set)
    current_test: str = ""
    test_roles: dict[str, str] = field(default_factory=dict)
    _selection_seen: set[tuple[str, str]] = field(default_factory=set)

    def doing(self, role: str) -> None:
        """The running test's role is what it does: a leakage check or a drift measurement outranks
        a comparison (a test named anything may do any of them)."""
        if not self.current_test:
            return
        order = ("custom", "gate", "drift", "leakage")
        now = self.test_roles.get(self.current_test, "custom")
        if order.index(role) > order.index(now):
            self.test_roles[self.current_test] = role

    def record_judge(self, info: dict[str, Any]) -> None:
        """A judge's health (one entry per rubric, the latest)."""
        self.judges = [j for j in self.judges if j.get("rubric") != info.get("rubric")] + [info]

    def note_selection(self, candidate: ModelHandle, suite: Suite) -> None:
        """Ledger of which adapters of one lineage were gated on this suite version; warn when one
        eval suite has been used to choose among more than a few of them."""
        key = (candidate.label, suite.name)
        if key in self._selection_seen or not candidate.spec.adapter:
            return
        self._selection_seen.add(key)
        from tunegate.harness.ledger import lineage_from_manifest, record_gating, selection_warning

        lineage = lineage_from_manifest(read_provenance(candidate.spec.adapter))
        fingerprint = candidate.content_fingerprint
        if lineage is None or fingerprint is None:
            return
        count = record_gating(
            self.options.cache_path,
            suite_name=suite.name,
            suite_version=suite.version,
            adapter_fingerprint=fingerprint,
            lineage=lineage,
        )
        warning = selection_warning(count, suite.name)
        if warning and warning not in self.notes:
            self.notes.append(warning)

    def mark_forgetting(self, comparison: Comparison) -> Comparison:
        """List ``comparison`` in the forgetting section of results.json (a general-capability gate)."""
        ids = self.sections.setdefault("forgetting", {}).setdefault("suites", [])
        if comparison.id not in ids:
            ids.append(comparison.id)
        return comparison

    def record_test(
        self,
        *,
        nodeid: str,
        outcome: str,
        message: str = "",
        candidate: str | None = None,
        gate_failure: bool = False,
        role: str = "custom",
        stopped: bool = False,
    ) -> None:
        """Record the outcome of one collected tunegate test (passed, failed, error, skipped).

        ``gate_failure``: the test failed through a gate (GateFailure); its comparison already
        carries the verdict. Every other failure or error is part of the run verdict by itself.
        """
        self.tests.append(
            {
                "nodeid": nodeid,
                "outcome": outcome,
                "message": message,
                "candidate": candidate,
                "gate_failure": gate_failure,
                "kind": role,  # results.json's key (TestRecord.role)
                "stopped": stopped,
            }
        )

    def partial(self, models: RunModels, outputs: RunOutputs) -> dict[str, Any]:
        """This process's records as plain data (merged across pytest-xdist workers by tunegate.harness.results)."""
        comparisons = []
        for nodeid, comp in self.comparisons:
            d = comp.to_dict()
            d["nodeid"] = nodeid
            comparisons.append(d)
        handles = [models.base, *models.adapters]
        records = {m.label: m.record() for m in handles if m.loaded or m is models.base}
        for m in models.adapters:
            rec = records.setdefault(m.label, m.record())
            rec["provenance"] = read_provenance(m.spec.adapter)
        reference = models.reference
        return {
            "reference": reference.label if reference is not None else None,
            "comparisons": comparisons,
            "items": outputs.items,
            "models": records,
            "suites": {
                s.name: {
                    "name": s.name,
                    "path": s.path,
                    "version": s.version,
                    "n_items": len(s.items),
                    "sampled": self.options.sample or None,
                }
                for s in outputs.suites.values()
            },
            "sections": self.sections,
            "judges": self.judges,
            "adapter_checks": models.adapter_checks,
            "tests": self.tests,
            "leakage_checked": sorted(self.leakage_checked),
            "notes": [*models.notes, *(n for n in self.notes if n not in models.notes)],
            "cache": {k: v for k, v in outputs.stats.to_dict().items() if k != "per_model"},
        }

    def add_section(self, name: str, value: Any) -> None:
        if name in ("leakage", "forgetting") and isinstance(value, dict):
            self.sections.setdefault(name, {}).update(value)
        else:
            self.sections[name] = value
