"""docs/ci.md's exit-code table, row by row and cause by cause: each documented pytest exit code
is triggered here by runs of its kind (pytest in a subprocess; the served models are the local
fake server, so no model loads), one per cause the row names, and the table lists exactly the
codes triggered. Each cause's wording is checked to be in its row, so the table and the tests
move together.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeServer, Reply, openai_chat

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
ITEMS = [
    {"id": f"q{i}", "messages": [{"role": "user", "content": f"Customer {i}: charged twice."}], "reference": "x"}
    for i in range(4)
]
HEAD = """
from pathlib import Path

from tunegate.harness.data import load_suite
from tunegate.harness.metrics import make_metric

SUITE = load_suite(Path(__file__).parent / "data" / "toy.jsonl", max_new_tokens=8)
"""
COMPARE = HEAD + "\n\ndef test_compare(compare):\n    compare(SUITE, make_metric('exact_match'))\n"
IMPROVES = HEAD + "\n\ndef test_gate(compare):\n    compare(SUITE, make_metric('exact_match')).assert_improves()\n"
LEAKAGE = HEAD + (
    "\nfrom tunegate import LeakageConfig\n\n\ndef test_leak(tunegate_run, candidate):\n"
    "    tunegate_run.leakage(candidate, suites=[SUITE], config=LeakageConfig()).assert_passed()\n"
)


def _unauthorized(req: object) -> Reply:
    return Reply({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, 401)


def _dripping(req: Any) -> Reply:
    reply = openai_chat(req)
    return Reply(reply.body if isinstance(reply, Reply) else reply, drip_s=1.0)


def _suite(p: pytest.Pytester, source: str) -> list[str]:
    (p.path / "data").mkdir(exist_ok=True)
    (p.path / "data" / "toy.jsonl").write_text("\n".join(json.dumps(x) for x in ITEMS) + "\n")
    p.makepyfile(test_suite=source)
    return []


def _bad_gate(p: pytest.Pytester) -> list[str]:
    _suite(p, COMPARE)
    (p.path / "tunegate_bad.yaml").write_text(
        "suite: data/toy.jsonl\ngates:\n  - metric: no_such_metric\n    improves: {}\n"
    )
    return ["tunegate_bad.yaml"]


def _crash(p: pytest.Pytester) -> list[str]:
    _suite(p, COMPARE)
    # RunState.compare replaced by a builtin that rejects its call: a bug inside tunegate's code
    (p.path / "conftest.py").write_text(
        "import tunegate.harness.session as s\ns.RunState.compare = staticmethod({}.__getitem__)\n"
    )
    return []


def _empty(p: pytest.Pytester) -> list[str]:
    (p.path / "suites").mkdir()
    return ["suites"]


def _leaked(p: pytest.Pytester) -> list[str]:
    _suite(p, LEAKAGE)
    train = p.path / "train.jsonl"  # the eval items verbatim, with answers: an exact duplicate each
    rows = [{"messages": [*x["messages"], {"role": "assistant", "content": "x"}]} for x in ITEMS]  # type: ignore[list-item]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [f"--train-data={train}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Trigger:
    code: int
    cause: str
    """Words of docs/ci.md's row for ``code`` that name this cause (checked to be there)."""
    build: Callable[[pytest.Pytester], list[str]]
    phrase: str
    """Printed by the run."""
    route: Callable[..., object] = openai_chat
    args: tuple[str, ...] = field(default=())
    unreachable: bool = False
    user_traceback: bool = False
    """pytest shows where the user's own module failed to import (its "Traceback:" section)."""


