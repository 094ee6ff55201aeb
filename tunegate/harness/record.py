"""The run record: one typed, versioned, frozen description of a tunegate run (results.json).

Built once by ``tunegate.harness.results.build_results`` (which decides every verdict through
``tunegate.harness.compare.decision``), written as results.json, and the only input of tunegate/reports/. Nothing
downstream re-decides a verdict. ``RunRecord.from_json`` validates a results.json (any version this
code knows) and ``to_json`` gives the plain dict to write; tunegate/reports/SCHEMA.md documents the fields
and a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from tunegate.harness.errors import DataError
from tunegate.harness.record_sections import (
    AdapterEffect,
    Against,
    CacheRecord,
    CleanSubset,
    CostRecord,
    Flips,
    ForgettingRecord,
    GateType,
    ItemRecord,
    JudgeRecord,
    LeakageCheck,
    LeakageRecord,
    ModelSpecRecord,
    RunStatus,
    SliceRecord,
    SuiteRecord,
    Verdict,
    pair_name,
)
from tunegate.harness.record_sections import Frozen as _Frozen

SCHEMA_VERSION = 3
KNOWN_VERSIONS = (1, 2, 3)
MAX_PROBLEMS = 20
"""Validation problems named when a results.json is refused (the rest are counted)."""

TestOutcomeName = Literal["passed", "failed", "error", "skipped"]
TestRole = Literal["gate", "leakage", "drift", "custom"]
"""What a test did in the run (results.json's ``kind`` of a test; a metric's kind is another thing)."""


class GateSpec(_Frozen):
    type: Literal["improves", "no_regression", "none"]
    min_delta: float | None = None
    margin: float | None = None
    alpha: float
    relative_margin: float | None = Field(None, description="the margin as a share of the base's mean (0.1 for \"10%\")")


class GateResult(_Frozen):
    """One gate applied to a comparison (``Comparison.assert_*``), decided by ``decide``."""

    type: GateType
    size: float
    min_delta: float | None = None
    margin: float | None = None
    alpha: float
    verdict: Verdict
    passed: bool
    p_value: float | None = Field(None, description="p of the claim that decided the verdict")
    claim: str = Field("", description="the null hypothesis p_value tests")
    p_null: float | None = None
    p_drop: float | None = None
    p_adjusted: float | None = None
    holm_family: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float
    low_oriented: float | None = None
    high_oriented: float | None = None
    mde: float | None = None
    n_needed: int | None = None
    coverage_ok: bool = True
    message: str = ""
    relative_margin: float | None = Field(None, description="the margin as a share of the base's mean; margin is that share of the measured base mean")


class CoverageRecord(_Frozen):
    n_items: int
    n_scored: int
    n_used: int
    unscored_base: int
    unscored_candidate: int
    infra: int
    share: float
    floor: float
    ok: bool
    worst: float | None = None
    reasons: list[str] = []


class ComparisonRecord(_Frozen):
    id: str
    suite: str
    metric: str
    kind: Literal["binary", "continuous", "corpus"]
    candidate: str
    against: Against = Field(
        "base", description="the pair: candidate vs base, or candidate vs the reference in production"
    )
    reference: str | None = Field(None, description="the reference's label (a comparison against the reference)")
    test: str
    n: int
    n_failed: int
    base_mean: float | None = None
    reference_mean: float | None = None
    candidate_mean: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = None
    se: float | None = None
    clustered: bool = False
    p_value: float | None = None
    p_claim: str = ""
    p_adjusted: float | None = None
    alternative: str
    gate: GateSpec
    gates: list[GateResult] = []
    verdict: Verdict
    passed: bool
    advisory: bool = False
    binding: bool = True
    higher_is_better: bool = True
    coverage: CoverageRecord | None = None
    notes: list[str] = []
    mde: float | None = None
    n_needed: int | None = None
    message: str = ""
    metric_info: dict[str, Any] = {}
    slices: list[SliceRecord] = []
    flips: Flips | None = None
    nodeid: str = ""
    clean_subset: CleanSubset | None = None

    @property
    def pair(self) -> str:
        """The model the candidate is paired with, in words: ``base`` or ``reference (label)``."""
        return pair_name(self.against, self.reference)

    @property
    def against_mean(self) -> float | None:
        """The mean of the model the candidate is paired with (``delta`` = candidate minus it)."""
        return self.reference_mean if self.against == "reference" else self.base_mean


class TestRecord(_Frozen):
    """A collected tunegate test: its outcome is part of the run verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)

    nodeid: str
    outcome: TestOutcomeName
    message: str = ""
    candidate: str | None = None
    gate_failure: bool = Field(False, description="failed through a comparison gate (GateFailure)")
    role: TestRole = Field("custom", alias="kind", description="what the test did: a comparison, a leakage check, a drift measurement")
    stopped: bool = Field(False, description="this test stopped the run (exit 4): a setup error, a rejected key, an unreachable server")


class CandidateVerdict(_Frozen):
    status: RunStatus
    reason: str
    failed: list[str] = []


class RunVerdict(_Frozen):
    status: RunStatus
    reason: str
    failed: list[str] = []
    candidates: dict[str, CandidateVerdict] = {}
    notes: list[str] = []
    lost_after_holm: list[str] = Field([], description="ids of comparisons whose improvement Holm's correction took")


