"""Content-addressed response cache in SQLite (WAL).

key = sha256(model fingerprint, rendered prompt, generation params). Two runs with the same
fingerprint and prompt reuse the stored completion; generations are committed batch by batch, so
a run killed with SIGKILL resumes with every finished generation reused. Several processes
(pytest-xdist workers) may share one cache file: SQLite's WAL mode and a busy timeout serialise
their writes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import CacheError
from harness.models.base import Completion

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    text TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_fp ON responses(fingerprint);
"""


def cache_key(fingerprint: str, prompt: str, params_key: str) -> str:
    h = hashlib.sha256()
    for part in (fingerprint, prompt, params_key):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass
class CacheCounters:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class ResponseCache:
    """SQLite-backed store of completions. ``ResponseCache(None)`` is a disabled cache."""

    FILENAME = "responses.sqlite"

    def __init__(self, cache_dir: str | Path | None, *, enabled: bool = True) -> None:
        self.enabled = enabled and cache_dir is not None
        self.counters = CacheCounters()
        self.path = Path(cache_dir) / self.FILENAME if cache_dir is not None else None
        self._conn: sqlite3.Connection | None = None

    # -- connection ---------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
                conn.execute("SELECT count(*) FROM responses").fetchone()
            except sqlite3.DatabaseError as exc:
                raise CacheError(
                    f"the response cache {self.path} is unreadable ({exc}); "
                    f"remove it with `tunegate cache clear --cache-dir {self.path.parent}` or run with --no-cache"
                ) from None
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- reads and writes ---------------------------------------------------------------------
    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        if not self.enabled or not keys:
            return {}
        found: dict[str, Completion] = {}
        db = self._db()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            try:
                rows = db.execute(
                    f"SELECT key, text, n_tokens, finish_reason FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                raise CacheError(f"reading the response cache {self.path} failed: {exc}") from None
            for key, text, n_tokens, finish in rows:
                found[key] = Completion(text=text, n_tokens=n_tokens, finish_reason=finish, cached=True)
        return found

    def put_many(self, fingerprint: str, entries: Iterable[tuple[str, Completion]]) -> None:
        if not self.enabled:
            return
        rows = [
            (key, fingerprint, c.text, c.n_tokens, c.finish_reason, time.time())
            for key, c in entries
            if c.finish_reason != "error"
        ]
        if not rows:
            return
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise CacheError(f"writing the response cache {self.path} failed: {exc}") from None

    # -- maintenance --------------------------------------------------------------------------
    def stats(self) -> dict[str, object]:
        if self.path is None or not self.path.exists():
            return {"path": str(self.path), "entries": 0, "models": 0, "bytes": 0}
        db = self._db()
        entries, models = db.execute("SELECT count(*), count(DISTINCT fingerprint) FROM responses").fetchone()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.FILENAME + "*"))
        return {"path": str(self.path), "entries": entries, "models": models, "bytes": size}

    def clear(self) -> int:
        if self.path is None or not self.path.exists():
            return 0
        db = self._db()
        n = db.execute("SELECT count(*) FROM responses").fetchone()[0]
        db.execute("DELETE FROM responses")
        db.execute("VACUUM")
        return int(n)