TRIGGERS = [
    Trigger(0, "every gate passed", lambda p: _suite(p, COMPARE), "verdict:"),
    Trigger(1, "a gate failed", lambda p: _suite(p, IMPROVES), "verdict: FAIL"),
    Trigger(1, "a check of it failed", _leaked, "leakage: FAIL"),
    Trigger(2, "a bad `tunegate_*.yaml`", _bad_gate, "no_such_metric"),
    Trigger(2, "a suite module that does not import", lambda p: _suite(p, "import no_such_module_4711\n"),
            "No module named 'no_such_module_4711'", user_traceback=True),
    Trigger(3, "a crash inside tunegate's own code", _crash, "internal error in tunegate"),
    Trigger(4, "a bad option", lambda p: _suite(p, COMPARE), "concurency", args=("--backend-option", "concurency=4")),
    Trigger(4, "rejects the API key (HTTP 401/403)", lambda p: _suite(p, COMPARE), "rejected the API key", route=_unauthorized),
    Trigger(4, "a `--base-url` server that cannot be reached", lambda p: _suite(p, COMPARE), "last failure: connection", unreachable=True),
    Trigger(4, "answers no attempt of a request within its retries", lambda p: _suite(p, COMPARE),
            "last failure: timeout", route=_dripping, args=("--backend-option", "timeout=1")),
    Trigger(5, "no tests collected", _empty, "no tests ran"),
]  # fmt: skip
COVERED_ELSEWHERE = {
    # (code, cause) -> the test that triggers it as a user would
    (2, "interrupted (Ctrl-C)"): "test_ctrl_c_is_exit_2",
    (4, "a response cache locked by another run"): "tests/test_hostile_small.py::test_a_run_on_a_locked_cache_stops_saying_locked",
}  # fmt: skip


def documented_rows() -> dict[int, str]:
    table = (ROOT / "docs" / "ci.md").read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \|(.*)$", table, flags=re.MULTILINE)}


def test_the_table_lists_exactly_the_codes_triggered_here() -> None:
    rows = documented_rows()
    assert set(rows) == {t.code for t in TRIGGERS}
    for code, cause in [*((t.code, t.cause) for t in TRIGGERS), *COVERED_ELSEWHERE]:
        assert cause in rows[code], f"exit {code}: {cause!r} is not in its docs/ci.md row"
    small = (ROOT / "tests" / "test_hostile_small.py").read_text()
    assert "def test_a_run_on_a_locked_cache_stops_saying_locked(" in small


def _common(port: int, tmp_path: Path) -> list[str]:
    return [
        "-p", "no:cacheprovider", "--backend", "openai", "--base", "served-base", "--candidate", "served-adapter",
        "--base-url", f"http://127.0.0.1:{port}/v1", "--backend-option", "max_retries=0",
        "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "report"),
    ]  # fmt: skip


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: f"exit{t.code}-{re.sub(r'[^a-z0-9]+', '-', t.cause.lower()).strip('-')}")
def test_each_documented_exit_code(trigger: Trigger, pytester: pytest.Pytester, tmp_path: Path) -> None:
    args = trigger.build(pytester)
    with FakeServer({"/v1/chat/completions": trigger.route}) as server:
        port = _free_port() if trigger.unreachable else server.port
        res = pytester.runpytest_subprocess(*args, *_common(port, tmp_path), *trigger.args, timeout=300)
    out = res.stdout.str() + "\n" + res.stderr.str()
    assert int(res.ret) == trigger.code, out[-4000:]
    assert trigger.phrase in out, out[-4000:]
    assert "INTERNALERROR" not in out and "Traceback (most recent call last)" not in out, out[-4000:]
    if trigger.user_traceback:
        shown = out.split("Traceback:", 1)[1].split("ModuleNotFoundError", 1)[0]  # the user's frames only
        assert "test_suite.py:1: in <module>" in shown and "tunegate" not in shown, out[-4000:]
    else:
        assert "Traceback" not in out, out[-4000:]


def _holding(req: Any) -> Any:
    time.sleep(20)  # a slow server: the user gives up and presses Ctrl-C
    return openai_chat(req)


def _ctrl_c_live() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_is_exit_2(pytester: pytest.Pytester, tmp_path: Path) -> None:
    _suite(pytester, COMPARE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with FakeServer({"/v1/chat/completions": _holding}, max_lifetime_s=60) as server:
        cmd = [sys.executable, "-m", "pytest", *_common(server.port, tmp_path)]
        proc = subprocess.Popen(
            cmd,
            cwd=pytester.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # a shell's background job (`cmd &` without job control) starts with SIGINT ignored, and
            # the child would inherit that: the run as a terminal starts it, with Ctrl-C live
            preexec_fn=_ctrl_c_live,
        )
        try:
            deadline = time.monotonic() + 120
            while not server.counts["/v1/chat/completions"] and time.monotonic() < deadline:
                time.sleep(0.1)
            assert server.counts["/v1/chat/completions"], "the run never asked the server"
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 2, out[-4000:]
    assert "KeyboardInterrupt" in out and "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
