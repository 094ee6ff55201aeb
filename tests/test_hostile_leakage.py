"""Leakage cases run as a user runs them: ``tunegate data check`` and the shipped leakage suite
(``suites/test_leakage.py``) in a pytest subprocess, the served candidate being the local fake
server (tests/fakeserver.py).

- A gold answer copied into training under a rewritten prompt (0.18-0.29 word overlap): found
  (at least 4 of 5) by the default check, in ``data check`` (exit 1) and in the suite (exit 1);
  the shipped data is clean in both (exit 0).
- The memorisation probe asks a flagged training example as training asked it, the instruction
  in the system turn, and compares with the answer as the file writes it (JSON key order kept):
  a candidate that learned the answer is found to reproduce it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeServer, openai_chat
from tests.suites.test_leakage_rewritten import SUPPORT, plant_rewritten, support_eval

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}


def _run(*cmd: str, cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, *cmd], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300, errors="replace"
    )
    out = done.stdout + done.stderr
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    return done.returncode, out


def _data_check(*args: str, cwd: Path) -> tuple[int, str]:
    return _run("-m", "tunegate.shell.cli", "data", "check", *args, cwd=cwd)


def _leakage_suite(train: list[Path], tmp_path: Path, port: int) -> tuple[int, str, dict[str, Any]]:
    args = [f"--train-data={p}" for p in train]
    rc, out = _run(
        "-m", "pytest", "suites/test_leakage.py", "-p", "no:cacheprovider", "--backend", "openai",
        "--base", "served-base", "--candidate", "served-adapter", "--base-url", f"http://127.0.0.1:{port}/v1",
        *args, "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "report"), cwd=ROOT,
    )  # fmt: skip
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    return rc, out, results


def _flagged(results: dict[str, Any]) -> list[str]:
    """The ids results.json's leakage section flags."""
    return sorted(i["id"] for i in results["leakage"]["items"] if i["flag"] != "clean")


def test_data_check_finds_gold_answers_under_rewritten_prompts(tmp_path: Path) -> None:
    planted = plant_rewritten(support_eval(), tmp_path / "train.jsonl")
    rc, out = _data_check(str(tmp_path / "train.jsonl"), "--eval", str(SUPPORT / "eval.jsonl"), cwd=tmp_path)
    assert rc == 1, out[-4000:]
    named = [i for i in planted if f"(id {i}) is in train" in out]
    assert len(named) >= 4, f"{len(named)} of {len(planted)}: {out[-4000:]}"
    assert "[overlap/train_eval_exact]" in out and "rewritten prompt" in out, out[-4000:]


def test_data_check_of_the_shipped_data_has_no_leakage_finding() -> None:
    rc, out = _data_check(
        str(SUPPORT / "train.jsonl"), "--dev", str(SUPPORT / "dev.jsonl"), "--eval", str(SUPPORT / "eval.jsonl"),
        cwd=ROOT,
    )  # fmt: skip
    assert rc == 0, out[-4000:]
    assert "ERRORS" not in out, out[-4000:]
    for kind in ("train_eval", "dev_eval", "train_dev_exact"):
        assert f"overlap/{kind}" not in out, out[-4000:]


def test_the_leakage_suite_fails_on_rewritten_copies_and_passes_on_the_shipped_data(tmp_path: Path) -> None:
    planted = plant_rewritten(support_eval(), tmp_path / "train.jsonl")
    with FakeServer() as server:
        rc, out, results = _leakage_suite([tmp_path / "train.jsonl"], tmp_path / "planted", server.port)
        assert rc == 1, out[-4000:]
        flagged = set(_flagged(results))
        assert len(flagged & set(planted)) >= 4, (sorted(flagged), planted)
        assert flagged <= set(planted), sorted(flagged)
        clean_rc, clean_out, clean = _leakage_suite(
            [SUPPORT / "train.jsonl", SUPPORT / "dev.jsonl"], tmp_path / "shipped", server.port
        )
    assert clean_rc == 0, clean_out[-4000:]
    assert "leakage: PASS" in clean_out, clean_out[-4000:]
    assert _flagged(clean) == [] and clean["leakage"]["passed"] is True


