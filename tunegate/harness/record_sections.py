"""The typed sections of the run record (tunegate/harness/record.py): slices, flips, items (with
what each answer cost), suites, the cache, the cost, judges, the leakage and forgetting sections, a model's spec and its adapter probe.

Fields the renderers and the decision read are typed; sections whose inner detail belongs to
another module (the leakage report's config, the KL drift measurement, a backend's ``describe()``)
keep that detail as written (``extra="allow"``), so results.json round-trips unchanged.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

Verdict = Literal[
    "IMPROVED", "NON_INFERIOR", "UNDERPOWERED", "REGRESSED", "INCONCLUSIVE", "INCOMPLETE", "NOT_GATED"
]
"""A gate's (or a slice's) verdict, decided by ``tunegate.harness.compare.decision.decide``."""
RunStatus = Literal["PASS", "FAIL", "NO_EFFECT", "NO_BINDING_GATES", "ERROR", "ADVISORY"]
"""A candidate's or the run's verdict. ``ADVISORY`` is read from old results.json files only."""
GateType = Literal["improves", "no_regression"]
Against = Literal["base", "reference"]
"""The pair a comparison is about: candidate vs base, or candidate vs the reference in production."""
AGAINST: tuple[str, ...] = get_args(Against)


def pair_name(against: str, reference: str | None) -> str:
    """``base``, or ``reference (task-only)``: how messages name the model a candidate is paired with."""
    if against == "reference":
        return f"reference ({reference})" if reference else "reference"
    return "base"


AGAINST_HELP = (
    "use 'base' (candidate vs base) or 'reference' (candidate vs the --reference model in production), "
    "or leave it out (the reference when the run has one, else the base)"
)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Open(BaseModel):
    """A section whose inner detail belongs to another module (unknown fields kept as written)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    def extras(self) -> dict[str, Any]:
        """The fields this record does not type, in the order written."""
        return dict(self.model_extra or {})


class SliceRecord(Frozen):
    slice: str
    n: int
    base_mean: float | None = None
    candidate_mean: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    verdict: Verdict
    failing_ids: list[str] = []


class Flips(Frozen):
    base_only: list[str] = []
    candidate_only: list[str] = []


class CleanSubset(Frozen):
    n: int
    n_flagged: int
    base_mean: float | None = None
    candidate_mean: float | None = None
    delta: float | None = None


class CacheRecord(Frozen):
    hits: int = 0
    misses: int = 0
    hit_rate: float = 0.0
    generated: int = 0
    generated_tokens: int = 0
    generation_s: float | None = None
    tokens_per_s: float | None = None
    path: str | None = None


class SuiteRecord(Frozen):
    name: str
    path: str | None = None
    version: str | None = None
    n_items: int | None = None
    sampled: int | None = None


class UsageRecord(Frozen):
    """What one answer cost (``tunegate.harness.usage.Answer``): None where not known."""

    answer_tokens: int | None = None
    prompt_tokens: int | None = None
    latency_s: float | None = None
    cached: bool = False


class ItemRecord(Frozen):
    id: str
    messages: list[dict[str, Any]] = []
    reference: Any = None
    tags: dict[str, str] = {}
    group: str | None = None
    outputs: dict[str, str | None] = {}
    usage: dict[str, UsageRecord] = {}
    scores: dict[str, dict[str, float | None]] = {}
    rationales: dict[str, dict[str, str | None]] | None = None


class JudgeRecord(Open):
    name: str | None = None
    provider: str | None = None
    model: str | None = None
    rubric: str | None = None
    rubric_hash: str | None = None
    kappa: float | None = None
    reliable: bool | None = None
    position_consistency: float | None = None
    n_judgments: int | None = None
    n_failed: int | None = None
    cache_hits: int | None = None


class LeakageFlag(Open):
    suite: str
    id: str
    flag: str = ""
    reason: str = ""
    source: str | None = None
    excerpt: str | None = None
    score: float | None = None
    matched: list[str] = []


class LeakageSuite(Open):
    n_items: int | None = None
    n_clean: int | None = None
    counts: dict[str, int] = {}


class TrainingFileRecord(Open):
    path: str | None = None
    lines: int | None = None
    docs: int | None = None
    bad_lines: int | None = None


class ProbeRow(Open):
    source: str | None = None
    memorised: bool | None = None
    longest_common_fraction: float | None = None
    output: str | None = None


class Memorisation(Open):
    n: int | None = None
    memorised: int | None = None
    mean_longest_common_fraction: float | None = None
    results: list[ProbeRow] = []


class LeakageCheck(Open):
    """One candidate's leakage check (``tunegate.harness.leakage.section.LeakageSection.to_dict``)."""

    status: str | None = None
    passed: bool | None = None
    reason: str | None = None
    summary: str = ""
    n_items: int | None = None
    n_flagged: int | None = None
    n_training_docs: int | None = None
    suites: dict[str, LeakageSuite] = {}
    items: list[LeakageFlag] = []
    memorisation: Memorisation | None = None
    memorisation_note: str | None = None
    config: dict[str, Any] = {}
    training_files: list[TrainingFileRecord] = []
    problems: list[str] = []
    elapsed_s: float | None = None


class LeakageRecord(LeakageCheck):
    """The ``leakage`` section: each checked candidate's check (``candidates``) and, at the top, a
    copy of the failing (or last) one, for readers of one candidate."""

    candidates: dict[str, LeakageCheck] = {}


class ForgettingRecord(Open):
    """The ``forgetting`` section: the general suites' comparison ids, a summary line, and the KL
    drift measurements (``kl[<label>]``, ``kl_gate[<label>]``) as written."""

    suites: list[str] = []
    summary: str = ""


class ModelCost(Frozen):
    """One model's cost over the items it answered (``tunegate.harness.cost``)."""

    model: str
    n: int
    answer_tokens_mean: float | None = None
    request_tokens_mean: float | None = None
    n_prompt_counted: int = 0
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    n_timed: int = 0
    latency_note: str = ""


class CostRecord(Frozen):
    """The ``cost`` section: per model, mean answer and request tokens and, where the backend
    times requests, latency percentiles measured on ``measured_on`` (this machine)."""

    models: list[ModelCost] = []
    token_unit: str = ""
    measured_on: str = ""


class ModelSpecRecord(Open):
    base: str | None = None
    adapter: str | None = None
    backend: str | None = None
    dtype: str | None = None
    quantization: str | None = None


class AdapterEffect(Open):
    """The probe of an adapter's effect on the base's logits (``no_effect``: identical logits)."""

    checked: bool = False
    no_effect: bool = False


__all__ = [
    "AGAINST",
    "AGAINST_HELP",
    "AdapterEffect",
    "Against",
    "CacheRecord",
    "CleanSubset",
    "CostRecord",
    "Flips",
    "ForgettingRecord",
    "Frozen",
    "GateType",
    "ItemRecord",
    "JudgeRecord",
    "LeakageCheck",
    "LeakageFlag",
    "LeakageRecord",
    "LeakageSuite",
    "Memorisation",
    "ModelCost",
    "ProbeRow",
    "TrainingFileRecord",
    "ModelSpecRecord",
    "Open",
    "pair_name",
    "RunStatus",
    "SliceRecord",
    "SuiteRecord",
    "UsageRecord",
    "Verdict",
]
