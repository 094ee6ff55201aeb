"""The judge cache: SQLite (WAL) at ``<cache dir>/judges/judgments.sqlite``, one row per judgment.

key = sha256(provider settings (provider, model, options that change answers), rubric hash,
prompt template version, mode and order, the context, the judged text(s), the reference). Only
verdicts are stored (with the raw answer and token counts); failures are not, so a later run
asks again. No key, header or credential is ever part of a row. Storage, locking and error
messages come from tunegate.harness.store.SQLiteStore (shared with the response cache).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunegate.harness.redact import redact, redact_text
from tunegate.harness.store import SQLiteStore

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


class JudgeCache(SQLiteStore):
    """The judge cache under a tunegate cache dir. ``JudgeCache(None)``: disabled (every lookup
    misses, nothing is written)."""

    FILENAME = "judgments.sqlite"
    RELPATH = f"judges/{FILENAME}"
    TABLE = "judgments"
    SCHEMA = SCHEMA
    LABEL = "judge cache"

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedJudgment]:
        rows = self.select_many("verdict, raw, input_tokens, output_tokens", keys)
        return {
            key: CachedJudgment(json.loads(verdict), raw, int(n_in), int(n_out))
            for key, verdict, raw, n_in, n_out in rows
        }

    def put(self, key: str, *, provider: str, rubric_hash: str, judgment: CachedJudgment) -> None:
        """Commit one judgment at once, so a run stopped by a budget or a kill keeps it."""
        row = (
            key,
            provider,
            rubric_hash,
            json.dumps(redact(judgment.verdict), sort_keys=True),
            redact_text(judgment.raw) if isinstance(judgment.raw, str) else judgment.raw,
            judgment.input_tokens,
            judgment.output_tokens,
            time.time(),
        )
        self.write([row])
