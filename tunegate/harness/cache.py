"""Content-addressed response cache in SQLite (WAL).

key = sha256(model fingerprint, rendered prompt, generation params). Each entry keeps the answer's
token count and the prompt's (``prompt_tokens``, added in place to caches made before it: their
entries read as "not known"). Two runs with the same
fingerprint and prompt reuse the stored completion; generations are committed batch by batch, so
a run killed with SIGKILL resumes with every finished generation reused. Storage, locking and
error messages come from tunegate.harness.store.SQLiteStore (shared with the judge cache).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tunegate.harness.models.base import Completion
from tunegate.harness.store import SQLiteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    text TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    created REAL NOT NULL,
    prompt_tokens INTEGER
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


class ResponseCache(SQLiteStore):
    """SQLite-backed store of completions. ``ResponseCache(None)`` is a disabled cache."""

    FILENAME = "responses.sqlite"
    RELPATH = FILENAME
    TABLE = "responses"
    SCHEMA = SCHEMA
    LABEL = "response cache"
    COLUMNS = (("prompt_tokens", "INTEGER"),)

    def __init__(self, cache_dir: str | Path | None, *, enabled: bool = True) -> None:
        super().__init__(cache_dir, enabled=enabled)
        self.counters = CacheCounters()

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        rows = self.select_many("text, n_tokens, finish_reason, prompt_tokens", keys)
        return {
            key: Completion(text=text, n_tokens=n_tokens, finish_reason=finish, cached=True, prompt_tokens=prompt)
            for key, text, n_tokens, finish, prompt in rows
        }

    def put_many(self, fingerprint: str, entries: Iterable[tuple[str, Completion]]) -> None:
        now = time.time()
        self.write(
            (key, fingerprint, c.text, c.n_tokens, c.finish_reason, now, c.prompt_tokens)
            for key, c in entries
            if c.finish_reason != "error"
        )

    def stats(self) -> dict[str, object]:
        row = self.query("SELECT count(*), count(DISTINCT fingerprint) FROM responses")
        entries, models = row if row else (0, 0)
        return {"path": str(self.path), "entries": entries, "models": models, "bytes": self.size()}

    def clear(self) -> int:
        """Delete the cache file (without opening it, so a corrupt one goes too); bytes freed."""
        return self.remove()
