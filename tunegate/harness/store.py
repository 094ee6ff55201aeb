"""One SQLite (WAL) key-value store base for tunegate's caches (responses, judgments).

A store is one table keyed by ``key TEXT PRIMARY KEY`` in one file under the tunegate cache
directory. The base does what both caches need, once: connect lazily (WAL, a busy timeout, the
schema, a probe read), turn every SQLite failure into one ``CacheError`` naming the file and the
command that repairs it, read many keys in chunks (SQLite caps bound parameters), write rows in
one transaction, and remove its files *without opening them* (so a corrupt file can be cleared).

Several processes (pytest-xdist workers, two runs) may share a store: WAL mode and the busy
timeout serialise their writes; a lock serialises threads of one process.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from tunegate.harness.errors import CacheError, ConfigError

CHUNK = 500  # keys per SELECT ... IN (...): below SQLite's bound-parameter limit everywhere
SIDE_FILES = ("", "-wal", "-shm", "-journal")
BUSY_TIMEOUT_S = 60.0
"""How long a write waits for another process's lock before the run says the cache is locked
(default; the environment variable ``TUNEGATE_CACHE_LOCK_TIMEOUT``, in seconds, overrides it)."""
LOCK_TIMEOUT_ENV = "TUNEGATE_CACHE_LOCK_TIMEOUT"


def busy_timeout_s() -> float:
    """The lock wait in seconds: ``$TUNEGATE_CACHE_LOCK_TIMEOUT`` if set, else ``BUSY_TIMEOUT_S``."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return BUSY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise ConfigError(
            f"{LOCK_TIMEOUT_ENV}={raw!r} is not a number of seconds >= 0; unset it for the default "
            f"({BUSY_TIMEOUT_S:g} s) or set e.g. {LOCK_TIMEOUT_ENV}=120"
        )
    return value


def _is_locked(exc: BaseException) -> bool:
    """SQLite's 'database is locked' / 'database table is locked' (SQLITE_BUSY / SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    busy = {getattr(sqlite3, n, -1) for n in ("SQLITE_BUSY", "SQLITE_LOCKED")}
    return code in busy or "locked" in str(exc).lower()


def clear_command(root: Path) -> str:
    """The shell command that deletes the caches under ``root`` (quoted to paste as-is)."""
    return f"tunegate cache clear --cache-dir {shlex.quote(str(root))}"


class SQLiteStore:
    """Base of a cache table. Subclasses set ``RELPATH``, ``TABLE``, ``SCHEMA`` and ``LABEL``.

    ``root``: the tunegate cache directory (None: a disabled store, every read misses and nothing
    is written); the file is ``root / RELPATH``.
    """

    RELPATH: ClassVar[str]
    TABLE: ClassVar[str]
    SCHEMA: ClassVar[str]
    LABEL: ClassVar[str]
    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """Nullable columns added after the table's first version, (name, SQL type), in order: a file
    made before them gets them in place (``ALTER TABLE ... ADD COLUMN``), its rows reading NULL."""

    def __init__(self, root: str | Path | None, *, enabled: bool = True) -> None:
        self.root = Path(root).expanduser() if root is not None else None
        self.enabled = enabled and self.root is not None
        self.path = self.root / self.RELPATH if self.root is not None else None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    # -- connection -----------------------------------------------------------------------------
    def _fail(self, doing: str, exc: BaseException) -> CacheError:
        assert self.root is not None
        if _is_locked(exc):
            # Another process holds the write lock past the busy timeout: the file is fine.
            return CacheError(
                f"the {self.LABEL} {self.path} is locked by another process ({doing}: {exc}; waited "
                f"{busy_timeout_s():g} s, set by {LOCK_TIMEOUT_ENV}); wait for the other tunegate run to "
                "finish, or give this run its own cache with --cache-dir DIR. The cache is not damaged: "
                "do not delete it"
            )
        return CacheError(
            f"the {self.LABEL} {self.path} is unreadable ({doing}: {exc}); remove it with "
            f"`{clear_command(self.root)}` (a run then recomputes what it held)"
        )

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            assert self.path is not None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=busy_timeout_s(), isolation_level=None, check_same_thread=False)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.executescript(self.SCHEMA)
                    self._add_columns(conn)
                    conn.execute(f"SELECT count(*) FROM {self.TABLE}").fetchone()
                except BaseException:
                    conn.close()
                    raise
            except (sqlite3.DatabaseError, OSError) as exc:
                raise self._fail("opening", exc) from None
            self._conn = conn
        return self._conn

    def _add_columns(self, conn: sqlite3.Connection) -> None:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({self.TABLE})")}
        for name, sql_type in self.COLUMNS:
            if name in have:
                continue
            try:
                conn.execute(f"ALTER TABLE {self.TABLE} ADD COLUMN {name} {sql_type}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc).lower():  # another process added it just now
                    raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- reads and writes -----------------------------------------------------------------------
    def select_many(self, columns: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows ``(key, *columns)`` for the keys found, read ``CHUNK`` keys at a time."""
        if not self.enabled or not keys:
            return []
        rows: list[tuple[Any, ...]] = []
        unique = list(dict.fromkeys(keys))
        with self._lock:
            db = self._db()
            for start in range(0, len(unique), CHUNK):
                chunk = unique[start : start + CHUNK]
                marks = ",".join("?" * len(chunk))
                try:
                    rows += db.execute(
                        f"SELECT key, {columns} FROM {self.TABLE} WHERE key IN ({marks})", chunk
                    ).fetchall()
                except sqlite3.DatabaseError as exc:
                    raise self._fail("reading", exc) from None
        return rows

    def write(self, rows: Iterable[Sequence[Any]]) -> int:
        """Insert or replace ``rows`` (full rows, in column order) in one transaction."""
        batch = [tuple(r) for r in rows]
        if not self.enabled or not batch:
            return 0
        marks = ",".join("?" * len(batch[0]))
        with self._lock:
            db = self._db()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(f"INSERT OR REPLACE INTO {self.TABLE} VALUES ({marks})", batch)
                db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise self._fail("writing", exc) from None
        return len(batch)

    def query(self, sql: str) -> tuple[Any, ...]:
        """One row of an aggregate query (``SELECT count(*) ...``); an absent file gives ()."""
        if self.path is None or not self.path.exists():
            return ()
        with self._lock:
            try:
                return tuple(self._db().execute(sql).fetchone())
            except sqlite3.DatabaseError as exc:
                raise self._fail("reading", exc) from None

    def count(self) -> int:
        row = self.query(f"SELECT count(*) FROM {self.TABLE}")
        return int(row[0]) if row else 0

    # -- maintenance ----------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """The store's file and its WAL/shared-memory/journal side files that exist."""
        if self.path is None:
            return []
        return [p for p in (Path(f"{self.path}{s}") for s in SIDE_FILES) if p.exists()]

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files())

    def remove(self) -> int:
        """Delete the store's files without opening them (works on a corrupt file); bytes freed."""
        self.close()
        freed = 0
        for p in self.files():
            try:
                freed += p.stat().st_size
                p.unlink()
            except FileNotFoundError:
                continue
            except IsADirectoryError:
                raise CacheError(
                    f"cannot remove {p}: a directory stands where the cache file belongs; move it away "
                    "(the cache is rebuilt on the next run)"
                ) from None
            except OSError as exc:
                raise CacheError(
                    f"cannot remove {p} ({exc.strerror}); check its permissions, or delete it by hand"
                ) from None
        return freed
