"""Progress lines: the log cadence under a fake clock, the in-place format, the wiring."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunegate.harness import progress
from tunegate.harness.progress import Progress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sink:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lines: list[tuple[float, str, bool]] = []

    def __call__(self, text: str, in_place: bool) -> None:
        self.lines.append((self.clock.now, text, in_place))


@pytest.fixture(autouse=True)
def restore_writer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(progress, "LOAD_NOTE", lambda: "")  # the lines below do not depend on the load
    yield
    progress.set_writer(None)


def test_a_busy_machine_is_named_in_running_lines_not_in_the_final_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from tunegate.harness.models import threads

    clock = Clock()
    sink = Sink(clock)
    monkeypatch.setattr(threads, "_USABLE", 2.0)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.5, 3.0, 2.0))
    monkeypatch.setattr(progress, "LOAD_NOTE", threads.busy_note)
    p = Progress("train", "adapter", 4, "steps", clock=clock, writer=sink, tty=False, heartbeat=None)
    clock.now += 30
    p.advance(1)
    p.close()
    assert "machine busy: load 3.5 > 2 CPUs" in sink.lines[0][1]
    assert "machine busy" not in sink.lines[-1][1]
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.5, 1.0, 1.0))
    assert threads.busy_note() == ""
    # a run whose own two threads keep both CPUs busy is not an oversubscribed machine
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.1, 2.0, 2.0))
    assert threads.busy_note() == ""


def simulate(tty: bool, *, step_every: float, steps: int, total: int) -> tuple[Sink, Clock, float]:
    """Advance one item every ``step_every`` s and tick every 0.1 s, as the heartbeat would."""
    clock = Clock()
    sink = Sink(clock)
    p = Progress("generate", "base · support/eval", total, clock=clock, writer=sink, tty=tty, heartbeat=None)
    start = clock.now
    for _ in range(steps):
        for _ in range(round(step_every / 0.1)):
            clock.now += 0.1
            p.tick()
        p.advance(1, tokens=50)
    p.close()
    return sink, clock, start


def test_log_cadence_first_line_soon_then_every_10s_then_final() -> None:
    sink, clock, start = simulate(False, step_every=0.7, steps=100, total=100)  # 70 s of work
    times = [t - start for t, _, _ in sink.lines]
    assert all(not in_place for _, _, in_place in sink.lines), "a log never gets a carriage-return update"
    assert times[0] <= 10.0  # the first line within 10 s of the start
    gaps = [b - a for a, b in zip(times[:-1], times[1:], strict=True)]
    assert all(g >= 10.0 - 1e-9 for g in gaps[:-1]), f"more often than every 10 s: {gaps}"
    assert all(g <= 10.0 + 0.1 + 1e-9 for g in gaps), f"a silence longer than 10 s: {gaps}"
    assert len(sink.lines) == 1 + int((70 - times[0]) // 10) + 1  # periodic lines + the final one
    assert sink.lines[-1][1].startswith("generate base · support/eval: 100/100 items (100%)")
    assert "done in 1m10s" in sink.lines[-1][1] and "ETA" not in sink.lines[-1][1]


def test_log_line_holds_counts_rate_and_eta() -> None:
    sink, _, start = simulate(False, step_every=1.0, steps=30, total=60)
    t, text, _ = sink.lines[1]  # the second line, ~12 s in, at one item (50 tokens) per second
    elapsed = t - start
    done = int(text.split(": ", 1)[1].split("/", 1)[0])
    assert 10 <= done <= 12
    assert text == (
        f"generate base · support/eval: {done}/60 items ({done / 60:.0%}) · {50 * done / elapsed:,.0f} tok/s · "
        f"{duration(elapsed)} · ETA {duration(elapsed / done * (60 - done))}"
    )


def test_short_task_prints_only_its_final_line() -> None:
    sink, _, _ = simulate(False, step_every=0.3, steps=5, total=5)
    assert [in_place for _, _, in_place in sink.lines] == [False]


def test_tty_updates_in_place_at_most_twice_a_second() -> None:
    sink, _, start = simulate(True, step_every=0.1, steps=50, total=50)  # 5 s, an advance every 0.1 s
    in_place = [t - start for t, _, flag in sink.lines if flag]
    assert sink.lines[-1][2] is False and sum(not f for _, _, f in sink.lines) == 1
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(in_place[:-1], in_place[1:], strict=True))
    assert 8 <= len(in_place) <= 11


def test_default_writer_in_place_then_final(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    clock = Clock()
    p = Progress("train", "adapter", 4, "steps", clock=clock, tty=True, heartbeat=None)
    for _ in range(4):
        clock.now += 1
        p.advance(1, loss="1.234")
    p.note("step 4/4: dev loss 1.1")
    p.close()
    text = buf.getvalue()
    assert text.startswith("\rtrain adapter: 1/4 steps (25%) · loss 1.234 · 1s · ETA 3s\x1b[K")
    # the note replaces the in-place line and ends it; the final line is then a plain line
    assert text.endswith("\rstep 4/4: dev loss 1.1\x1b[K\ntrain adapter: 4/4 steps (100%) · loss 1.234 · done in 4s\n")


def test_not_a_tty_writes_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()  # StringIO.isatty() is False, as for a CI log or pytest's capture
    monkeypatch.setattr(sys, "stderr", buf)
    with progress.track("generate", "base", 3, heartbeat=None) as p:
        p.advance(3, tokens=10)
    assert "\r" not in buf.getvalue() and buf.getvalue().count("\n") == 1


def test_installed_writer_receives_lines_and_tty_flag() -> None:
    got: list[tuple[str, bool]] = []
    progress.set_writer(lambda text, in_place: got.append((text, in_place)), tty=True)
    with progress.track("judge", "rubric", 2, heartbeat=None) as p:
        p.advance(2)
    assert got[0][1] is True and got[-1] == (got[-1][0], False) and "2/2 items" in got[-1][0]
    progress.set_writer(None)
    assert progress.current()[0] is not got.append


def test_zero_total_is_silent() -> None:
    got: list[tuple[str, bool]] = []
    progress.set_writer(lambda text, in_place: got.append((text, in_place)))
    with progress.track("generate", "base", 0) as p:
        p.advance(0)
    assert got == []


def test_heartbeat_writes_while_the_caller_blocks() -> None:
    clock = Clock()
    sink = Sink(clock)
    p = Progress("generate", "base", 10, clock=clock, writer=sink, tty=False, heartbeat=0.01)
    clock.now += 3  # a chunk that blocks for 3 s: no advance, the heartbeat notices the line is due
    deadline = 0
    while not sink.lines and deadline < 500:
        time.sleep(0.01)
        deadline += 1
    p.close()
    assert sink.lines[0][1].startswith("generate base: 0/10 items (0%)") and not sink.lines[0][2]
    assert sink.lines[-1][1].endswith("done in 3s")


def test_stopped_task_says_so() -> None:
    clock = Clock()
    sink = Sink(clock)
    with pytest.raises(RuntimeError), Progress("train", "x", 5, clock=clock, writer=sink, heartbeat=None):
        raise RuntimeError("boom")
    assert "stopped after 0s" in sink.lines[-1][1]


def test_duration() -> None:
    assert [duration(s) for s in (0, 42.4, 185, 3720)] == ["0s", "42s", "3m05s", "1h02m"]


def test_generate_cached_reports_progress(tiny_model_dir: Path, tmp_path: Path) -> None:
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.data import Message
    from tunegate.harness.generation import generate_cached
    from tunegate.harness.models.base import GenerationParams, GenerationRequest, ModelSpec
    from tunegate.harness.models.hf import HFBackend, clear_engines

    clear_engines()
    got: list[tuple[str, bool]] = []
    progress.set_writer(lambda text, in_place: got.append((text, in_place)))
    backend = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32"), cache_dir=str(tmp_path))
    params = GenerationParams(max_new_tokens=4)
    reqs = [GenerationRequest(str(i), (Message("user", f"Count to {i}."),), params) for i in range(5)]
    cache = ResponseCache(tmp_path)
    done = generate_cached(backend, reqs, cache, label="base", suite="toy", chunk_size=2)
    tokens = sum(c.n_tokens for c in done)
    assert got[-1][1] is False and got[-1][0].startswith("generate base · toy: 5/5 items (100%)")
    assert tokens > 0 and "tok/s" in got[-1][0]
    got.clear()
    generate_cached(backend, reqs, cache, label="base", suite="toy")  # all cached: nothing to report
    assert got == []


class _OneByOneBackend:
    """Finishes the items of a call one at a time, one fake second each, reporting each as the hf loop does."""

    fingerprint = "fake-backend"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.spec = type("Spec", (), {"name": "fake", "label": ""})()

    def render(self, messages: object) -> str:
        return repr(messages)

    def generate(self, requests: list[object]) -> list[object]:
        from tunegate.harness.models.base import Completion

        out = []
        for _ in requests:
            self.clock.now += 1.0
            progress.item_done()
            out.append(Completion(text="ok", n_tokens=3, finish_reason="stop"))
        return out


def test_generation_progress_moves_per_finished_item(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Five items in one 64-prompt chunk: the line shows 1/5, 2/5, ... as each item finishes, with an
    ETA from the second item on, not 0/5 until the chunk ends; the chunk's end does not count twice."""
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.data import Message
    from tunegate.harness.generation import generate_cached
    from tunegate.harness.models.base import GenerationParams, GenerationRequest

    clock = Clock()
    sink = Sink(clock)

    def track(kind: str, label: str, total: int | None, unit: str = "items") -> Progress:
        return Progress(kind, label, total, unit, clock=clock, writer=sink, tty=True, heartbeat=None)

    monkeypatch.setattr(progress, "track", track)
    params = GenerationParams(max_new_tokens=4)
    reqs = [GenerationRequest(str(i), (Message("user", f"q{i}"),), params) for i in range(5)]
    generate_cached(_OneByOneBackend(clock), reqs, ResponseCache(tmp_path), label="base", suite="toy")  # type: ignore[arg-type]
    shown = [text.split(": ", 1)[1].split(" ·")[0] for _, text, _ in sink.lines]
    assert shown == [f"{k}/5 items ({k * 20}%)" for k in range(1, 6)] + ["5/5 items (100%)"], shown
    assert "ETA 3s" in sink.lines[1][1]  # 2 done in 2 s, 3 to go
    assert sink.lines[-1][2] is False and sink.lines[-1][1].startswith("generate base · toy: 5/5 items (100%)")


def test_hf_decoding_reports_each_finished_row(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real hf loop calls item_done as rows retire (2 slots, 5 prompts: several calls, 5 in all)."""
    from tunegate.harness.data import Message
    from tunegate.harness.models.base import GenerationParams, GenerationRequest, ModelSpec
    from tunegate.harness.models.hf import HFBackend, clear_engines

    calls: list[int] = []
    monkeypatch.setattr(progress, "item_done", calls.append)
    clear_engines()
    backend = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32", options={"batch_size": 2}), cache_dir=str(tmp_path))
    params = GenerationParams(max_new_tokens=4)
    backend.generate([GenerationRequest(str(i), (Message("user", f"Count to {i}."),), params) for i in range(5)])
    assert sum(calls) == 5 and len(calls) >= 3, calls
