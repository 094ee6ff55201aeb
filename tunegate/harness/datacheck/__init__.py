"""``tunegate data check``: is this training data fit to fine-tune on?

>>> report, html = check_data("train.jsonl", evals=["eval.jsonl"], dev="dev.jsonl")  # doctest: +SKIP
>>> report.exit_code, report.counts()  # doctest: +SKIP

Checks: schema (the suite loader's rules), size, duplicates inside train, train/dev/eval overlap
(the leakage engine), giveaway patterns, PII; plus a seeded review sheet. See docs/data.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from tunegate.harness.datacheck.duplicates import check_duplicates
from tunegate.harness.datacheck.findings import Finding
from tunegate.harness.datacheck.giveaways import check_giveaways
from tunegate.harness.datacheck.overlap import check_overlap
from tunegate.harness.datacheck.pii import check_pii
from tunegate.harness.datacheck.report import DataCheckReport
from tunegate.harness.datacheck.review import pick_samples, render_review
from tunegate.harness.datacheck.schema import DataFile, read_file
from tunegate.harness.datacheck.size import check_size

__all__ = ["DataCheckReport", "Finding", "check_data"]


def check_data(
    train: str | Path,
    *,
    evals: Sequence[str | Path] = (),
    dev: str | Path | None = None,
    seed: int = 0,
    sample: int = 100,
    phone_region: str | None = "US",
) -> tuple[DataCheckReport, str]:
    """Run every check; (the report, the review sheet's HTML). Files must exist (the CLI checks)."""
    started = time.perf_counter()
    findings: list[Finding] = []
    train_file, found = read_file(train, "train")
    findings += found
    dev_file: DataFile | None = None
    if dev is not None:
        dev_file, found = read_file(dev, "dev")
        findings += found
    eval_files: list[DataFile] = []
    for path in evals:
        ev, found = read_file(path, "eval")
        eval_files.append(ev)
        findings += found
    findings += check_size(train_file, dev_file, eval_files)
    findings += check_duplicates(train_file.records)
    findings += check_overlap(train_file, dev_file, eval_files)
    findings += check_giveaways(train_file.records)
    for f in (train_file, *([dev_file] if dev_file else []), *eval_files):
        findings += check_pii(f.records, phone_region)
    samples = pick_samples(train_file.records, sample, seed)
    files = (train_file, *([dev_file] if dev_file else []), *eval_files)
    report = DataCheckReport(
        files=files,
        findings=tuple(findings),
        seed=seed,
        sample=tuple(r.location for r in samples),
        elapsed_s=time.perf_counter() - started,
    )
    return report, render_review(train_file, samples, seed)
