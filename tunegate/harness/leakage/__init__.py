"""Train/eval overlap detection and the memorisation probe (shared/STATS.md section 3).

>>> files = training_files_from_manifest("adapters/support")  # doctest: +SKIP
>>> report = check_leakage(files, [suite], config=LeakageConfig())  # doctest: +SKIP
>>> report.to_dict()["passed"], report.clean_ids(suite)  # doctest: +SKIP

As a run feature (the ``leakage`` section of results.json, with the memorisation probe):

>>> section = run_leakage_check(training_files=files, suites=discover_suites("suites/data"),
...                             generate=gen, config=LeakageConfig())  # doctest: +SKIP
"""

from __future__ import annotations

from tunegate.harness.leakage.config import LeakageConfig
from tunegate.harness.leakage.discover import discover_suites, is_training_file
from tunegate.harness.leakage.hashing import normalize
from tunegate.harness.leakage.paraphrase import Embedder, MiniLMEmbedder, load_minilm
from tunegate.harness.leakage.probe import ProbeResult, memorisation_probe, overlap, probe_summary
from tunegate.harness.leakage.report import FLAGS, ItemFlag, LeakageReport, TrainingFile
from tunegate.harness.leakage.scan import check_leakage
from tunegate.harness.leakage.section import (
    LeakageSection,
    chat_generator,
    probe_params,
    resolve_training_files,
    run_leakage_check,
)
from tunegate.harness.leakage.sources import (
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
    "LeakageSection",
    "MiniLMEmbedder",
    "ProbeResult",
    "TrainingDoc",
    "TrainingFile",
    "chat_generator",
    "check_leakage",
    "discover_suites",
    "is_training_file",
    "load_minilm",
    "memorisation_probe",
    "normalize",
    "overlap",
    "probe_params",
    "probe_summary",
    "prompt_and_answer",
    "read_training_examples",
    "resolve_training_files",
    "run_leakage_check",
    "training_files_from_manifest",
]
