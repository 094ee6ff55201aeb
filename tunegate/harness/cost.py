"""The cost section of the run record: per model, what its answers cost in tokens and, where the
backend times requests, in wall-clock time.

Built from the item rows (``items[].usage[<model>]``, one entry per answer, cached or not) once
the record is validated (``tunegate.harness.results.build_results``). Means are over every item a
model answered in the run; request tokens (prompt + answer) only where every prompt was counted
(an entry cached by a tunegate that did not keep prompt counts reads as not known). Latency
percentiles are over the answers generated and timed in this run, on this machine: a cached answer
was not timed, and local backends decode in batches, so they do not time single items.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable

import numpy as np

from tunegate.harness.models.base import BACKENDS
from tunegate.harness.record import RunRecord
from tunegate.harness.record_sections import CostRecord, ModelCost, UsageRecord

TOKEN_UNITS = {
    "fake": "words (the fake backend counts whitespace-separated words)",
    "openai": "tokens as the server counted them (its usage figures)",
}
DEFAULT_UNIT = "tokens of the model's tokenizer"


def machine() -> str:
    """How the latency figures' machine is named: this one, by system and architecture."""
    return f"this machine ({platform.system()}-{platform.machine()})"


def model_cost(label: str, usages: Iterable[UsageRecord], *, local: bool) -> ModelCost:
    """The cost of one model's answers (``local``: its backend loads weights in this process)."""
    rows = list(usages)
    answers = [u.answer_tokens for u in rows if u.answer_tokens is not None]
    requests = [u.prompt_tokens + u.answer_tokens for u in rows if u.prompt_tokens is not None and u.answer_tokens is not None]
    timed = np.array([u.latency_s for u in rows if u.latency_s is not None], dtype=float)
    cached = sum(u.cached for u in rows)
    if local:
        note = "not measured per item (a local backend decodes in batches: no single item has its own time)"
    elif rows and cached == len(rows):
        note = f"not timed in this run: all {len(rows)} answers came from the cache"
    elif not len(timed):
        note = "not measured per item (this backend does not time its requests)"
    elif cached:
        note = f"over the {len(timed)} requests sent in this run (the {cached} answers from the cache were not timed)"
    else:
        note = f"over {len(timed)} requests, send to full reply"
    return ModelCost(
        model=label,
        n=len(rows),
        answer_tokens_mean=float(np.mean(answers)) if answers and len(answers) == len(rows) else None,
        request_tokens_mean=float(np.mean(requests)) if requests and len(requests) == len(rows) else None,
        n_prompt_counted=len(requests),
        latency_p50_s=float(np.percentile(timed, 50)) if len(timed) and not local else None,
        latency_p95_s=float(np.percentile(timed, 95)) if len(timed) and not local else None,
        n_timed=0 if local else len(timed),
        latency_note=note,
    )


def cost_section(record: RunRecord) -> CostRecord | None:
    """The record's ``cost`` section from its item rows; None when no row says what it cost."""
    labels = [record.models.base.label, *(c.label for c in record.models.candidates)]
    rows = [row for suite in record.items.values() for row in suite]
    for row in rows:
        labels += [m for m in row.usage if m not in labels]
    specs = {m.label: m.spec for m in [record.models.base, *record.models.candidates]}
    backend = specs[record.models.base.label].backend or ""
    models = []
    for label in labels:
        usages = [row.usage[label] for row in rows if label in row.usage]
        if not usages:
            continue
        name = (specs[label].backend if label in specs else backend) or ""
        local = name in BACKENDS and BACKENDS.get(name).local_weights
        models.append(model_cost(label, usages, local=local))
    if not models:
        return None
    return CostRecord(models=models, token_unit=TOKEN_UNITS.get(backend, DEFAULT_UNIT), measured_on=machine())


__all__ = ["cost_section", "machine", "model_cost"]
