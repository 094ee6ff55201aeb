"""No credential reaches any file a run writes, nor its output, even when a server echoes it.

A password is planted in ``--base-url`` and ``--judge-base-url`` (URL userinfo), API keys in
``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``. The fake server (tests/fakeserver.py) is both the
generation backend (``--backend openai``) and the judge (``--judge openai-compatible``, told to
send ``OPENAI_API_KEY``); it echoes every secret back, in successful replies (model outputs and
judge rationales) and in 401 bodies. Each run writes ``--report DIR --junitxml FILE`` and both
caches; then every file the run wrote, and its stdout/stderr, is searched for every secret.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeServer, Reply, openai_chat
from tests.judges.routes import openai_judge

pytest_plugins = ["pytester"]

PASSWORD = "pw-PLANTED-hunter2-61803"
JUDGE_PASSWORD = "jpw-PLANTED-swordfish-27182"
OPENAI_KEY = "sk-PLANTED-openai-0123456789abcdef"
ANTHROPIC_KEY = "antkey-PLANTED-9876543210-fedcba"  # no sk- prefix: only the env lookup can find it
SECRETS = (PASSWORD, JUDGE_PASSWORD, OPENAI_KEY, ANTHROPIC_KEY)

ECHO = (
    f" [debug echo: key={OPENAI_KEY} Authorization: Bearer {OPENAI_KEY} x-api-key: {ANTHROPIC_KEY} "
    f"anthropic {ANTHROPIC_KEY} url=http://user:{PASSWORD}@127.0.0.1/v1 judge=http://j:{JUDGE_PASSWORD}@h/v1]"
)
ITEMS = [
    {
        "id": f"q{i}",
        "messages": [{"role": "user", "content": f"Customer {i}: I was charged twice."}],
        "reference": "x",
    }
    for i in range(6)
]
SUITE_FILE = """
from pathlib import Path

from tunegate.harness.data import load_suite
from tunegate.harness.metrics import make_metric

SUITE = load_suite(Path(__file__).parent / "data" / "toy.jsonl", max_new_tokens=8)


def test_judged(compare, judge):
    compare(SUITE, judge.rubric("support_style"))


def test_gate(compare):
    compare(SUITE, make_metric("exact_match")).assert_improves()
"""


def _echoing(req: Any) -> Any:
    """Generation and judging that answer, and echo every secret in the answer."""
    if req.get("response_format"):
        reply = openai_judge(expect="json_object")(req)
        content = reply["choices"][0]["message"]["content"]
        verdict = json.loads(content)
        verdict["reasoning"] = str(verdict.get("reasoning", "")) + ECHO
        reply["choices"][0]["message"]["content"] = json.dumps(verdict)
        return reply
    reply = openai_chat(req)
    reply["choices"][0]["message"]["content"] += ECHO
    return reply


def _refusing(message: str) -> Any:
    def route(req: Any) -> Any:
        error = {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}
        return Reply({"error": error}, 401)

    return route


# Every request refused, the 401 body echoing the credentials the way real servers do.
_unauthorized = _refusing(
    f"Incorrect API key provided: {OPENAI_KEY}. Auth for http://user:{PASSWORD}@127.0.0.1.{ECHO}"
)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    data = pytester.path / "data"
    data.mkdir()
    (data / "toy.jsonl").write_text("\n".join(json.dumps(x) for x in ITEMS) + "\n")
    pytester.makepyfile(test_secret_suite=SUITE_FILE)
    return pytester


def _judge_args(port: int) -> list[str]:
    return [
        "--judge", "openai-compatible", "--judge-model", "fake-judge",
        "--judge-base-url", f"http://judge:{JUDGE_PASSWORD}@127.0.0.1:{port}/v1",
        "--judge-option", "api_key_env=OPENAI_API_KEY", "--judge-option", "timeout=5",
        "--judge-option", "max_retries=1",
    ]  # fmt: skip


def _remote_models(port: int) -> list[str]:
    return [
        "--backend", "openai", "--base", "served-base", "--candidate", "served-adapter",
        "--base-url", f"http://user:{PASSWORD}@127.0.0.1:{port}/v1",
    ]  # fmt: skip


CACHE_FILES = ("responses.sqlite", "judgments.sqlite")


def _is_cache(path: Path) -> bool:
    return path.name.startswith(CACHE_FILES)  # the SQLite files and their -wal/-shm/-journal


def _leaks(text: str, files: list[Path]) -> list[tuple[str, str]]:
    leaks = [(s, "stdout/stderr") for s in SECRETS if s in text]
    for path in files:
        raw = path.read_bytes()
        leaks += [(s, str(path)) for s in SECRETS if s.encode() in raw or s.encode("utf-16-le") in raw]
    return leaks


def _show(leaks: list[tuple[str, str]]) -> str:
    # the secrets are masked here (this very run redacts env keys): name them by their position
    return "planted secrets found:\n" + "\n".join(
        f"secret #{SECRETS.index(s)} in {where}" for s, where in leaks
    )


def _sweep(pytester: pytest.Pytester, tmp_path: Path, res: pytest.RunResult, before: set[Path]) -> list[Path]:
    """Every file the run wrote (report dir, junit, anything new in the project) but the caches,
    and the run's output: no secret. The caches are swept by their own test."""
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    written += [
        p for p in pytester.path.rglob("*")
        if p.is_file() and p not in before and "__pycache__" not in p.parts
        and not p.name.startswith(("runpytest-", "stdout", "stderr"))  # pytester's own capture
    ]  # fmt: skip
    text = res.stdout.str() + "\n" + res.stderr.str()
    leaks = _leaks(text, [p for p in written if not _is_cache(p)])
    assert not leaks, _show(leaks)
    return written


