from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tunegate.harness.cache import ResponseCache, cache_key
from tunegate.harness.errors import CacheError
from tunegate.harness.models.base import Completion


def test_roundtrip_and_stats(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    k1, k2 = cache_key("fp", "prompt one", "p"), cache_key("fp", "prompt two", "p")
    assert k1 != k2
    assert cache_key("fp", "prompt one", "p") != cache_key("fp2", "prompt one", "p")
    cache.put_many("fp", [(k1, Completion("hello", 3))])
    got = cache.get_many([k1, k2])
    assert list(got) == [k1]
    assert got[k1].text == "hello" and got[k1].cached
    assert cache.stats()["entries"] == 1
    assert cache.clear() > 0  # bytes freed
    assert cache.files() == []
    assert cache.get_many([k1]) == {}


def test_get_many_reads_in_chunks_and_keeps_duplicates_once(tmp_path: Path) -> None:
    """More keys than one SELECT may bind (the store reads 500 at a time)."""
    cache = ResponseCache(tmp_path)
    keys = [f"k{i}" for i in range(1203)]
    cache.put_many("fp", [(k, Completion(k)) for k in keys[::2]])
    got = cache.get_many(keys + keys[:10])
    assert sorted(got) == sorted(keys[::2])
    assert all(got[k].text == k for k in got)


def test_errors_are_not_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    cache.put_many("fp", [("k", Completion("", 0, finish_reason="error"))])
    assert cache.get_many(["k"]) == {}


def test_disabled_cache_stores_nothing(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, enabled=False)
    cache.put_many("fp", [("k", Completion("x"))])
    assert cache.get_many(["k"]) == {}
    assert not (tmp_path / ResponseCache.FILENAME).exists()


def test_corrupt_cache_is_reported(tmp_path: Path) -> None:
    (tmp_path / ResponseCache.FILENAME).write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(CacheError, match="unreadable.*tunegate cache clear"):
        ResponseCache(tmp_path).get_many(["k"])


def test_killed_writer_keeps_committed_batches(tmp_path: Path) -> None:
    """A process killed with SIGKILL mid-run leaves every committed batch readable."""
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path.cwd())!r})
        from tunegate.harness.cache import ResponseCache
        from tunegate.harness.models.base import Completion
        c = ResponseCache({str(tmp_path)!r})
        for i in range(1000):
            c.put_many("fp", [(f"k{{i}}", Completion(f"out{{i}}"))])
            if i == 20:
                print("ready", flush=True)
            time.sleep(0.002)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    got = ResponseCache(tmp_path).get_many([f"k{i}" for i in range(1000)])
    assert len(got) >= 21
    assert all(got[f"k{i}"].text == f"out{i}" for i in range(21))


def test_token_counts_are_kept_and_an_older_cache_gains_the_prompt_column(tmp_path: Path) -> None:
    """A cache made before prompt counts were kept opens as it is: its entries read 'not known',
    new entries keep both counts."""
    import sqlite3

    path = tmp_path / ResponseCache.FILENAME
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE responses (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, text TEXT NOT NULL, "
            "n_tokens INTEGER NOT NULL, finish_reason TEXT NOT NULL, created REAL NOT NULL);"
            "INSERT INTO responses VALUES ('old', 'fp', 'cached text', 3, 'stop', 0);"
        )
    cache = ResponseCache(tmp_path)
    old = cache.get_many(["old"])["old"]
    assert (old.text, old.n_tokens, old.prompt_tokens, old.cached) == ("cached text", 3, None, True)
    cache.put_many("fp", [("new", Completion("fresh", n_tokens=2, prompt_tokens=40, latency_s=0.3))])
    new = ResponseCache(tmp_path).get_many(["new"])["new"]
    assert (new.n_tokens, new.prompt_tokens, new.latency_s) == (2, 40, None)  # latency is never cached