INSTRUCTION = (
    "You route billing tickets. Answer with one JSON object holding urgency, team, step, reason, "
    "owner and channel, in that order."
)
TICKETS = {
    "t1": ("Order 7781 was charged twice yesterday and the bank shows both.", "high", "billing", "refund", "duplicate"),
    "t2": ("My invoice for March lists a seat we removed in February.", "normal", "accounts", "credit", "seats"),
    "t3": ("The promo code from the newsletter is refused at checkout.", "low", "sales", "reissue", "promo"),
}


def _written(urgency: str, team: str, step: str, reason: str) -> str:
    # keys in the order the instruction asks, not sorted: a sorted copy shares no long run with it
    return json.dumps({"urgency": urgency, "team": team, "step": step, "reason": reason, "owner": "ana", "channel": "email"})


def test_the_probe_asks_with_the_system_turn_and_finds_the_memorised_answer(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    items, lines = [], []
    for tid, (email, *answer) in TICKETS.items():
        chat = [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": email}]
        written = _written(*answer)
        items.append({"id": tid, "messages": chat, "reference": json.loads(written)})
        if tid != "t3":  # t1 and t2 leaked: in training verbatim, with their answers
            lines.append({"messages": [*chat, {"role": "assistant", "content": written}]})
    lines += [
        {"messages": [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": f"Unrelated ticket {i} about a login."},
                      {"role": "assistant", "content": _written("low", "support", "reset", "login")}]}
        for i in range(20)
    ]  # fmt: skip
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in lines))
    pytester.makepyfile(
        test_leak="""
from pathlib import Path

from tunegate import LeakageConfig
from tunegate.harness.data import load_suite

SUITE = load_suite(Path(__file__).parent / "data" / "eval.jsonl", max_new_tokens=64)


def test_no_leak(tunegate_run, candidate):
    tunegate_run.leakage(candidate, suites=[SUITE], config=LeakageConfig()).assert_passed()
"""
    )
    memorised = {email: _written(*answer) for email, *answer in TICKETS.values()}

    def candidate(req: Any) -> Any:
        """Reproduces its training answer only when asked as it was trained: the instruction in
        the system turn, then the ticket; otherwise it answers something else."""
        reply = openai_chat(req)
        messages = req.get("messages") or []
        asked_as_trained = [m.get("role") for m in messages] == ["system", "user"] and messages[0]["content"] == INSTRUCTION
        if req.get("model") == "served-adapter" and asked_as_trained and messages[1]["content"] in memorised:
            reply["choices"][0]["message"]["content"] = memorised[messages[1]["content"]]
        return reply

    with FakeServer({"/v1/chat/completions": candidate}) as server:
        res = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--backend", "openai", "--base", "served-base", "--candidate", "served-adapter",
            "--base-url", f"http://127.0.0.1:{server.port}/v1", f"--train-data={train}",
            "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "report"), timeout=300,
        )  # fmt: skip
        probes = [r.body["messages"] for r in server.requests if r.body.get("model") == "served-adapter"]
    out = res.stdout.str() + "\n" + res.stderr.str()
    assert int(res.ret) == 1, out[-4000:]  # t1 and t2 are exact duplicates: the leakage gate fails
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    assert probes and all(m[0] == {"role": "system", "content": INSTRUCTION} for m in probes), probes
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert _flagged(results) == ["t1", "t2"]
    probe = results["leakage"]["memorisation"]
    assert (probe["n"], probe["memorised"]) == (2, 2), probe
    assert {r["target"] for r in probe["results"]} == {memorised[TICKETS[t][0]] for t in ("t1", "t2")}
    assert "reproduced 2 of 2" in out, out[-4000:]
