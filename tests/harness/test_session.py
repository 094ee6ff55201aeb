"""The run state refuses an adapter trained on another base and picks the NF4 base for QLoRA."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tunegate.harness.errors import ConfigError
from tunegate.harness.manifest import write_manifest
from tunegate.harness.options import RunOptions
from tunegate.harness.session import RunState


def _options(base: Path, adapter: Path, tmp_path: Path, **kw: object) -> RunOptions:
    return RunOptions(base=str(base), candidate=(str(adapter),), dtype="fp32", cache_dir=str(tmp_path / "cache"), **kw)  # type: ignore[arg-type]


def _retarget(adapter: Path, tmp_path: Path, base_name: str) -> Path:
    moved = tmp_path / "other-adapter"
    shutil.copytree(adapter, moved)
    cfg = json.loads((moved / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = base_name
    (moved / "adapter_config.json").write_text(json.dumps(cfg))
    return moved


def test_adapter_trained_on_another_base_is_refused(tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path) -> None:
    other = _retarget(tiny_adapter_dir, tmp_path, "meta-llama/Llama-3.2-1B-Instruct")
    with pytest.raises(ConfigError, match=r"trained on another base: .*Llama-3\.2-1B-Instruct.*--allow-base-mismatch"):
        RunState(_options(tiny_model_dir, other, tmp_path))
    run = RunState(_options(tiny_model_dir, other, tmp_path, allow_base_mismatch=True))
    assert any(n.startswith("BASE MISMATCH") for n in run.notes)


def test_qlora_adapter_is_gated_against_the_nf4_base(tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path) -> None:
    qlora = tmp_path / "qlora"
    shutil.copytree(tiny_adapter_dir, qlora)
    write_manifest(qlora, {"kind": "qlora", "config": {"quantization": "nf4"}})
    run = RunState(_options(tiny_model_dir, qlora, tmp_path))
    assert run.base.spec.quantization == "nf4" and run.candidates[0].spec.quantization == "nf4"
    assert any("NF4" in n for n in run.notes)
    run = RunState(_options(tiny_model_dir, qlora, tmp_path, quantization="none"))
    assert run.base.spec.quantization == "none"
