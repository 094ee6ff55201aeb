"""Load a report in a real headless Chromium and read back the DOM after its scripts ran.

Uses Debian's ``chromium`` (``apt-get install -y chromium``) with a fresh profile and every
background network feature off. Tests skip when no Chromium binary is found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
SHUTDOWN_GRACE_S = 5.0


def find_chromium() -> str | None:
    override = os.environ.get("TUNEGATE_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(
    url: str, *, screenshot: Path | None = None, window: tuple[int, int] = (1400, 2400), timeout: float = 120
) -> tuple[str, float]:
    """(``--dump-dom`` output or "" for screenshots, wall seconds) for ``url``."""
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("no chromium binary found")
    with tempfile.TemporaryDirectory(prefix="tunegate-chromium-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}"]
        cmd += [f"--screenshot={screenshot}"] if screenshot is not None else ["--dump-dom"]
        out_path, err_path = Path(profile) / "stdout.txt", Path(profile) / "stderr.txt"
        start = time.perf_counter()
        with out_path.open("w") as out_file, err_path.open("w") as err_file:
            proc = subprocess.Popen(cmd + [url], stdout=out_file, stderr=err_file, text=True)
            returncode = _wait(proc, out_path, screenshot, timeout)
        elapsed = time.perf_counter() - start
        out, err = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    if returncode is None:
        raise RuntimeError(f"chromium did not finish within {timeout:.0f} s: {err[-2000:]}")
    if returncode != 0:
        raise RuntimeError(f"chromium exited with {returncode}: {err[-2000:]}")
    return out, elapsed


def _wait(proc: subprocess.Popen[str], out_path: Path, screenshot: Path | None, timeout: float) -> int | None:
    """The exit code, 0 when Chromium finished its work but hung on shutdown, None on a timeout.

    Chromium sometimes writes the whole DOM (or the screenshot) and then does not exit, e.g. with a
    blob download that a page's button started still pending; it is killed a few seconds after its
    output is complete instead of failing the test at the timeout.
    """
    deadline = time.monotonic() + timeout
    complete_at: float | None = None
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return code
        if complete_at is None and _finished(out_path.read_text(errors="replace"), screenshot):
            complete_at = time.monotonic()
        if complete_at is not None and time.monotonic() - complete_at > SHUTDOWN_GRACE_S:
            proc.kill()
            proc.wait()
            return 0
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    return None


def _finished(out: str, screenshot: Path | None) -> bool:
    """Whether Chromium's output is complete (the dumped DOM closed, or a non-empty screenshot)."""
    if screenshot is not None:
        return screenshot.exists() and screenshot.stat().st_size > 0
    return out.rstrip().endswith("</html>")


@dataclass
class Dom:
    """What the tests look at in a dumped DOM."""

    title: str = ""
    root_attrs: dict[str, str] = field(default_factory=dict)
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    by_id: dict[str, str] = field(default_factory=dict)

    def count(self, tag: str, cls: str | None = None) -> int:
        return sum(
            1 for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())
        )

    @property
    def all_text(self) -> str:
        return "".join(self.text)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dom = Dom()
        self._stack: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.dom.tags.append((tag, a))
        if tag == "html":
            self.dom.root_attrs = a
        if tag not in ("meta", "br", "input", "link", "img", "hr", "col", "source", "wbr"):
            self._stack.append((tag, a.get("id")))
            if a.get("id"):
                self.dom.by_id.setdefault(a["id"], "")

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1][0] == "title" and not any(t == "svg" for t, _ in self._stack):
            self.dom.title += data
        self.dom.text.append(data)
        for _, ident in self._stack:
            if ident:
                self.dom.by_id[ident] = self.dom.by_id.get(ident, "") + data


def parse_dom(html: str) -> Dom:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.dom
