"""Fingerprints see every weight format, and a same-size rewrite with the mtime restored."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.fingerprint import (
    WEIGHT_FORMAT_SUFFIXES,
    HashMemo,
    content_fingerprint,
    dir_digest,
    is_weight_file,
)


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
