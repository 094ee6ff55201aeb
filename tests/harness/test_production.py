"""The production record and ``production_reference``: the adapter in production, checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunegate.harness.errors import ConfigError, DataError
from tunegate.harness.fingerprint import content_fingerprint
from tunegate.harness.production import (
    RECORD_NAME,
    ProductionRecord,
    ResultsDigest,
    production_reference,
    project_dir,
    read_record,
    write_record,
)


def _adapter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text('{"r": 8}', encoding="utf-8")
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    return folder


def _record(adapter: Path, root: Path) -> ProductionRecord:
    return ProductionRecord(
        schema=1, adapter=adapter.relative_to(root).as_posix(), label="v1", fingerprint=content_fingerprint(adapter),
        promoted_at="2026-12-06T17:40:00Z", results=ResultsDigest(path="reports/results.json", sha256="ab" * 32),
        verdict="PASS", base="sha256:" + "3f" * 32,
    )  # fmt: skip


def test_the_reference_is_the_recorded_adapter(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path / "artifacts" / "v1")
    path = write_record(tmp_path, _record(adapter, tmp_path))
    assert path == tmp_path / RECORD_NAME and json.loads(path.read_text())["schema"] == 1
    assert production_reference(tmp_path) == tmp_path / "artifacts" / "v1"
    assert read_record(path) == _record(adapter, tmp_path)


def test_no_record_says_to_promote(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no production record; promote a gated adapter first with `tunegate promote RESULTS.json`"):
        production_reference(tmp_path)


def test_a_missing_adapter_is_named(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path / "artifacts" / "v1")
    write_record(tmp_path, _record(adapter, tmp_path))
    for f in adapter.iterdir():
        f.unlink()
    adapter.rmdir()
    with pytest.raises(ConfigError, match=r"the production adapter 'artifacts/v1' \(.*\) is not a directory"):
        production_reference(tmp_path)


def test_an_adapter_changed_since_promotion_is_refused(tmp_path: Path) -> None:
    adapter = _adapter(tmp_path / "artifacts" / "v1")
    write_record(tmp_path, _record(adapter, tmp_path))
    (adapter / "adapter_model.safetensors").write_bytes(b"retrained")
    with pytest.raises(ConfigError, match=r"'artifacts/v1' changed since it was promoted on 2026-12-06T17:40:00Z"):
        production_reference(tmp_path)
    (adapter / "README.md").write_text("a card", encoding="utf-8")  # prose is not the model
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    assert production_reference(tmp_path) == adapter


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('{"schema": 1}', "adapter: Field required"),
        ("[]", "Input should be a valid dictionary"),
        ('{"schema": 2, "adapter": "a", "label": "v", "fingerprint": "' + "a" * 64 + '", "promoted_at": "t", '
         '"results": {"path": "r", "sha256": "' + "b" * 64 + '"}, "verdict": "PASS", "base": "b"}', "schema: Input should be 1"),
        ('{"schema": 1, "adapter": "a", "label": "v", "fingerprint": "short", "promoted_at": "t", '
         '"results": {"path": "r", "sha256": "' + "b" * 64 + '"}, "verdict": "FAIL", "base": "b"}', "fingerprint: String should match"),
    ],
)  # fmt: skip
def test_a_malformed_record_names_the_file_and_field(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / RECORD_NAME).write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        production_reference(tmp_path)
    assert info.value.path == str(tmp_path / RECORD_NAME)
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_the_project_is_the_folder_with_a_tunegate_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.tunegate]\n", encoding="utf-8")
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")  # not tunegate's
    (inner / "deep").mkdir()
    assert project_dir(inner / "deep") == tmp_path.resolve()
    bare = tmp_path.parent / f"{tmp_path.name}-bare"
    bare.mkdir()
    assert project_dir(bare) == bare.resolve()
