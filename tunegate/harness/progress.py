"""Live progress for long work (generation, judging, training) that suits terminals and CI logs.

On a terminal one line is rewritten in place at most every ``TTY_INTERVAL`` seconds. Anywhere
else (a CI log, a pipe, pytest's captured stderr) a plain new line is written: the first once
the task has run ``FIRST_LINE_AFTER`` seconds, then one at most every ``LOG_INTERVAL`` seconds,
and a final line when the task ends; never a carriage return. A heartbeat thread keeps the lines
coming while one long step (a generation chunk) blocks the caller.

Lines go to a writer ``fn(text, in_place)``: ``in_place`` True means "replace the line shown
now, no newline"; False means "write this as a complete line" (replacing an in-place line still
shown). The default writes to stderr. A host (the pytest plugin) installs its own::

    from tunegate.harness import progress
    progress.set_writer(write, tty=terminal_is_a_tty)   # progress.set_writer(None) restores stderr

>>> with progress.track("generate", "base · support/eval", total=320) as p:  # doctest: +SKIP
...     p.advance(64, tokens=3100)

Work that finishes items deep inside a call (a decoding loop retiring rows one by one) reports
them with ``item_done()``, which advances the bar made current by ``counting(bar)``; the caller
then settles the rest with ``counting``'s ``settle`` (backends that report nothing advance per
call)::

    with progress.track("generate", name, len(todo)) as bar, progress.counting(bar) as settle:
        outs = backend.generate(chunk)      # the hf loop calls progress.item_done() per finished row
        settle(len(chunk), tokens=...)      # advances by what was not reported yet

The line is ``kind label: done/total unit (pct) · key value ... · tok/s · elapsed · ETA``; a
caller adds fields of its own through ``advance(**postfix)`` without changing the format.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from tunegate.harness.models.threads import busy_note
from tunegate.harness.terminal import terminal_line

Writer = Callable[[str, bool], None]
LOAD_NOTE: Callable[[], str] = busy_note
"""Appended to running lines: says when the machine's load exceeds the CPUs this process may use."""

TTY_INTERVAL = 0.5
"""Seconds between in-place updates on a terminal."""
LOG_INTERVAL = 10.0
"""Seconds between lines in a log; also the longest silence while a task runs."""
FIRST_LINE_AFTER = 2.0
"""A log gets its first line once a task has run this long (short tasks print only their final line)."""
HEARTBEAT = 1.0
"""How often the background thread looks whether a line is due."""


class _StderrWriter:
    """The default writer: stderr, with an in-place line closed before any complete line."""

    def __init__(self) -> None:
        self.open = False

    def __call__(self, text: str, in_place: bool) -> None:
        stream = sys.stderr
        text = terminal_line(text)  # data in a label cannot move the cursor or start a CI command
        if in_place:
            stream.write("\r" + text + "\x1b[K")
            self.open = True
        else:
            stream.write(("\r" + text + "\x1b[K" if self.open else text) + "\n")
            self.open = False
        stream.flush()


_default = _StderrWriter()
_writer: Writer | None = None
_tty: bool | None = None


def set_writer(fn: Writer | None, *, tty: bool = False) -> None:
    """Send progress lines to ``fn(text, in_place)``; ``tty`` says whether ``fn`` can rewrite a line.

    ``set_writer(None)`` restores the default (stderr, in place when stderr is a terminal).
    """
    global _writer, _tty
    _writer, _tty = fn, (tty if fn is not None else None)


