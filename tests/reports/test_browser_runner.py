"""The Chromium runner the report tests use: a browser that hangs after its work is done does not fail them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.reports import browser


def _fake_chromium(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "chromium"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_dom_dumped_then_hang_returns_the_dom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_chromium(tmp_path, "echo '<html><body>done</body></html>'\nexec sleep 600\n")
    monkeypatch.setenv("TUNEGATE_CHROMIUM", str(fake))
    monkeypatch.setattr(browser, "SHUTDOWN_GRACE_S", 0.2)
    out, wall_s = browser.run_chromium("file:///x.html", timeout=30)
    assert "done" in out
    assert wall_s < 20


def test_hang_without_output_is_a_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_chromium(tmp_path, "echo '<html><body>half'\nexec sleep 600\n")
    monkeypatch.setenv("TUNEGATE_CHROMIUM", str(fake))
    with pytest.raises(RuntimeError, match="did not finish within 1 s"):
        browser.run_chromium("file:///x.html", timeout=1)


def test_crash_is_reported_with_its_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_chromium(tmp_path, "echo 'boom' >&2\nexit 3\n")
    monkeypatch.setenv("TUNEGATE_CHROMIUM", str(fake))
    with pytest.raises(RuntimeError, match="exited with 3: boom"):
        browser.run_chromium("file:///x.html", timeout=30)
