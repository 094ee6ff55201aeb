"""Content hashes of model files, memoised by (path, size, mtime) so a rerun re-hashes nothing.

The memo lives in a small JSON file under the cache dir; a changed file (size or mtime) is hashed
again. Fingerprints are what the response cache and the trainer's provenance rely on.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock

WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".json", ".model", ".txt", ".jinja")
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class HashMemo:
    """sha256 of files, remembered across processes by (resolved path, size, mtime_ns)."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.path = None if cache_dir is None else Path(cache_dir) / "file_hashes.json"
        self._memo: dict[str, str] = {}
        if self.path is not None and self.path.exists():
            try:
                self._memo = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self._memo = {}  # a damaged memo only costs re-hashing

    @staticmethod
    def _key(path: Path) -> str:
        st = path.stat()
        return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def sha256(self, path: Path) -> str:
        key = self._key(path)
        if key not in self._memo:
            self._memo[key] = sha256_file(path)
            self._save(key)
        return self._memo[key]

    def _save(self, key: str) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):
            current: dict[str, str] = {}
            if self.path.exists():
                try:
                    current = json.loads(self.path.read_text())
                except (OSError, ValueError):
                    current = {}
            current[key] = self._memo[key]
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".hashes-")
            with os.fdopen(fd, "w") as fh:
                json.dump(current, fh)
            os.replace(tmp, self.path)


def dir_digest(folder: Path, memo: HashMemo, suffixes: Iterable[str] = WEIGHT_SUFFIXES) -> dict[str, str]:
    """{relative file name: sha256} of the model files in ``folder`` (README and the like skipped)."""
    out: dict[str, str] = {}
    wanted = tuple(suffixes)
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name.endswith(wanted) and not p.name.startswith("."):
            out[str(p.relative_to(folder))] = memo.sha256(p)
    return out


def digest(obj: Any) -> str:
    """sha256 of a JSON-serialisable object in canonical form."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
