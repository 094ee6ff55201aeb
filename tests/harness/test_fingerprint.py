"""Fingerprints see every weight format, and a same-size rewrite with the mtime restored."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tunegate.harness.fingerprint import (
    WEIGHT_FORMAT_SUFFIXES,
    HashMemo,
    content_fingerprint,
    dir_digest,
    is_weight_file,
)
from tunegate.harness.manifest import manifest_path


def _checkpoint(folder: Path, weights: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "README.md").write_text("# card\n")
    for name, blob in weights.items():
        (folder / name).write_bytes(blob)
    return folder


def test_checkpoints_differing_only_in_a_pickle_weight_differ(tmp_path: Path) -> None:
    memo = HashMemo(tmp_path / "cache")
    a = _checkpoint(tmp_path / "a", {"pytorch_model.bin": b"\x00" * 64})
    b = _checkpoint(tmp_path / "b", {"pytorch_model.bin": b"\x01" * 64})
    assert "pytorch_model.bin" in dir_digest(a, memo)
    assert content_fingerprint(a, memo) != content_fingerprint(b, memo)


@pytest.mark.parametrize(
    "name",
    [
        *(f"model{suffix}" for suffix in WEIGHT_FORMAT_SUFFIXES),
        "model-00001-of-00002.safetensors",
        "model.safetensors.index.json",
        "tf_model.h5",
        "flax_model.msgpack",
        "model.ckpt.data-00000-of-00001",
        "modeling_custom.py",
    ],
)
def test_every_weight_format_changes_the_fingerprint(tmp_path: Path, name: str) -> None:
    folder = _checkpoint(tmp_path / "m", {name: b"A" * 32})
    memo = HashMemo(None)
    before = content_fingerprint(folder, memo)
    (folder / name).write_bytes(b"B" * 32)
    assert content_fingerprint(folder, memo) != before, name


def test_readme_hidden_files_and_copies_do_not_change_it(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "m", {"model.safetensors": b"w" * 16})
    before = content_fingerprint(folder)
    (folder / "README.md").write_text("# stamped card\n")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "x.bin").write_bytes(b"junk")
    assert content_fingerprint(folder) == before
    copy = shutil.copytree(folder, tmp_path / "elsewhere" / "copy")
    assert content_fingerprint(copy) == before
    assert is_weight_file("model.ckpt.data-00000-of-00001") and not is_weight_file("README.md")


@pytest.mark.parametrize("name", ["model.safetensors", "pytorch_model.bin", "model.gguf", "weights.npz"])
def test_same_size_rewrite_with_mtime_restored_rehashes(tmp_path: Path, name: str) -> None:
    folder = _checkpoint(tmp_path / "m", {name: b"\x10" * 4096})
    weight = folder / name
    cache = tmp_path / "cache"
    first = content_fingerprint(folder, HashMemo(cache))
    st = weight.stat()
    with weight.open("r+b") as fh:  # same inode, same size, new bytes
        fh.write(b"\x11" * 4096)
    os.utime(weight, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert weight.stat().st_mtime_ns == st.st_mtime_ns and weight.stat().st_size == st.st_size
    assert content_fingerprint(folder, HashMemo(cache)) != first  # a fresh process: memo on disk
    # replaced by another file (new inode), size and mtime kept
    other = tmp_path / "other"
    other.write_bytes(b"\x12" * 4096)
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, weight)
    memo = HashMemo(cache)
    assert memo.sha256(weight) == __import__("hashlib").sha256(b"\x12" * 4096).hexdigest()


def test_damaged_or_unwritable_memo_only_costs_rehashing(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "m", {"model.safetensors": b"w" * 16})
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "file_hashes.json").write_text("[1, 2")
    expected = content_fingerprint(folder)
    assert content_fingerprint(folder, HashMemo(cache)) == expected
    (cache / "file_hashes.json").write_text("[1, 2]")  # valid JSON, wrong shape
    assert content_fingerprint(folder, HashMemo(cache)) == expected


def _adapter(folder: Path, weights: bytes, config: dict[str, object], manifest: str | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(weights)
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
    if manifest is not None:
        manifest_path(folder).write_text(manifest)
    return folder


def test_the_same_adapter_trained_twice_has_one_fingerprint(tmp_path: Path) -> None:
    """Byte-identical weights from two training runs on two machines: the base's path in
    adapter_config.json, peft's set order of target_modules and the provenance manifest differ."""
    cfg = {"r": 16, "lora_alpha": 32, "peft_type": "LORA", "target_modules": ["q_proj", "v_proj", "o_proj"]}
    a = _adapter(
        tmp_path / "a",
        b"W" * 64,
        {**cfg, "base_model_name_or_path": "/tmp/c1/cache/models/base-1"},
        manifest='{"created": "2026-11-29T21:00:00", "output": "/tmp/c1/p/artifacts/x"}',
    )
    b = _adapter(
        tmp_path / "b",
        b"W" * 64,
        {**cfg, "target_modules": ["v_proj", "o_proj", "q_proj"], "base_model_name_or_path": "/tmp/c2/other"},
        manifest='{"created": "2026-11-29T22:00:00", "output": "/tmp/c2/p/artifacts/x"}',
    )
    assert content_fingerprint(a) == content_fingerprint(b)
    # What the adapter computes still counts: its rank, its scale, its modules, its weights.
    for name, change in [
        ("r", {"r": 8}),
        ("alpha", {"lora_alpha": 16}),
        ("modules", {"target_modules": ["q_proj", "v_proj"]}),
    ]:
        other = _adapter(tmp_path / name, b"W" * 64, {**cfg, **change})
        assert content_fingerprint(other) != content_fingerprint(a), name
    assert content_fingerprint(_adapter(tmp_path / "w", b"V" * 64, cfg)) != content_fingerprint(a)
    # A config that is not a JSON object is hashed as bytes, not dropped.
    broken = _adapter(tmp_path / "broken", b"W" * 64, cfg)
    (broken / "adapter_config.json").write_text("{not json")
    broken2 = _adapter(tmp_path / "broken2", b"W" * 64, cfg)
    (broken2 / "adapter_config.json").write_text("{not json either")
    assert content_fingerprint(broken) != content_fingerprint(broken2)
