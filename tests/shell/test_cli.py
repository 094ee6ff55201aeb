from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tunegate.harness.errors import CacheError
from tunegate.shell.cli import main


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in ("train", "report", "judge", "cache"):
        assert cmd in out


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_cache_stats_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.models.base import Completion

    ResponseCache(tmp_path).put_many("fp", [("k", Completion("x"))])
    assert main(["cache", "stats", "--cache-dir", str(tmp_path)]) == 0
    assert "entries: 1" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"removed the response cache {tmp_path / ResponseCache.FILENAME}" in out
    assert "no judge cache" in out
    assert not (tmp_path / ResponseCache.FILENAME).exists()
    assert main(["cache", "stats", "--cache-dir", str(tmp_path)]) == 0
    assert "entries: 0" in capsys.readouterr().out
    (tmp_path / ResponseCache.FILENAME).unlink(missing_ok=True)
    (tmp_path / ResponseCache.FILENAME).mkdir()  # a directory where the cache file belongs
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 2
    assert "a directory stands where the cache file belongs; move it away" in capsys.readouterr().err


def test_cache_dir_empty_or_missing_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # '--cache-dir ""' (an unset variable) used, and 'clear' deleted, the default cache; a
    # mistyped directory showed 0 entries as if it were an empty cache
    assert main(["cache", "clear", "--cache-dir", ""]) == 2
    assert "tunegate cache: --cache-dir='': empty; pass the cache directory, or leave the option out" in (
        capsys.readouterr().err
    )
    assert main(["cache", "stats", "--cache-dir", str(tmp_path / "typo")]) == 0
    assert capsys.readouterr().out == f"no cache directory at {tmp_path / 'typo'}: nothing cached there, nothing to stats\n"
    assert not (tmp_path / "typo").exists()


def _recommended_command(message: str) -> list[str]:
    """The command an error message recommends (between backticks), as argv."""
    match = re.search(r"`(tunegate [^`]+)`", message)
    assert match, f"no command recommended in: {message}"
    return shlex.split(match.group(1))


@pytest.mark.parametrize("store", ["responses", "judgments"])
@pytest.mark.parametrize(
    "damage", [b"this is not a sqlite database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_the_command_a_corrupt_cache_error_recommends_repairs_it(
    tmp_path: Path, store: str, damage: bytes
) -> None:
    """The advice in the error is run as written (the installed `tunegate` script) and works."""
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.models.base import Completion
    from tunegate.judges.cache import CachedJudgment, JudgeCache

    root = tmp_path / "cache dir"  # a space: the advice must survive shell quoting
    responses, judgments = ResponseCache(root), JudgeCache(root)
    cache = responses if store == "responses" else judgments
    assert cache.path is not None
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    cache.path.write_bytes(damage)
    Path(f"{cache.path}-wal").write_bytes(b"garbage wal")
    with pytest.raises(CacheError, match="unreadable") as info:
        cache.get_many(["k"])
    argv = _recommended_command(str(info.value))
    assert argv[:3] == ["tunegate", "cache", "clear"]
    exe = Path(sys.executable).parent / "tunegate"
    done = subprocess.run([str(exe), *argv[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"removed the {cache.LABEL} {cache.path}" in done.stdout
    assert cache.files() == []
    # The same objects work again afterwards.
    responses.put_many("fp", [("k", Completion("x"))])
    judgments.put("k", provider="p", rubric_hash="h", judgment=CachedJudgment({"value": 3}, "{}", 1, 1))
    assert responses.get_many(["k"])["k"].text == "x"
    assert judgments.get_many(["k"])["k"].verdict == {"value": 3}
