"""LLM-as-judge for tunegate: rubrics as files, providers by name, pairwise in both orders,
a cache, budgets, fenced prompts and calibration against gold labels.

    from tunegate.judges import Judge
    judge = Judge("local")                       # offline: SmolLM2-135M-Instruct, G-Eval weighting
    metric = judge.rubric("support_style")       # a harness Metric (continuous)
    pair = judge.pairwise("support_style")       # score_pair(items, base, candidate) -> binary wins
    judge.health("support_style").to_dict()      # kappa, reliable, position consistency, ...
"""

from __future__ import annotations

from tunegate.harness.metrics.base import PairwiseMetric
from tunegate.judges.agreement import cohen_kappa, confusion_matrix
from tunegate.judges.budget import Budget
from tunegate.judges.engine import Judgment
from tunegate.judges.health import MIN_KAPPA, CalibrationRecord, JudgeHealth
from tunegate.judges.judge import Judge
from tunegate.judges.metric import PairwiseJudgeMetric, RubricMetric
from tunegate.judges.prompts import PROMPT_VERSION
from tunegate.judges.providers import (
    PROVIDERS,
    JudgeProvider,
    ProviderInfo,
    ProviderReply,
    make_provider,
    provider_info,
    register_provider,
)
from tunegate.judges.rubric import Rubric, known_rubrics, load_rubric

__all__ = [
    "MIN_KAPPA",
    "PROMPT_VERSION",
    "PROVIDERS",
    "Budget",
    "CalibrationRecord",
    "Judge",
    "JudgeHealth",
    "JudgeProvider",
    "Judgment",
    "PairwiseJudgeMetric",
    "PairwiseMetric",
    "ProviderInfo",
    "ProviderReply",
    "Rubric",
    "RubricMetric",
    "cohen_kappa",
    "confusion_matrix",
    "known_rubrics",
    "load_rubric",
    "make_provider",
    "provider_info",
    "register_provider",
]
