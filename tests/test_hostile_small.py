"""The small hostile cases: ``tunegate data check`` run as a user runs it (a decimal is not a card
number, a bad ``--phone-region`` is a usage error, a directory or FIFO is named as such, a UTF-16
file gets an encoding hint), a locked cache says it is locked (in-process, and a whole run in a
pytest subprocess: exit 4), and the memorisation probe asks as training asked and compares with
the answer as written.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.projects import served_run, toy_project
from tunegate.harness.errors import CacheError

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
TOPICS = ["refund", "invoice", "login", "shipping", "password", "upgrade", "receipt", "address", "coupon", "plan"]


def _train(path: Path, answer_extra: str = "", n: int = 60) -> Path:
    """``n`` distinct chat examples (enough that data check's size rule is satisfied)."""
    lines = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        lines.append(json.dumps({"messages": [
            {"role": "user", "content": f"Question {i} about my {topic}: what should I do next, case {i * 7919}?"},
            {"role": "assistant", "content": f"For your {topic} (case {i}), open the settings page and follow step {i % 5 + 1}."
             + (answer_extra if i == 3 else "")},
        ]}))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def _check(*args: str, cwd: Path) -> tuple[int, str]:
    cmd = [sys.executable, "-c", "import sys; from tunegate.shell.cli import main; sys.exit(main())", "data", "check", *args]
    done = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300, errors="replace")
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out[-3000:]
    return done.returncode, out


def test_a_decimal_is_not_a_card_number(tmp_path: Path) -> None:
    train = _train(tmp_path / "train.jsonl", " The ratio was 0.6394267984578837 and 1,6394267984578837 too.")
    rc, out = _check(str(train), cwd=tmp_path)
    assert "card number" not in out and "pii/card" not in out, out
    assert rc == 0, out


def test_a_real_card_number_is_still_an_error(tmp_path: Path) -> None:
    train = _train(tmp_path / "train.jsonl", " Card on file: 4111 1111 1111 1111.")
    rc, out = _check(str(train), cwd=tmp_path)
    assert rc == 1 and "card number" in out, out


def test_an_unknown_phone_region_is_a_usage_error(tmp_path: Path) -> None:
    train = _train(tmp_path / "train.jsonl")
    rc, out = _check(str(train), "--phone-region", "ZZZ", cwd=tmp_path)
    assert rc == 2, out
    assert "'ZZZ'" in out and "two-letter" in out and "'none'" in out, out


def test_a_directory_or_a_fifo_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    rc, out = _check("adir", cwd=tmp_path)
    assert rc == 2 and "adir: is a directory" in out and "no such file" not in out, out
    os.mkfifo(tmp_path / "apipe")
    rc, out = _check("apipe", cwd=tmp_path)
    assert rc == 2 and "apipe: is not a regular file" in out and "no such file" not in out, out
    rc, out = _check("missing.jsonl", cwd=tmp_path)
    assert rc == 2 and "missing.jsonl: no such file" in out, out


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])  # with and without a byte order mark
def test_a_utf16_file_gets_an_encoding_hint(tmp_path: Path, encoding: str) -> None:
    train = _train(tmp_path / "train.jsonl")
    train.write_bytes(train.read_text().encode(encoding))
    rc, out = _check(str(train), cwd=tmp_path)
    assert rc == 1, out
    assert "train.jsonl:1: the file is UTF-16, not UTF-8" in out and "Expecting value" not in out, out


