"""Content hashes of model files, memoised so a rerun re-hashes nothing it need not.

The memo lives in a small JSON file under the cache dir, keyed by (resolved path, size, mtime_ns,
ctime_ns, inode): a rewrite of a file changes its ctime (which no user call can set back), and a
replaced file gets a new inode, so a same-size rewrite with the mtime restored is hashed again.
Fingerprints are what the response cache, the trainer's provenance and ``--stamp`` rely on.

Every file a model loader can read is part of a fingerprint: weights in any format (safetensors,
pickle checkpoints, GGUF, Keras/TF, Flax, NumPy, ONNX, sharded files and their index), configs,
tokenizer files, chat templates and custom modelling code. Hidden files and folders (``.git``,
``.cache``) and prose (README.md) are skipped: stamping a model card does not change a model.
So is the trainer's provenance manifest (``tunegate.json``), and a peft ``adapter_config.json``
is hashed in canonical form (without the base's path, lists peft treats as sets sorted): the
same weights trained twice, on two machines, have one fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock

from tunegate.harness.atomic import write_atomic
from tunegate.harness.manifest import MANIFEST

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib")
"""Weight formats read through pickle: loading one can run arbitrary code."""

OTHER_WEIGHT_SUFFIXES = (
    ".safetensors", ".gguf", ".h5", ".hdf5", ".keras", ".msgpack", ".npz", ".npy", ".onnx",
    ".tflite", ".ot", ".pb", ".index",
)  # fmt: skip
WEIGHT_FORMAT_SUFFIXES = OTHER_WEIGHT_SUFFIXES + PICKLE_SUFFIXES
"""Every weight file suffix a model dir can hold (sharded files share their format's suffix)."""

METADATA_SUFFIXES = (".json", ".model", ".txt", ".jinja", ".tiktoken", ".vocab", ".spm", ".py", ".yaml")
"""Configs, sharded-weight index files (``*.index.json``), tokenizers, chat templates, code."""

# TensorFlow checkpoint shards: model.ckpt.data-00000-of-00001 (no usable suffix).
_TF_SHARD = re.compile(r"\.data-\d+-of-\d+$")
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def is_weight_file(name: str) -> bool:
    """True for a file name in any weight format (safetensors, pickle, GGUF, TF, Flax, ...)."""
    return name.endswith(WEIGHT_FORMAT_SUFFIXES) or bool(_TF_SHARD.search(name))


def is_pickle_file(name: str) -> bool:
    return name.endswith(PICKLE_SUFFIXES)


class HashMemo:
    """sha256 of files, remembered across processes by (path, size, mtime_ns, ctime_ns, inode)."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.path = None if cache_dir is None else Path(cache_dir) / "file_hashes.json"
        self._memo: dict[str, str] = {}
        if self.path is not None and self.path.exists():
            try:
                loaded = json.loads(self.path.read_text())
                self._memo = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self._memo = {}  # a damaged memo only costs re-hashing

    @staticmethod
    def _key(path: Path) -> str:
        st = path.stat()
        return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_dev}:{st.st_ino}"

    def sha256(self, path: Path) -> str:
        key = self._key(path)
        cached = self._memo.get(key)
        if not isinstance(cached, str):
            cached = self._memo[key] = sha256_file(path)
            self._save(key)
        return cached

    def _save(self, key: str) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.path) + ".lock"):
                current: dict[str, str] = {}
                if self.path.exists():
                    try:
                        loaded = json.loads(self.path.read_text())
                        current = loaded if isinstance(loaded, dict) else {}
                    except (OSError, ValueError):
                        current = {}
                current[key] = self._memo[key]
                write_atomic(self.path, json.dumps(current))
        except OSError:
            return  # a memo that cannot be written only costs re-hashing next time


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


PROVENANCE_FILES = frozenset({MANIFEST})
"""The trainer's provenance manifest: how an adapter was made (paths, times, commit), not what it
computes. Skipped, so byte-identical weights trained twice have one fingerprint."""

ADAPTER_CONFIG = "adapter_config.json"
_CONFIG_PATHS = ("base_model_name_or_path", "revision")
"""Where the adapter was trained from: the base under test is given by ``--base`` and checked
against this field separately (``tunegate.harness.models.adapters``); it does not change what the adapter
computes, and it holds a machine-specific path."""
_CONFIG_SETS = ("target_modules", "modules_to_save", "exclude_modules")
"""Lists peft reads as sets (and writes in set order, which varies between runs)."""


def adapter_config_digest(path: Path) -> str | None:
    """sha256 of a peft ``adapter_config.json`` in canonical form (keys sorted, the base's path
    left out, set-valued lists sorted); None when it is not a JSON object."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict):
        return None
    canon = {k: v for k, v in cfg.items() if k not in _CONFIG_PATHS}
    for key in _CONFIG_SETS:
        value = canon.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            canon[key] = sorted(value)
    text = json.dumps(canon, sort_keys=True, ensure_ascii=False)
    return "canon:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def dir_digest(folder: Path, memo: HashMemo, suffixes: Iterable[str] | None = None) -> dict[str, str]:
    """{relative file name: sha256} of the model files in ``folder`` (README and the like skipped).

    By default every weight format and every config/tokenizer/code file is included; pass
    ``suffixes`` to restrict it.
    """
    out: dict[str, str] = {}
    wanted = None if suffixes is None else tuple(suffixes)
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if _hidden(rel) or not p.is_file():
            continue
        if wanted is None:
            keep = p.name.endswith(METADATA_SUFFIXES) or is_weight_file(p.name)
        else:
            keep = p.name.endswith(wanted)
        if not keep or str(rel) in PROVENANCE_FILES:
            continue
        canonical = adapter_config_digest(p) if str(rel) == ADAPTER_CONFIG else None
        out[str(rel)] = canonical or memo.sha256(p)
    return out


def content_fingerprint(folder: Path, memo: HashMemo | None = None) -> str:
    """One sha256 for the model files of ``folder``: equal for byte-identical copies anywhere."""
    return digest(dir_digest(Path(folder), memo or HashMemo(None)))


def digest(obj: Any) -> str:
    """sha256 of a JSON-serialisable object in canonical form."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def project_root(start: Path | None = None) -> Path:
    """The project a run belongs to: the git work tree holding ``start`` (default: cwd), else it.

    Provenance paths are recorded relative to it, so a repository cloned or an adapter copied
    elsewhere still finds its files when run from the project root.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def path_in_project(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` in POSIX form, or None when it lies outside the project."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
