from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.reports.fixtures import as_record
from tunegate.harness.errors import ConfigError, DataError
from tunegate.harness.fingerprint import content_fingerprint
from tunegate.reports import stamp_adapter
from tunegate.reports.stamp import BEGIN, END, split_front_matter

PEFT_CARD = """---
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
library_name: peft
pipeline_tag: text-generation
tags:
- base_model:adapter:HuggingFaceTB/SmolLM2-135M-Instruct
- lora
- transformers
---

# Model Card for Model ID

<!-- Provide a quick summary of what the model is/does. -->

## Training procedure

Trained with QLoRA --- rank 16.

### Framework versions

- PEFT 0.21.0
"""
SHA = "ab" * 32


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    d = tmp_path / "support-demo"
    d.mkdir()
    (d / "adapter_config.json").write_text("{}")
    (d / "README.md").write_text(PEFT_CARD)
    return d


def _point_at(results: dict[str, Any], adapter: Path) -> dict[str, Any]:
    cand = results["models"]["candidates"][0]
    cand["spec"]["adapter"] = str(adapter)
    cand["content_fingerprint"] = content_fingerprint(adapter)
    return results


def test_front_matter_and_body_are_preserved(results: dict[str, Any], adapter: Path) -> None:
    card = stamp_adapter(as_record(_point_at(results, adapter)), adapter, results_sha256=SHA)
    meta, body = split_front_matter(card.read_text())
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta["library_name"] == "peft" and meta["tags"][1] == "lora"
    original_body = PEFT_CARD.split("---\n", 2)[2]
    assert body.startswith(original_body.rstrip("\n"))
    assert body.count(BEGIN) == body.count(END) == 1
    assert "❌ FAIL — support/eval exact_match[category]: REGRESSED" in body
    assert f"results.json sha256 `{SHA}`" in body


def test_model_index_holds_suites_metrics_and_verdict(results: dict[str, Any], adapter: Path) -> None:
    card = stamp_adapter(as_record(_point_at(results, adapter)), adapter, results_sha256=SHA)
    meta, _ = split_front_matter(card.read_text())
    (entry,) = meta["model-index"]
    assert entry["name"] == "support-demo"
    by_suite = {r["dataset"]["name"]: r for r in entry["results"]}
    assert set(by_suite) == {"support/eval", "general/arc-easy"}
    exact = next(m for m in by_suite["support/eval"]["metrics"] if m["type"] == "exact_match[category]")
    cmp = results["comparisons"][0]
    assert exact["value"] == pytest.approx(cmp["candidate_mean"], rel=1e-5)
    assert exact["args"]["base"] == pytest.approx(cmp["base_mean"], rel=1e-5)
    assert exact["args"]["verdict"] == "REGRESSED" and exact["verified"] is False
    assert meta["tunegate"]["verdict"] == "FAIL" and meta["tunegate"]["results_sha256"] == SHA


def test_huggingface_hub_reads_the_stamped_card(results: dict[str, Any], adapter: Path) -> None:
    repocard_data = pytest.importorskip("huggingface_hub.repocard_data")
    card = stamp_adapter(as_record(_point_at(results, adapter)), adapter, results_sha256=SHA)
    meta, _ = split_front_matter(card.read_text())
    name, evals = repocard_data.model_index_to_eval_results(meta["model-index"])
    assert name == "support-demo"
    assert {e.dataset_name for e in evals} == {"support/eval", "general/arc-easy"}
    assert {e.metric_type for e in evals} >= {"exact_match[category]", "accuracy"}


def test_restamping_replaces_and_keeps_other_evaluations(results: dict[str, Any], adapter: Path) -> None:
    readme = adapter / "README.md"
    meta, body = split_front_matter(readme.read_text())
    meta["model-index"] = [
        {
            "name": "support-demo",
            "results": [
                {"task": {"type": "text-generation"}, "dataset": {"name": "MMLU", "type": "cais/mmlu"},
                 "metrics": [{"type": "accuracy", "value": 0.31}]}
            ],
        },
        {"name": "another-model", "results": []},
    ]  # fmt: skip
    readme.write_text(f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n{body}")
    _point_at(results, adapter)
    stamp_adapter(as_record(results), adapter, results_sha256=SHA)
    first = readme.read_text()
    stamp_adapter(as_record(results), adapter, results_sha256=SHA)
    assert readme.read_text() == first, "stamping twice is idempotent"
    meta, body = split_front_matter(first)
    ours = next(e for e in meta["model-index"] if e["name"] == "support-demo")
    datasets = [r["dataset"]["type"] for r in ours["results"]]
    assert datasets == ["cais/mmlu", "support/eval", "general/arc-easy"]
    assert any(e["name"] == "another-model" for e in meta["model-index"])
    assert body.count(BEGIN) == 1


def test_card_is_created_when_missing(results: dict[str, Any], adapter: Path) -> None:
    (adapter / "README.md").unlink()
    card = stamp_adapter(as_record(_point_at(results, adapter)), adapter, results_sha256=SHA)
    text = card.read_text()
    assert text.startswith("---\nmodel-index:") and BEGIN in text
    assert oct(os.stat(card).st_mode & 0o777) in ("0o644", "0o664", "0o666")


def test_write_is_atomic_and_keeps_the_mode(results: dict[str, Any], adapter: Path) -> None:
    readme = adapter / "README.md"
    readme.chmod(0o640)
    stamp_adapter(as_record(_point_at(results, adapter)), adapter, results_sha256=SHA)
    assert readme.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in adapter.iterdir()) == ["README.md", "adapter_config.json"]