def _run(pytester: pytest.Pytester, tmp_path: Path, *args: str) -> tuple[pytest.RunResult, list[Path]]:
    before = {p for p in pytester.path.rglob("*") if p.is_file()}
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rA", "--log-level", "DEBUG", "--log-cli-level", "DEBUG",
        "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "report"),
        "--junitxml", str(tmp_path / "junit.xml"), *args, timeout=600,
    )  # fmt: skip
    return res, _sweep(pytester, tmp_path, res, before)


def test_echoed_secrets_reach_no_file_remote_backend_and_judge(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    with FakeServer({"/v1/chat/completions": _echoing}) as server:
        res, written = _run(project, tmp_path, *_remote_models(server.port), *_judge_args(server.port))
        seen = list(server.requests)
    out = res.stdout.str() + res.stderr.str()
    judged = [r for r in seen if r.body.get("response_format")]
    generated = [r for r in seen if not r.body.get("response_format")]
    # the secrets really went over the wire and came back: the sweep is not vacuous
    assert {r.body["model"] for r in generated} == {"served-base", "served-adapter"}, out
    assert judged, out
    # credentials went along (the key as Bearer, or the URL userinfo as HTTP Basic auth)
    assert all(r.headers.get("authorization", "").startswith(("Bearer ", "Basic ")) for r in seen)
    names = {p.name for p in written}
    assert {
        "results.json",
        "report.html",
        "summary.md",
        "junit.xml",
        "responses.sqlite",
        "judgments.sqlite",
    } <= names
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["run"]["options"]["base_url"] == f"http://***@127.0.0.1:{server.port}/v1"
    rows = results["items"]["toy"]
    assert all("***" in output for row in rows for output in row["outputs"].values()), rows[0]
    assert res.ret == pytest.ExitCode.TESTS_FAILED  # the exact_match gate cannot be shown to improve


def test_secrets_in_401_bodies_reach_no_file(project: pytest.Pytester, tmp_path: Path) -> None:
    with FakeServer({"/v1/chat/completions": _unauthorized}) as server:
        res, _ = _run(project, tmp_path, *_remote_models(server.port), *_judge_args(server.port))
        assert server.requests, "the backend never reached the server"
    out = res.stdout.str() + res.stderr.str()
    assert res.ret != pytest.ExitCode.OK, out
    assert "401" in out and "Incorrect API key provided: ***" in out, out[-4000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]


def test_judge_401_with_local_models_reaches_no_file(
    project: pytest.Pytester, tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    with FakeServer({"/v1/chat/completions": _unauthorized}) as server:
        res, written = _run(
            project, tmp_path, "--base", str(tiny_model_dir), "--candidate", str(tiny_adapter_dir),
            "--dtype", "fp32", *_judge_args(server.port),
        )  # fmt: skip
        assert any(r.body.get("response_format") for r in server.requests), "the judge never asked"
    out = res.stdout.str() + res.stderr.str()
    assert res.ret != pytest.ExitCode.OK, out
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    junit = (tmp_path / "junit.xml").read_text()
    assert "401" in junit or "401" in out, out[-4000:]
    assert any(p.name == "responses.sqlite" for p in written)


def test_echoed_secrets_reach_neither_cache(project: pytest.Pytester, tmp_path: Path) -> None:
    with FakeServer({"/v1/chat/completions": _echoing}) as server:
        _, written = _run(project, tmp_path, *_remote_models(server.port), *_judge_args(server.port))
    caches = [p for p in written if _is_cache(p)]
    assert {p.name for p in caches} >= set(CACHE_FILES)
    leaks = _leaks("", caches)
    assert not leaks, _show(leaks)


def test_password_cut_by_the_message_limit_reaches_no_file(project: pytest.Pytester, tmp_path: Path) -> None:
    prefix = "Incorrect API key provided. " + "x" * (300 - 45 - len(PASSWORD) - 6) + " url=http://user:"
    assert len(prefix) + len(PASSWORD) < 300 < len(prefix) + len(PASSWORD) + len("@127.0.0.1/v1")
    with FakeServer(
        {"/v1/chat/completions": _refusing(f"{prefix}{PASSWORD}@127.0.0.1/v1 was refused")}
    ) as server:
        res, _ = _run(project, tmp_path, *_remote_models(server.port))
    assert res.ret != pytest.ExitCode.OK
