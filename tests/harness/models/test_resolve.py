"""--base mistakes are one ModelLoadError (a TunegateError), never an OSError traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunegate.harness.errors import ModelLoadError
from tunegate.harness.models.resolve import resolve_base


@pytest.mark.parametrize("spec", ["", "bad\x00name", "./no/such/dir", "not-a-hub-id"])
def test_unusable_specs(spec: str, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="pass"):
        resolve_base(spec, tmp_path)


def test_unwritable_cache_for_a_gguf_base(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    with pytest.raises(ModelLoadError, match=r"cannot convert .*model.gguf.*pass --cache-dir"):
        resolve_base(str(gguf), blocker)


def test_a_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="has no config.json"):
        resolve_base(str(tmp_path), tmp_path)