def current() -> tuple[Writer, bool]:
    """(writer, whether it rewrites lines in place) as installed now."""
    if _writer is not None:
        return _writer, bool(_tty)
    try:
        isatty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        isatty = False
    return _default, isatty


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Progress:
    """One task's progress: ``advance`` as work finishes, ``close`` (or a ``with`` block) at the end."""

    def __init__(
        self,
        kind: str,
        label: str,
        total: int | None,
        unit: str = "items",
        *,
        clock: Callable[[], float] = time.monotonic,
        writer: Writer | None = None,
        tty: bool | None = None,
        heartbeat: float | None = HEARTBEAT,
    ) -> None:
        installed, installed_tty = current()
        self.kind, self.label, self.total, self.unit = kind, label, total, unit
        self.clock = clock
        self.writer = writer or installed
        self.tty = installed_tty if tty is None else tty
        self.done = 0
        self.tokens = 0
        self.postfix: dict[str, str] = {}
        self.started = clock()
        self.last_emit: float | None = None
        self.lines = 0
        self.closed = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if heartbeat:
            self._thread = threading.Thread(
                target=self._beat, args=(heartbeat,), daemon=True, name="tunegate-progress"
            )
            self._thread.start()

    # -- reporting -------------------------------------------------------------------------
    def advance(self, n: int = 1, *, tokens: int = 0, **postfix: object) -> None:
        """``n`` more units done (``tokens`` generated or processed); ``postfix`` is shown as key value."""
        with self._lock:
            self.done += n
            self.tokens += tokens
            self.postfix.update({k: str(v) for k, v in postfix.items()})
        self.tick()

    def note(self, text: str) -> None:
        """A complete line of its own (e.g. a dev loss), kept apart from the progress line."""
        with self._lock:
            self.writer(text, False)

    def tick(self) -> None:
        """Write a line if one is due (called on every advance and by the heartbeat)."""
        with self._lock:
            if self.closed:
                return
            now = self.clock()
            if self._due(now):
                self.last_emit = now
                self.lines += 1
                self.writer(self.line(now), self.tty)

    def _due(self, now: float) -> bool:
        if self.tty:
            return self.last_emit is None or now - self.last_emit >= TTY_INTERVAL
        if self.last_emit is None:
            return now - self.started >= FIRST_LINE_AFTER
        return now - self.last_emit >= LOG_INTERVAL

    def line(self, now: float | None = None, *, final: bool = False, stopped: bool = False) -> str:
        """``generate base · support: 128/320 items (40%) · 812 tok/s · 1m02s · ETA 1m33s``."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 0.0)
        parts = [f"{self.kind} {self.label}:" if self.label else f"{self.kind}:"]
        if self.total:
            parts.append(f"{self.done}/{self.total} {self.unit} ({self.done / self.total:.0%})")
        else:
            parts.append(f"{self.done} {self.unit}")
        fields = [f"{k} {v}" for k, v in self.postfix.items()]
        if self.tokens and elapsed > 0:
            fields.append(f"{self.tokens / elapsed:,.0f} tok/s")
        busy = "" if final else LOAD_NOTE()
        if busy:
            fields.append(busy)
        if final:
            fields.append(f"{'stopped after' if stopped else 'done in'} {duration(elapsed)}")
        else:
            fields.append(duration(elapsed))
            if self.total and 0 < self.done < self.total:
                fields.append(f"ETA {duration(elapsed / self.done * (self.total - self.done))}")
        return " · ".join([" ".join(parts), *fields])

    # -- lifetime --------------------------------------------------------------------------
    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            self.tick()

    def close(self, *, stopped: bool = False) -> None:
        """Stop the heartbeat and write the final line (complete, never in place)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.lines += 1
            self.writer(self.line(final=True, stopped=stopped), False)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(stopped=exc_type is not None)


class Silent(Progress):
    """A task with nothing to do: accepts every call, writes nothing, starts no thread."""

    def __init__(self, kind: str = "", label: str = "", total: int | None = 0, unit: str = "items") -> None:
        super().__init__(
            kind, label, total, unit, writer=lambda _text, _in_place: None, tty=False, heartbeat=None
        )
        self.closed = True

    def note(self, text: str) -> None:
        pass


def track(kind: str, label: str, total: int | None, unit: str = "items", **kwargs: object) -> Progress:
    """A new ``Progress`` writing through the installed writer (see ``set_writer``); ``Silent``
    when ``total`` is 0 (everything was cached: no line at all)."""
    if total == 0:
        return Silent(kind, label, total, unit)
    return Progress(kind, label, total, unit, **kwargs)  # type: ignore[arg-type]



class _Counting:
    """The bar ``item_done`` advances, and how many items it reported since the last ``settle``."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.reported = 0

    def settle(self, n: int, *, tokens: int = 0) -> None:
        rest = max(n - self.reported, 0)
        self.reported = max(self.reported - n, 0)
        self.bar.advance(rest, tokens=tokens)


_counting: contextvars.ContextVar[_Counting | None] = contextvars.ContextVar("tunegate_counting", default=None)


def item_done(n: int = 1) -> None:
    """``n`` items finished inside the current ``counting`` block (nothing happens outside one)."""
    state = _counting.get()
    if state is not None and n > 0:
        state.reported += n
        state.bar.advance(n)


@contextmanager
def counting(bar: Progress) -> Iterator[Callable[..., None]]:
    """Let ``item_done`` advance ``bar``; yields ``settle(n, tokens=0)``: ``n`` items of a call are
    done, of which the ones ``item_done`` did not report yet advance the bar now."""
    state = _Counting(bar)
    token = _counting.set(state)
    try:
        yield state.settle
    finally:
        _counting.reset(token)
