"""The cost table (tunegate/reports/cost.py) rendered from the record build_results makes."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tunegate.harness.partial import merge_partials
from tunegate.harness.record import RunRecord
from tunegate.harness.results import build_results
from tunegate.reports.html import render_html
from tunegate.reports.markdown import render_markdown

N = 20


def _record(backend: str, *, cached_base: bool = False) -> RunRecord:
    latencies = {"base": [0.2 + 0.01 * i for i in range(N)], "v2": [0.5 + 0.1 * i for i in range(N)]}
    items: dict[str, dict[str, Any]] = {}
    for i in range(N):
        usage = {
            "base": {"answer_tokens": 10 + i % 2, "prompt_tokens": 30, "cached": cached_base,
                     "latency_s": None if cached_base or backend != "openai" else latencies["base"][i]},
            "v2<b>": {"answer_tokens": 20 + i % 2, "prompt_tokens": 30 if i else None, "cached": False,
                      "latency_s": latencies["v2"][i] if backend == "openai" else None},
        }  # fmt: skip
        items[f"q{i}"] = {"id": f"q{i}", "outputs": {"base": "a", "v2<b>": "b"}, "usage": usage, "scores": {}}
    spec = {"base": "served-base", "backend": backend}
    partial = {
        "items": {"faq": items},
        "models": {
            "base": {"label": "base", "spec": spec},
            "v2<b>": {"label": "v2<b>", "spec": {**spec, "adapter": "v2"}},
        },
        "tests": [{"nodeid": "t::ok", "outcome": "passed", "candidate": "v2<b>"}],
    }
    return build_results(merge_partials([partial]), options={}, started=time.time(), exitstatus=0, command="pytest")


def test_the_record_has_a_typed_cost_section() -> None:
    record = _record("openai")
    assert record.cost is not None
    base, cand = record.cost.models
    assert (base.model, base.n, cand.model) == ("base", N, "v2<b>")
    assert base.answer_tokens_mean == 10.5
    assert base.request_tokens_mean == 30 + base.answer_tokens_mean
    assert cand.request_tokens_mean is None and cand.n_prompt_counted == N - 1  # one prompt not counted
    assert cand.latency_p50_s == np.percentile([0.5 + 0.1 * i for i in range(N)], 50)
    assert cand.latency_p95_s == np.percentile([0.5 + 0.1 * i for i in range(N)], 95)
    assert record.cost.token_unit == "tokens as the server counted them (its usage figures)"
    assert RunRecord.from_json(record.to_json()) == record  # round-trips through results.json


def test_markdown_and_html_show_the_table_escaped() -> None:
    record = _record("openai", cached_base=True)
    md = render_markdown(record)
    assert "**Cost**" in md
    assert "| base | 20 | 10.5 | 40.5 | — | — |" in md
    p50, p95 = np.percentile([0.5 + 0.1 * i for i in range(N)], [50, 95])
    assert f"| `v2<b>` | 20 | 20.5 | — (1 prompts not counted) | {p50:.2f} s | {p95:.2f} s |" in md
    assert "- Latency (base): not timed in this run: all 20 answers came from the cache." in md
    assert "- Latency (v2\\<b>): over 20 requests, send to full reply." in md
    page = render_html(record)
    assert '<section id="cost"><h2>Cost</h2>' in page
    assert "<td>v2&lt;b&gt;</td>" in page and "<td>v2<b>" not in page


def test_a_local_backend_says_latency_is_not_measured_per_item() -> None:
    md = render_markdown(_record("hf"))
    assert "| base | 20 | 10.5 | 40.5 | — | — |" in md
    assert "Latency (all models): not measured per item (a local backend decodes in batches" in md
    assert "Tokens are tokens of the model's tokenizer." in md


def test_an_old_results_json_has_no_cost_table() -> None:
    record = _record("hf").model_copy(update={"cost": None})
    assert "**Cost**" not in render_markdown(record)
    assert "This run recorded no costs" in render_html(record)
