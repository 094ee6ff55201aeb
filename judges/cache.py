"""The judge cache: SQLite (WAL) under the tunegate cache dir, one row per finished judgment.

key = sha256(provider settings (provider, model, options that change answers), rubric hash,
prompt template version, mode and order, the context, the judged text(s), the reference). Only
verdicts are stored (with the raw answer and token counts); failures are not, so a later run
asks again. No key, header or credential is ever part of a row.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import CacheError

SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    rubric_hash TEXT NOT NULL,
    verdict TEXT NOT NULL,
    raw TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    created REAL NOT NULL
);
"""


def judgment_key(
    *,
    provider_settings: str,
    rubric_hash: str,
    prompt_version: str,
    mode: str,
    context: str,
    texts: Sequence[str],
    reference: str | None,
) -> str:
    h = hashlib.sha256()
    parts = [
        provider_settings,
        rubric_hash,
        prompt_version,
        mode,
        context,
        reference or "",
        str(len(texts)),
        *texts,
    ]
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass(frozen=True)
class CachedJudgment:
    verdict: dict[str, Any]
    raw: str
    input_tokens: int
    output_tokens: int


class JudgeCache:
    """``JudgeCache(None)`` is a disabled cache (every lookup misses, nothing is written)."""

    FILENAME = "judgments.sqlite"

    def __init__(self, cache_dir: str | Path | None) -> None:
        self.path = Path(cache_dir) / self.FILENAME if cache_dir is not None else None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            assert self.path is not None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
                conn.execute("SELECT count(*) FROM judgments").fetchone()
            except (sqlite3.DatabaseError, OSError) as exc:
                raise CacheError(
                    f"the judge cache {self.path} is unreadable ({exc}); delete that file or run without the cache"
                ) from None
            self._conn = conn
        return self._conn

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedJudgment]:
        if self.path is None or not keys:
            return {}
        found: dict[str, CachedJudgment] = {}
        with self._lock:
            db = self._db()
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                try:
                    rows = db.execute(
                        f"SELECT key, verdict, raw, input_tokens, output_tokens FROM judgments WHERE key IN ({marks})",
                        chunk,
                    ).fetchall()
                except sqlite3.DatabaseError as exc:
                    raise CacheError(f"reading the judge cache {self.path} failed: {exc}") from None
                for key, verdict, raw, n_in, n_out in rows:
                    found[key] = CachedJudgment(json.loads(verdict), raw, int(n_in), int(n_out))
        return found

    def put(self, key: str, *, provider: str, rubric_hash: str, judgment: CachedJudgment) -> None:
        """Commit one judgment at once, so a run stopped by a budget or a kill keeps it."""
        if self.path is None:
            return
        row = (
            key,
            provider,
            rubric_hash,
            json.dumps(judgment.verdict, sort_keys=True),
            judgment.raw,
            judgment.input_tokens,
            judgment.output_tokens,
            time.time(),
        )
        with self._lock:
            db = self._db()
            try:
                db.execute("INSERT OR REPLACE INTO judgments VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.DatabaseError as exc:
                raise CacheError(f"writing the judge cache {self.path} failed: {exc}") from None

    def count(self) -> int:
        if self.path is None or not self.path.exists():
            return 0
        with self._lock:
            return int(self._db().execute("SELECT count(*) FROM judgments").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