def test_a_locked_cache_says_locked_not_delete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tunegate.harness.store as store
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.models.base import Completion

    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.3)
    cache = ResponseCache(tmp_path)
    cache.put_many("fp", [("k0", Completion(text="a"))])
    holder = sqlite3.connect(cache.path, timeout=0.1, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        with pytest.raises(CacheError) as err:
            cache.put_many("fp", [("k1", Completion(text="b"))])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        cache.close()
    message = str(err.value)
    assert "locked by another process" in message and "--cache-dir" in message, message
    assert "do not delete it" in message and "cache clear" not in message, message
    assert threading.active_count() >= 1


def test_the_memorisation_probe_asks_with_the_system_turn_and_keeps_the_answer_as_written(tmp_path: Path) -> None:
    from tunegate.harness.leakage.probe import memorisation_probe
    from tunegate.harness.leakage.sources import read_training_examples

    answer = '{"zeta": "refund issued", "alpha": 42}'  # keys not in sorted order
    system = "Answer with a JSON object holding zeta and alpha."
    line = {"messages": [
        {"role": "system", "content": system},
        {"role": "user", "content": "Order 77 was charged twice."},
        {"role": "assistant", "content": answer},
    ]}  # fmt: skip
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(line) + "\n")
    asked: list[list[dict[str, str]]] = []

    def generate(chats: list[list[dict[str, str]]]) -> list[str]:
        asked.extend(chats)
        # a model that learned the task answers it only when told the instruction it trained with
        return [answer if chat[0]["role"] == "system" else "I cannot help." for chat in chats]

    docs = read_training_examples([f"{train}:1"])
    (result,) = memorisation_probe(generate, docs, mode="answer")
    assert asked[0][0] == {"role": "system", "content": system}
    assert result.target == answer
    assert result.memorised, result.to_dict()



def test_the_probe_asks_a_multi_turn_example_with_its_whole_conversation(tmp_path: Path) -> None:
    from tunegate.harness.leakage.probe import memorisation_probe
    from tunegate.harness.leakage.sources import read_training_examples

    turns = [
        {"role": "system", "content": "You are the billing desk."},
        {"role": "user", "content": "I was charged twice for order 12."},
        {"role": "assistant", "content": "Sorry about that. Which card was charged?"},
        {"role": "user", "content": "The one ending in 4242."},
        {"role": "assistant", "content": '{"refund": "card 4242", "amount": "the second charge"}'},
    ]
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"messages": turns}) + "\n")
    asked: list[list[dict[str, str]]] = []

    def generate(chats: list[list[dict[str, str]]]) -> list[str]:
        asked.extend(chats)
        return [turns[-1]["content"]]

    (result,) = memorisation_probe(generate, read_training_examples([f"{train}:1"]), mode="answer")
    assert asked == [turns[:-1]]  # every turn before the last answer, in order, roles kept
    assert result.target == turns[-1]["content"] and result.memorised, result.to_dict()



def test_a_run_on_a_locked_cache_stops_saying_locked(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run holds the response cache's write lock for longer than this run waits (60 s by
    default; TUNEGATE_CACHE_LOCK_TIMEOUT shortens it here): the run stops with exit 4 (docs/ci.md),
    says the cache is locked and how to go on, and never advises deleting it."""
    from tests.fakeserver import FakeServer
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.models.base import Completion

    items = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"Case {i}"}], "reference": "x"} for i in range(3)]
    toy_project(pytester, items)
    cache_dir = tmp_path / "cache"
    cache = ResponseCache(cache_dir)
    cache.put_many("fp", [("k0", Completion(text="a"))])  # the file exists, in WAL mode
    cache.close()
    holder = sqlite3.connect(cache.path, timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the other run's writer, mid-transaction
    try:
        with FakeServer() as server:
            monkeypatch.setenv("TUNEGATE_CACHE_LOCK_TIMEOUT", "1")
            res = served_run(pytester, server.port, tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    out = res.stdout.str() + "\n" + res.stderr.str()
    assert int(res.ret) == 4, out[-4000:]
    assert "is locked by another process" in out and "waited 1 s" in out, out[-4000:]
    assert "--cache-dir DIR" in out and "do not delete it" in out, out[-4000:]
    assert "cache clear" not in out and "remove it" not in out, out[-4000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [t["nodeid"].split("::")[-1] for t in results["tests"]] == ["test_first"], results["tests"]


def test_a_bad_lock_timeout_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from tunegate.harness.errors import ConfigError
    from tunegate.harness.store import busy_timeout_s

    monkeypatch.setenv("TUNEGATE_CACHE_LOCK_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match=r"TUNEGATE_CACHE_LOCK_TIMEOUT='soon' is not a number of seconds"):
        busy_timeout_s()
    monkeypatch.setenv("TUNEGATE_CACHE_LOCK_TIMEOUT", "2.5")
    assert busy_timeout_s() == 2.5
