"""The one atomic writer: whole files or the old one, with the modes a plain write would have."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tunegate.harness.atomic import current_umask, plain_modes, write_atomic


def test_a_write_replaces_the_whole_file_with_the_umasks_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        target = write_atomic(tmp_path / "deep" / "out.json", '{"a": 1}')
        assert target.read_text() == '{"a": 1}'
        assert stat.S_IMODE(target.stat().st_mode) == 0o640  # 0666 & ~027, not mkstemp's 0600
        write_atomic(target, b"\x00\x01", mode=0o600)
        assert target.read_bytes() == b"\x00\x01" and stat.S_IMODE(target.stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]  # no temp file left


def test_a_failed_write_keeps_the_previous_version(tmp_path: Path) -> None:
    target = write_atomic(tmp_path / "out.txt", "first")
    with pytest.raises(TypeError):
        write_atomic(target, 3)  # type: ignore[arg-type]
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_plain_modes_opens_a_private_tree(tmp_path: Path) -> None:
    root = tmp_path / "adapter"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "w.safetensors").write_bytes(b"x")
    os.chmod(root, 0o700)
    os.chmod(root / "sub" / "w.safetensors", 0o600)
    old = os.umask(0o022)
    try:
        plain_modes(root)
    finally:
        os.umask(old)
    assert stat.S_IMODE(root.stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "sub" / "w.safetensors").stat().st_mode) == 0o644
