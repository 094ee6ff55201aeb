"""Train/eval overlap detection and the memorisation probe (shared/STATS.md section 3).

>>> files = training_files_from_manifest("adapters/support")  # doctest: +SKIP
>>> report = check_leakage(files, [suite], config=LeakageConfig())  # doctest: +SKIP
>>> report.to_dict()["passed"], report.clean_ids(suite)  # doctest: +SKIP
"""

from __future__ import annotations

from harness.leakage.config import LeakageConfig
from harness.leakage.hashing import normalize
from harness.leakage.paraphrase import Embedder, MiniLMEmbedder, load_minilm
from harness.leakage.probe import ProbeResult, memorisation_probe, overlap, probe_summary
from harness.leakage.report import FLAGS, ItemFlag, LeakageReport, TrainingFile
from harness.leakage.scan import check_leakage
from harness.leakage.sources import (
    TrainingDoc,
    prompt_and_answer,
    read_training_examples,
    training_files_from_manifest,
)

__all__ = [
    "FLAGS",
    "Embedder",
    "ItemFlag",
    "LeakageConfig",
    "LeakageReport",
    "MiniLMEmbedder",
    "ProbeResult",
    "TrainingDoc",
    "TrainingFile",
    "check_leakage",
    "load_minilm",
    "memorisation_probe",
    "normalize",
    "overlap",
    "probe_summary",
    "prompt_and_answer",
    "read_training_examples",
    "training_files_from_manifest",
]
