from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in ("train", "report", "judge", "cache"):
        assert cmd in out


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_cache_stats_and_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cache import ResponseCache
    from harness.models.base import Completion

    ResponseCache(tmp_path).put_many("fp", [("k", Completion("x"))])
    assert main(["cache", "stats", "--cache-dir", str(tmp_path)]) == 0
    assert "entries: 1" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert "removed 1 cached generations" in capsys.readouterr().out