class ReferenceInfo(_Frozen):
    """The reference in production a run gated its candidates against (``--reference``)."""

    path: str
    label: str
    fingerprint: str | None = Field(None, description="content fingerprint of the reference's dir")


class RunInfo(_Frozen):
    started_at: str
    finished_at: str
    duration_s: float
    seed: int | None = None
    alpha: float | None = None
    sample: int | None = None
    command: str = ""
    options: dict[str, Any] = {}
    python: str = ""
    platform: str = ""
    libraries: dict[str, str] = {}
    numerics: str = ""  # what decides a local model's rounding: CPU/GPU kernels, library builds
    reference: ReferenceInfo | None = None


class ModelRecord(_Frozen):
    label: str
    spec: ModelSpecRecord = ModelSpecRecord()
    fingerprint: str | None = None
    content_fingerprint: str | None = None
    describe: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    adapter_effect: AdapterEffect | None = None


class Models(_Frozen):
    base: ModelRecord
    candidates: list[ModelRecord] = []
    reference: ModelRecord | None = None


class Tool(_Frozen):
    name: str = "tunegate"
    version: str = "0"


class RunRecord(_Frozen):
    """results.json, version ``SCHEMA_VERSION``."""

    schema_version: int = SCHEMA_VERSION
    tool: Tool
    run: RunInfo
    verdict: RunVerdict
    models: Models
    cache: CacheRecord = CacheRecord()
    suites: list[SuiteRecord] = []
    comparisons: list[ComparisonRecord] = []
    tests: list[TestRecord] = []
    items: dict[str, list[ItemRecord]] = {}
    leakage: LeakageRecord | None = None
    forgetting: ForgettingRecord | None = None
    judges: list[JudgeRecord] = []
    cost: CostRecord | None = None

    @property
    def reference_label(self) -> str | None:
        """The label of the reference in production the run gated against (``--reference``), or None."""
        if self.run.reference is not None:
            return self.run.reference.label
        if self.models.reference is not None:
            return self.models.reference.label
        return next((c.reference for c in self.comparisons if c.against == "reference" and c.reference), None)

    def to_json(self) -> dict[str, Any]:
        """The plain dict written as results.json (None for what cannot be computed, never NaN)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: Any, *, where: str = "results.json") -> RunRecord:
        """Validate a results.json dict (the one validation of a record read from a file); an older
        version is upgraded, a newer or unknown ``schema_version`` is refused by name. Every
        failure is a ``DataError`` on ``where`` whose problems name the field."""
        if not isinstance(data, dict):
            raise DataError(where, [f"expected a JSON object at the top level, got {type(data).__name__}"])
        version = data.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise DataError(
                where, [f"schema_version must be an integer, got {version!r}; is this a tunegate results.json?"]
            )
        if version > SCHEMA_VERSION:
            raise DataError(
                where,
                [
                    f"schema_version {version} is newer than this tunegate understands (<= {SCHEMA_VERSION}); "
                    "install the tunegate version that wrote it (README, 'Use it in your project')"
                ],
            )
        if version not in KNOWN_VERSIONS:
            known = ", ".join(map(str, KNOWN_VERSIONS))
            raise DataError(where, [f"schema_version {version} is not a version of results.json (known: {known})"])
        if version < SCHEMA_VERSION:
            data = upgrade(data)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors()
            problems = [f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in errors[:MAX_PROBLEMS]]
            if len(errors) > MAX_PROBLEMS:
                problems.append(f"... and {len(errors) - MAX_PROBLEMS} more problem(s) of the same file")
            raise DataError(where, problems) from None


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """An older results.json in the current shape (fields that did not exist get their defaults).
    What is malformed is left as it is, for the validation to name.

    Version 2 -> 3: comparisons name their pair (``against``); every older comparison is against
    the base, which the defaults say (``against: base``, no reference). Version 1 -> 2 below.
    """
    out = dict(data)
    version = out.get("schema_version")
    out["schema_version"] = SCHEMA_VERSION
    if isinstance(version, int) and version >= 2:
        return out
    verdict = out.get("verdict")
    if verdict is None or isinstance(verdict, dict):
        out["verdict"] = {"status": "ERROR", "reason": "", **(verdict or {})}
    comps = out.get("comparisons")
    if isinstance(comps, list):
        out["comparisons"] = [
            {"binding": not c.get("advisory", False), **{k: v for k, v in c.items() if k in ComparisonRecord.model_fields}}
            if isinstance(c, dict)
            else c
            for c in comps
        ]
    out.setdefault("tests", [])
    return out


__all__ = [
    "KNOWN_VERSIONS",
    "LeakageCheck",
    "SCHEMA_VERSION",
    "AdapterEffect",
    "CacheRecord",
    "CandidateVerdict",
    "CleanSubset",
    "ComparisonRecord",
    "CostRecord",
    "CoverageRecord",
    "Flips",
    "ForgettingRecord",
    "GateResult",
    "GateSpec",
    "GateType",
    "ItemRecord",
    "JudgeRecord",
    "LeakageRecord",
    "ModelRecord",
    "ModelSpecRecord",
    "Models",
    "ReferenceInfo",
    "RunInfo",
    "RunRecord",
    "RunStatus",
    "RunVerdict",
    "SliceRecord",
    "SuiteRecord",
    "TestRecord",
    "Tool",
    "Verdict",
]
