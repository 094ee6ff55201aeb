"""tunegate.json provenance travels with a copied adapter and is verified by content."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tunegate.harness.errors import DataError
from tunegate.harness.leakage import training_files_from_manifest
from tunegate.harness.manifest import manifest_path, write_manifest
from tunegate.trainers.config import TrainConfig
from tunegate.trainers.manifest import build_manifest


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git project with training data and an adapter whose manifest the trainer's writer wrote."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    data = root / "suites" / "data" / "support"
    data.mkdir(parents=True)
    (data / "train.jsonl").write_text('{"text": "train line"}\n')
    (data / "dev.jsonl").write_text('{"text": "dev line"}\n')
    base = root / "base"
    base.mkdir()
    (base / "config.json").write_text('{"model_type": "llama"}')
    (base / "model.safetensors").write_bytes(b"weights")
    adapter = root / "adapters" / "support"
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"lora")
    monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(data)  # trained from a sub-directory: the root is still the git work tree
    cfg = TrainConfig(train="train.jsonl", dev="dev.jsonl", output=str(adapter), base=str(base))
    write_manifest(adapter, build_manifest(cfg, base, {}, "train.yaml"))
    monkeypatch.chdir(root)
    return root


def test_manifest_records_hash_and_project_path(project: Path) -> None:
    manifest = json.loads(manifest_path(project / "adapters" / "support").read_text())
    train = manifest["data"]["train"]
    assert train["project_path"] == "suites/data/support/train.jsonl"
    assert train["path"] == "train.jsonl"  # the old fields stay
    assert train["sha256"] == hashlib.sha256(b'{"text": "train line"}\n').hexdigest()
    assert manifest["project_root"] == str(project.resolve())
    assert manifest["format_version"] == 2


def test_a_copied_adapter_finds_its_data_from_the_project_root(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = Path(shutil.copytree(project / "adapters" / "support", tmp_path / "pulled" / "support"))
    data = project / "suites" / "data" / "support"
    assert training_files_from_manifest(copy) == [data / "train.jsonl", data / "dev.jsonl"]
    # the project is cloned elsewhere and the original is gone: its absolute paths are stale
    clone = project.rename(tmp_path / "clone")
    monkeypatch.chdir(clone)
    cloned = clone / "suites" / "data" / "support"
    assert training_files_from_manifest(copy) == [cloned / "train.jsonl", cloned / "dev.jsonl"]
    # from anywhere else, the rootdir names the project
    monkeypatch.chdir(tmp_path)
    assert training_files_from_manifest(copy, rootdir=clone)[0] == cloned / "train.jsonl"
    with pytest.raises(DataError, match=r"'suites/data/support/train.jsonl' has moved or was deleted"):
        training_files_from_manifest(copy)
    # or --train-data hands the files over; they are matched by content, not by name
    renamed = tmp_path / "t.jsonl"
    shutil.copy(cloned / "train.jsonl", renamed)
    assert training_files_from_manifest(copy, include_dev=False, train_data=[renamed]) == [renamed]


def test_a_changed_file_is_refused_by_name_with_both_hashes(project: Path, tmp_path: Path) -> None:
    data = project / "suites" / "data" / "support"
    original = (data / "train.jsonl").read_bytes()
    (data / "train.jsonl").write_text('{"text": "edited"}\n')
    recorded = hashlib.sha256(original).hexdigest()[:12]
    found = hashlib.sha256(b'{"text": "edited"}\n').hexdigest()[:12]
    adapter = project / "adapters" / "support"
    with pytest.raises(DataError) as err:
        training_files_from_manifest(adapter)
    text = str(err.value)
    assert "the train file 'suites/data/support/train.jsonl' changed since training" in text
    assert f"sha256 {found}" in text and f"trained on sha256 {recorded}" in text
    assert "--train-data" in text
    exact = tmp_path / "train.jsonl"
    exact.write_bytes(original)
    assert training_files_from_manifest(adapter, train_data=[exact])[0] == exact
    wrong = tmp_path / "other" / "train.jsonl"
    wrong.parent.mkdir()
    wrong.write_text("{}\n")
    with pytest.raises(DataError, match="changed since training"):
        training_files_from_manifest(adapter, include_dev=False, train_data=[wrong])


def test_format_1_manifests_still_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = tmp_path / "data" / "train.jsonl"
    train.parent.mkdir()
    train.write_text('{"text": "a"}\n')
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    sha = hashlib.sha256(train.read_bytes()).hexdigest()
    write_manifest(adapter, {"format_version": 1, "data": {"train": {"path": "data/train.jsonl", "sha256": sha}}})
    monkeypatch.chdir(tmp_path)
    assert training_files_from_manifest(adapter) == [tmp_path / "data" / "train.jsonl"]
    manifest_path(adapter).write_text("{not json")
    with pytest.raises(Exception, match="not a readable JSON object") as err:
        training_files_from_manifest(adapter)
    from tunegate.harness.errors import TunegateError

    assert isinstance(err.value, TunegateError)
