"""docs/ci.md's exit-code table, row by row: each documented pytest exit code is triggered here by a
run of its kind (pytest in a subprocess; the served models and the judge are the local fake
server, so no model loads), and the table lists exactly the codes triggered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

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


def _unauthorized(req: object) -> Reply:
    return Reply({"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}, 401)


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


# code -> (what it means, how to build the project, the served route, a phrase in the output)
TRIGGERS: dict[int, tuple[str, Callable[[pytest.Pytester], list[str]], Callable[..., object], str]] = {
    0: ("every gate passed", lambda p: _suite(p, COMPARE), openai_chat, "verdict:"),
    1: ("a gate failed", lambda p: _suite(p, IMPROVES), openai_chat, "verdict: FAIL"),
    2: ("collection error: a bad tunegate_*.yaml", _bad_gate, openai_chat, "no_such_metric"),
    3: ("a crash inside tunegate", _crash, openai_chat, "internal error in tunegate"),
    4: ("the served model rejects the key", lambda p: _suite(p, COMPARE), _unauthorized, "rejected the API key"),
    5: ("no tests collected", _empty, openai_chat, "no tests ran"),
}


def documented_codes() -> set[int]:
    table = (ROOT / "docs" / "ci.md").read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(m) for m in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)}


def test_the_table_lists_exactly_the_codes_triggered_here() -> None:
    assert documented_codes() == set(TRIGGERS)


@pytest.mark.parametrize("code", sorted(TRIGGERS), ids=lambda c: f"exit{c}")
def test_each_documented_exit_code(code: int, pytester: pytest.Pytester, tmp_path: Path) -> None:
    _, build, route, phrase = TRIGGERS[code]
    args = build(pytester)
    with FakeServer({"/v1/chat/completions": route}) as server:
        res = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", *args, "--backend", "openai", "--base", "served-base",
            "--candidate", "served-adapter", "--base-url", f"http://127.0.0.1:{server.port}/v1",
            "--backend-option", "max_retries=0", "--cache-dir", str(tmp_path / "cache"),
            "--report", str(tmp_path / "report"), timeout=300,
        )  # fmt: skip
    out = res.stdout.str() + "\n" + res.stderr.str()
    assert int(res.ret) == code, out[-4000:]
    assert phrase in out, out[-4000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
