"""The report's leakage section as a release manager reads it: counts, flagged items with their
training line, the probe's result, settings collapsed; no literals, nothing twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reports.fixtures import as_record, make_results
from tunegate.harness.errors import DataError
from tunegate.harness.leakage.config import LeakageConfig
from tunegate.harness.leakage.probe import ProbeResult
from tunegate.harness.leakage.report import ItemFlag, LeakageReport, TrainingFile
from tunegate.harness.leakage.section import LeakageSection
from tunegate.harness.record import LeakageRecord
from tunegate.reports import render_html
from tunegate.reports.leakage import leakage_section

TRAIN = "data/support/train.jsonl"


def leakage_data(label: str = "support-v2") -> dict[str, Any]:
    """results.json's ``leakage`` exactly as the session writes it: the section's dict, once at the
    top and once under ``candidates``."""
    items = [
        ItemFlag("support/eval", "sup-0007", "exact", "prompt and reference identical to a training example",
                 source=f"{TRAIN}:17", excerpt="I was charged twice for my March invoice", score=1.0,
                 checks=("exact",), matched=("prompt", "reference")),
        ItemFlag("support/eval", "sup-0031", "ngram", "shares 2 13-grams with a training example",
                 source=f"{TRAIN}:204", excerpt="please refund the duplicate charge on my card ending", score=0.18,
                 checks=("ngram",), matched=("prompt",)),
        *(ItemFlag("support/eval", f"sup-{i:04d}", "clean") for i in range(40, 43)),
        *(ItemFlag("general/arithmetic", f"ar-{i}", "clean") for i in range(3)),
    ]
    report = LeakageReport(
        config=LeakageConfig(),
        items=tuple(items),
        training_files=(TrainingFile(TRAIN, lines=480, docs=480, sha256="ab" * 32),),
        elapsed_s=1.25,
    )
    probe = (
        ProbeResult(f"{TRAIN}:17", "prefix", "I was charged", "twice for my March invoice and want a refund",
                    "twice for my March invoice and want a refund", 9, 9, 9, True),
        ProbeResult(f"{TRAIN}:204", "prefix", "please refund", "the duplicate charge on my card ending 4242",
                    "your order has shipped", 8, 0, 1, False),
    )
    data = LeakageSection(report, probe).to_dict()
    return {**data, "candidates": {label: data}}


def test_section_reads_as_counts_items_probe_and_collapsed_settings() -> None:
    out = str(leakage_section(LeakageRecord.model_validate(leakage_data())))
    assert "FAIL" in out and "exact duplicate" in out
    assert "2 of 8 eval items share text with the training data (25.0%), checked against 480 training examples." in out
    for line in (f"{TRAIN}:17", f"{TRAIN}:204"):
        assert out.count(f"<code>{line}</code>") == 2  # its flagged item and its probe row, each once
    assert out.count("<code>sup-0007</code>") == 1 and out.count("<code>sup-0031</code>") == 1  # listed once
    assert "reproduced 1 of them" in out
    details = out.split("<details", 1)[1].split("</details>", 1)[0]
    assert "ngram n" in details and "boilerplate min docs" in details and TRAIN in details
    assert "ngram n" not in out.split("<details", 1)[0]  # settings only in the collapsed block
    for literal in ("{'", "': ", '{"', "[]", "None", "True", "False"):
        assert literal not in out, literal


def test_two_candidates_get_one_block_each() -> None:
    one, two = leakage_data("a")["candidates"]["a"], leakage_data("b")["candidates"]["b"]
    out = str(leakage_section(LeakageRecord.model_validate({**one, "candidates": {"a": one, "b": two}})))
    assert out.count("<details") == 2 and "Candidate a" in out and "Candidate b" in out
    assert out.count("<code>sup-0007</code>") == 2


@pytest.mark.parametrize(
    "hostile",
    [None, {}, [], {"status": 3, "items": "x", "suites": [1], "memorisation": {"results": {"a": 1}}},
     {"candidates": {"a": {"items": [{"id": "<script>", "source": 5, "matched": [None]}], "config": [1, 2]}}},
     {"items": [{"id": "x", "flag": "exact", "score": "nan"}], "memorisation": "no", "training_files": [3]}],
)
def test_malformed_leakage_data_never_breaks_the_report(hostile: object) -> None:
    """Malformed leakage data is refused where results.json is read, naming the field; what is
    accepted renders, escaped."""
    results = make_results(40)
    results["leakage"] = hostile
    try:
        record = as_record(results)
    except DataError as exc:
        assert all(p.startswith("leakage") for p in exc.problems), exc.problems
        return
    out = str(leakage_section(record.leakage))
    assert "<script>" not in out


def test_leakage_section_in_the_page(tmp_path: Path) -> None:
    results = make_results(40)
    results["leakage"] = json.loads(json.dumps(leakage_data()))  # as read back from results.json
    page = render_html(as_record(results))
    section = page.split('id="leakage"', 1)[1]
    assert "Check settings and training files" in section and "reproduced 1 of them" in section


def test_a_probe_not_run_says_why_once() -> None:
    report = LeakageReport(config=LeakageConfig(), items=(ItemFlag("support/eval", "sup-0040", "clean"),))
    section = LeakageSection(report, None, "not run: no eval item was flagged")  # as run_leakage_check words it
    out = str(leakage_section(LeakageRecord.model_validate(section.to_dict())))
    assert "Not run: no eval item was flagged" in out
    assert "not run: not run" not in out.lower()