def test_invalid_front_matter_is_refused_untouched(results: dict[str, Any], adapter: Path) -> None:
    readme = adapter / "README.md"
    readme.write_text("---\nbase_model: [unclosed\n---\nbody\n")
    with pytest.raises(DataError, match=r"line 2: front matter is not valid YAML \(expected ',' or '\]'"):
        stamp_adapter(as_record(_point_at(results, adapter)), adapter, results_sha256=SHA)
    assert readme.read_text() == "---\nbase_model: [unclosed\n---\nbody\n"
    readme.write_text("---\nlibrary_name: peft\nno closing line\n")
    with pytest.raises(DataError, match="no closing '---' line"):
        stamp_adapter(as_record(results), adapter, results_sha256=SHA)


def test_refuses_an_adapter_that_was_not_gated(
    results: dict[str, Any], adapter: Path, tmp_path: Path
) -> None:
    other = tmp_path / "some-other-adapter"
    other.mkdir()
    (other / "adapter_config.json").write_text('{"r": 8}')
    _point_at(results, other)
    with pytest.raises(ConfigError, match="did not evaluate this adapter: its content fingerprint is"):
        stamp_adapter(as_record(results), adapter, results_sha256=SHA)
    assert (adapter / "README.md").read_text() == PEFT_CARD
    with pytest.raises(ConfigError, match="not a directory"):
        stamp_adapter(as_record(results), tmp_path / "missing", results_sha256=SHA)


def test_matches_by_content_not_by_path_text(
    results: dict[str, Any], adapter: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (adapter / "adapter_model.safetensors").write_bytes(b"gated weights")
    _point_at(results, adapter)
    results["models"]["candidates"][0]["spec"]["adapter"] = "adapters/support-demo"  # relative, as typed
    # a byte-identical copy elsewhere (pushed to a registry and pulled back) is the gated adapter
    copy = tmp_path / "pulled" / "renamed"
    copy.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (copy / name).write_bytes((adapter / name).read_bytes())
    card = stamp_adapter(as_record(results), copy, results_sha256=SHA)
    meta, _ = split_front_matter(card.read_text())
    assert meta["tunegate"]["candidate"]["content_fingerprint"] == content_fingerprint(adapter)
    # another adapter at the very path results.json names is not
    impostor = tmp_path / "elsewhere" / "adapters" / "support-demo"
    impostor.mkdir(parents=True)
    (impostor / "adapter_config.json").write_text("{}")
    (impostor / "adapter_model.safetensors").write_bytes(b"other weights")
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="did not evaluate this adapter"):
        stamp_adapter(as_record(results), Path("adapters/support-demo"), results_sha256=SHA)
    assert not (impostor / "README.md").exists()


def test_results_without_content_fingerprints_cannot_stamp(results: dict[str, Any], adapter: Path) -> None:
    results["models"]["candidates"][0]["spec"]["adapter"] = str(adapter)
    results["models"]["candidates"][0].pop("content_fingerprint", None)
    with pytest.raises(ConfigError, match=r"records no content fingerprint .*re-run the gate"):
        stamp_adapter(as_record(results), adapter, results_sha256=SHA)


def test_card_without_front_matter_gets_one(results: dict[str, Any], adapter: Path) -> None:
    (adapter / "README.md").write_text("# My adapter\n\nHand-written notes.\n")
    text = stamp_adapter(as_record(_point_at(results, adapter)), adapter, results_sha256=SHA).read_text()
    meta, body = split_front_matter(text)
    assert "model-index" in meta
    assert body.startswith("# My adapter\n\nHand-written notes.\n\n" + BEGIN)
