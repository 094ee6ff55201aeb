"""Leakage: no eval item may appear in the candidate's own training data.

The training files come from the adapter's ``tunegate.json`` (written by ``tunegate train``) or
from ``--train-data``. Every eval suite under ``suites/data`` is checked: exact duplicates after
normalisation, 13-gram overlap (boilerplate ignored; the PaLM 8-gram rule for short items) and
MinHash near-duplicates re-checked exactly. Flagged training examples are then fed to the
candidate to see how much of them it reproduces verbatim (the memorisation probe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.data import load_suite
from harness.errors import DataError
from harness.leakage import (
    LeakageConfig,
    check_leakage,
    memorisation_probe,
    probe_summary,
    read_training_examples,
    training_files_from_manifest,
)

DATA = Path(__file__).parent / "data"
TRAINING_NAMES = ("train.jsonl", "dev.jsonl")


def eval_suites() -> list[Any]:
    """Every suite file under suites/data (training and dev files are not suites)."""
    suites = []
    for path in sorted(DATA.rglob("*.jsonl")):
        if path.name in TRAINING_NAMES or path.parent.name == "calibration":
            continue
        try:
            suites.append(load_suite(path, name=f"{path.parent.name}/{path.stem}"))
        except DataError:
            continue  # not a suite (e.g. auxiliary text); the suites themselves validate on load
    return suites


def _training_files(run: Any, candidate: Any) -> list[Path]:
    if run.options.train_data:
        return [Path(p) for p in run.options.train_data]
    if not candidate.spec.adapter:
        pytest.skip("no adapter dir and no --train-data: nothing to check for leakage")
    manifest = Path(candidate.spec.adapter) / "tunegate.json"
    if not manifest.exists():
        pytest.skip(f"{manifest} not found: pass --train-data TRAIN.jsonl to check an adapter trained elsewhere")
    return training_files_from_manifest(candidate.spec.adapter)


def test_eval_suites_do_not_overlap_training_data(tunegate_run: Any, candidate: Any) -> None:
    files = _training_files(tunegate_run, candidate)
    report = check_leakage(files, eval_suites(), config=LeakageConfig())
    section = report.to_dict()
    flagged = report.flagged()
    if flagged:
        docs = read_training_examples(report.training_locations())
        generate = lambda chats: [  # noqa: E731
            c.text
            for c in candidate.backend.generate(
                [_request(i, chat) for i, chat in enumerate(chats)]
            )
        ]
        section["memorisation"] = probe_summary(memorisation_probe(generate, docs, mode="answer"))
    section["summary"] = section["reason"]
    section["status"] = "pass" if section["passed"] else "fail"
    section["n_flagged"] = len(flagged)
    tunegate_run.add_section("leakage", section)
    report.assert_passed()


def _request(i: int, chat: list[dict[str, str]]) -> Any:
    from harness.data import Message
    from harness.models.base import GenerationParams, GenerationRequest

    return GenerationRequest(str(i), tuple(Message(m["role"], m["content"]) for m in chat), GenerationParams(160))
