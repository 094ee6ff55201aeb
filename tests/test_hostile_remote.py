"""Hostile remote servers, tried as a user runs tunegate: ``pytest`` in a subprocess against the
local fake server (tests/fakeserver.py), which is both the served models (``--backend openai``)
and the judge (``--judge openai-compatible``).

- Credentials in every encoding: a password in ``--base-url``/``--judge-base-url`` (sent as HTTP
  Basic auth) and keys in variables named by ``api_key_env`` options, echoed by a 401 as they
  were sent, raw, URL-encoded and base64-encoded: none of these forms reaches any file the run
  writes, nor its output.
- A rejected key (generation or judge) and an unreachable backend stop the run with exit 4
  (docs/ci.md), and after a judge 401 no other test runs; a crash inside tunegate is exit 3.
- A judge that drips its reply one byte a second: each attempt ends at its timeout, and a run
  whose every judgment drips ends within attempts x timeout plus a small bound.
- A served model (``--backend openai``) that drips the same way: each generation attempt ends
  at its timeout, and a run whose every reply drips stops with exit 4 (it cannot be carried
  out) within attempts x timeout plus a small bound, the later tests never run.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from tests.fakeserver import FakeServer, Reply, Seen, openai_chat
from tests.judges.routes import openai_judge
from tests.projects import served_run, toy_project

pytest_plugins = ["pytester"]

USER = "svc-user"
PASSWORD = "pw PLANTED/hunter2+61803"  # a space, a slash and a plus: its URL and base64 forms differ
JUDGE_PASSWORD = "jpw-PLANTED-swordfish-27182"
BACKEND_KEY = "gw-PLANTED-backend-key-0099887766"  # variable name ends in neither _API_KEY nor _TOKEN
JUDGE_KEY = "jk-PLANTED-judge-key-5544332211"
SECRETS = (PASSWORD, JUDGE_PASSWORD, BACKEND_KEY, JUDGE_KEY)
PAIRS = (f"{USER}:{PASSWORD}", f"judge:{JUDGE_PASSWORD}")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms() -> dict[str, str]:
    """Every planted secret in every encoding a server might echo it in, by a printable name."""
    out: dict[str, str] = {}
    for i, s in enumerate(SECRETS):
        out[f"secret#{i}"] = s
        out[f"secret#{i} url-encoded"] = quote(s, safe="")
        out[f"secret#{i} form-encoded"] = quote_plus(s, safe="")
        out[f"secret#{i} base64"] = _b64(s)
    for i, pair in enumerate(PAIRS):
        out[f"user:password#{i} base64"] = _b64(pair)
    return out


def echo(seen: list[Seen]) -> str:
    """What a careless server puts in an error body: the headers it got and the credentials in
    every encoding."""
    got = seen[-1].headers.get("authorization", "") if seen else ""
    return " | ".join([f"you sent Authorization: {got}", f"Basic {_b64(PAIRS[0])}", *forms().values()])


def refusing(server: list[FakeServer], *, judge_only: bool = False) -> Any:
    def route(req: Any) -> Any:
        if judge_only and not req.get("response_format"):
            return openai_chat(req)
        body = {"error": {"message": f"Unauthorized: {echo(server[0].requests)}", "code": "invalid_api_key"}}
        return Reply(body, 401)

    return route


ITEMS = [
    {"id": f"q{i}", "messages": [{"role": "user", "content": f"Customer {i}: charged twice."}], "reference": "x"}
    for i in range(4)
]
SUITE = """
from pathlib import Path

from tunegate.harness.data import load_suite
from tunegate.harness.metrics import make_metric

SUITE = load_suite(Path(__file__).parent / "data" / "toy.jsonl", max_new_tokens=8)


def test_a_judged(compare, judge):
    compare(SUITE, judge.rubric("support_style"))


def test_b_judged_again(compare, judge):
    compare(SUITE, judge.rubric("support_style"))


def test_c_plain(compare):
    compare(SUITE, make_metric("exact_match"))
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("GATEWAY_CRED", BACKEND_KEY)
    monkeypatch.setenv("JUDGE_CRED", JUDGE_KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "toy.jsonl").write_text("\n".join(json.dumps(x) for x in ITEMS) + "\n")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def models(port: int, *extra: str) -> list[str]:
    return [
        "--backend", "openai", "--base", "served-base", "--candidate", "served-adapter",
        "--base-url", f"http://{quote(USER)}:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/v1",
        "--backend-option", "api_key_env=GATEWAY_CRED", "--backend-option", "max_retries=0", *extra,
    ]  # fmt: skip


def judge(port: int, *extra: str) -> list[str]:
    return [
        "--judge", "openai-compatible", "--judge-model", "fake-judge",
        "--judge-base-url", f"http://judge:{JUDGE_PASSWORD}@127.0.0.1:{port}/v1",
        "--judge-option", "api_key_env=JUDGE_CRED", *extra,
    ]  # fmt: skip


def run(pytester: pytest.Pytester, tmp_path: Path, *args: str, timeout: float = 300) -> tuple[int, str]:
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rA", "--log-level", "DEBUG", "--log-cli-level", "DEBUG",
        "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "report"),
        "--junitxml", str(tmp_path / "junit.xml"), *args, timeout=timeout,
    )  # fmt: skip
    return int(res.ret), res.stdout.str() + "\n" + res.stderr.str()


def assert_clean(out: str, *roots: Path) -> list[Path]:
    """No traceback, and no secret in any encoding in the output or any file under ``roots``
    (pytester's own capture files aside); returns the files searched."""
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    files = [
        p for root in roots for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(("runpytest-", "stdout", "stderr"))
    ]  # fmt: skip
    leaks = [name for name, form in forms().items() if form in out]
    for path in files:
        raw = path.read_bytes()
        leaks += [f"{name} in {path.name}" for name, form in forms().items() if form.encode() in raw]
    assert not leaks, f"planted secrets found: {leaks}"
    return files


def test_generation_401_echoing_every_encoding_stops_with_4(project: pytest.Pytester, tmp_path: Path) -> None:
    holder: list[FakeServer] = []
    with FakeServer({"/v1/chat/completions": refusing(holder)}) as server:
        holder.append(server)
        rc, out = run(project, tmp_path, *models(server.port), *judge(server.port))
        seen = list(server.requests)
    assert seen, "the backend never reached the server"
    # the credentials really went over the wire, so the sweep below is not vacuous
    assert any(r.headers.get("authorization", "").startswith(("Basic ", "Bearer ")) for r in seen)
    assert rc == 4, out[-4000:]
    assert "401" in out and "rejected the API key" in out, out[-4000:]
    files = assert_clean(out, tmp_path, project.path)
    assert {"results.json", "junit.xml"} <= {p.name for p in files}
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [t["outcome"] for t in results["tests"]] == ["error"], results["tests"]


def test_judge_401_stops_the_run_with_4_and_no_other_test_runs(project: pytest.Pytester, tmp_path: Path) -> None:
    holder: list[FakeServer] = []
    with FakeServer({"/v1/chat/completions": refusing(holder, judge_only=True)}) as server:
        holder.append(server)
        rc, out = run(project, tmp_path, *models(server.port), *judge(server.port, "--judge-option", "max_retries=0"))
        judged = [r for r in server.requests if r.body.get("response_format")]
    assert judged, "the judge never asked"
    assert rc == 4, out[-4000:]
    assert "rejected the API key in JUDGE_CRED" in out, out[-4000:]
    assert_clean(out, tmp_path, project.path)
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    # the run stopped at the first judge 401: the other tests never ran
    assert [t["nodeid"].split("::")[-1] for t in results["tests"]] == ["test_a_judged"], results["tests"]
    assert "test_c_plain PASSED" not in out and "PASSED test_suite.py::test_c_plain" not in out, out[-4000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_backend_stops_with_4(project: pytest.Pytester, tmp_path: Path) -> None:
    rc, out = run(project, tmp_path, "-k", "plain", *models(_free_port()))
    assert rc == 4, out[-4000:]
    assert "connection" in out.lower(), out[-4000:]
    assert_clean(out, tmp_path)


# A bug simulated inside tunegate: RunState.compare replaced by a builtin that rejects its call,
# so the innermost Python frame of the crash is tunegate's own compare fixture.
CRASH_CONFTEST = """
import tunegate.harness.session as session

session.RunState.compare = staticmethod({}.__getitem__)
"""


def test_internal_crash_is_exit_3_not_a_failed_gate(project: pytest.Pytester, tmp_path: Path) -> None:
    # A bug simulated inside tunegate's own code: the crash's innermost frame is in tunegate.
    (project.path / "conftest.py").write_text(CRASH_CONFTEST)
    with FakeServer() as server:
        rc, out = run(project, tmp_path, "-k", "plain", *models(server.port))
    assert rc == 3, out[-4000:]
    assert "internal error in tunegate" in out and "TypeError" in out, out[-4000:]
    assert "Traceback" not in out, out[-4000:]


# --- a judge that drips ---------------------------------------------------------------------------
BOUND_SLACK_S = 8.0
"""Time a dripping run may take beyond its answered twin and its retries: process start-up and
scheduling noise on a loaded 2-core machine. A run that waited for the drips (60 s or more) is
far beyond it."""


def dripping(seconds: float) -> Any:
    judge_route = openai_judge(expect="json_object")

    def route(req: Any) -> Any:
        if not req.get("response_format"):
            return openai_chat(req)
        reply = judge_route(req)
        return Reply(reply.body if isinstance(reply, Reply) else reply, drip_s=seconds)

    return route


def test_one_dripping_judgment_ends_at_its_timeout(tmp_path: Path) -> None:
    from tunegate.harness.data import load_suite
    from tunegate.judges import Judge

    (tmp_path / "s.jsonl").write_text(json.dumps(ITEMS[0]) + "\n")
    items = load_suite(tmp_path / "s.jsonl").items
    with FakeServer({"/v1/chat/completions": dripping(1.0)}, max_lifetime_s=60) as server:
        judge_ = Judge(
            "openai-compatible", "fake-judge", cache_dir=tmp_path / "cache",
            options={"base_url": server.url + "/v1", "timeout": 3, "max_retries": 0},
        )  # fmt: skip
        started = time.monotonic()
        scores = judge_.rubric("support_style").score(items, ["Thanks, I refunded the duplicate charge."])
        took = time.monotonic() - started
    assert took <= 3 + 1.5, f"one judgment with timeout=3, max_retries=0 took {took:.1f}s"
    assert scores.failures is not None and "timeout" in str(scores.failures[0]), scores


def test_a_run_whose_every_judgment_drips_ends_within_its_bound(project: pytest.Pytester, tmp_path: Path) -> None:
    timeout, attempts = 3.0, 2

    def judged(drip_s: float, where: Path) -> tuple[float, int, str]:  # its own cache: nothing shared
        with FakeServer({"/v1/chat/completions": dripping(drip_s)}, max_lifetime_s=300) as server:
            started = time.monotonic()
            rc, out = run(
                project, where, "-k", "test_a_judged", *models(server.port),
                *judge(server.port, "--judge-option", f"timeout={timeout:g}", "--judge-option", f"max_retries={attempts - 1}"),
            )  # fmt: skip
            return time.monotonic() - started, rc, out

    baseline, _, answered = judged(0.0, tmp_path / "answered")  # the same run, answered at once
    assert "judge openai-compatible" in answered and "Traceback" not in answered, answered[-3000:]
    took, rc, out = judged(1.0, tmp_path)
    # 4 items x 2 models, all concurrent: one wave of attempts x timeout, plus backoff (< 1 s),
    # on top of the same run answered at once (measured beside it, so a loaded machine slows both)
    bound = baseline + attempts * timeout + 1.0 + BOUND_SLACK_S
    assert took <= bound, f"the run took {took:.0f}s, bound {bound:.0f}s (baseline {baseline:.0f}s)\n{out[-3000:]}"
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    assert "timeout" in out, out[-4000:]
    assert rc in (1, 4), out[-4000:]


# --- a judge server that answers one request at a time --------------------------------------------
def one_at_a_time(seconds: float) -> Any:
    """``transformers serve``-like: requests queue behind one lock, each takes ``seconds``, and a
    request whose client gave up is still computed (the server does not know)."""
    judge_route = openai_judge(expect="json_object")
    lock = threading.Lock()

    def route(req: Any) -> Any:
        if not req.get("response_format"):
            return openai_chat(req)
        with lock:
            time.sleep(seconds)
            return judge_route(req)

    return route


SIDES_SUITE = """
from pathlib import Path

from tunegate.harness.data import load_suite

SUITE = load_suite(Path(__file__).parent / "data" / "many.jsonl", max_new_tokens=8)


def test_judged(compare, judge):
    compare(SUITE, judge.rubric("support_style"))
"""


def test_judging_adapts_to_a_one_request_at_a_time_server(pytester: pytest.Pytester, tmp_path: Path) -> None:
    items = [
        {"id": f"m{i}", "messages": [{"role": "user", "content": f"Ticket {i}: my parcel {i} is late."}]}
        for i in range(20)
    ]
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "many.jsonl").write_text("\n".join(json.dumps(x) for x in items) + "\n")
    pytester.makepyfile(test_sides=SIDES_SUITE)
    with FakeServer({"/v1/chat/completions": one_at_a_time(0.25)}, max_lifetime_s=400) as server:
        res = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-s", "--backend", "openai", "--base", "served-base",
            "--candidate", "served-adapter", "--base-url", f"http://127.0.0.1:{server.port}/v1",
            "--judge", "openai-compatible", "--judge-model", "fake-judge",
            "--judge-base-url", f"http://127.0.0.1:{server.port}/v1", "--judge-option", "timeout=1.5",
            "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "report"), timeout=400,
        )  # fmt: skip
    out = res.stdout.str() + "\n" + res.stderr.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    assert int(res.ret) == 0, out[-4000:]
    judge_lines = [ln for ln in out.splitlines() if ln.startswith("judge openai-compatible")]
    # the progress line says whose outputs it judges, and surfaces the timeouts it met
    assert any("(base)" in ln for ln in judge_lines) and any("(served-adapter)" in ln for ln in judge_lines), judge_lines
    assert any("timeouts" in ln and "in flight" in ln for ln in judge_lines), judge_lines
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    (comparison,) = results["comparisons"]
    assert comparison["n"] == 20 and not (comparison.get("coverage") or {}).get("infra"), comparison


# --- a served model that drips ------------------------------------------------------------------
def dripping_generation(seconds: float) -> Any:
    def route(req: Any) -> Any:
        reply = openai_chat(req)
        return Reply(reply.body if isinstance(reply, Reply) else reply, drip_s=seconds)

    return route


def test_one_dripping_generation_ends_at_its_timeout_per_attempt() -> None:
    from tunegate.harness.data import Message
    from tunegate.harness.models import BACKENDS, GenerationParams, GenerationRequest, ModelSpec
    from tunegate.harness.models.openai_compat import RemoteUnavailable

    timeout, attempts = 3.0, 2
    with FakeServer({"/v1/chat/completions": dripping_generation(1.0)}, max_lifetime_s=60) as server:
        spec = ModelSpec(base="served-base", backend="openai", options={
            "base_url": server.url + "/v1", "timeout": timeout, "max_retries": attempts - 1, "backoff_base": 0.1,
        })  # fmt: skip
        backend = BACKENDS.get("openai")(spec, cache_dir="")
        request = GenerationRequest("q0", (Message("user", "Customer 0: charged twice."),), GenerationParams())
        started = time.monotonic()
        with pytest.raises(RemoteUnavailable, match=r"gave up after 2 attempt\(s\); last failure: timeout") as err:
            backend.generate([request])
        took = time.monotonic() - started
        sent = server.counts["/v1/chat/completions"]
    assert sent == attempts, sent
    # each attempt ends at its timeout (the SDK's read timeout alone never fires: a byte a second)
    assert took <= attempts * timeout + 0.2 + 1.5, f"2 attempts with timeout=3 took {took:.1f}s"
    assert "options.timeout (now 3s)" in str(err.value)




def test_a_run_whose_every_reply_drips_stops_with_4_within_its_bound(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    toy_project(pytester, ITEMS)
    timeout, attempts = 3.0, 2

    def served(route: Any, report: Path) -> tuple[float, Any]:  # its own cache under ``report``
        with FakeServer({"/v1/chat/completions": route}, max_lifetime_s=300) as server:
            started = time.monotonic()
            res = served_run(
                pytester, server.port, report, "--backend-option", f"timeout={timeout:g}",
                "--backend-option", f"max_retries={attempts - 1}", "--backend-option", "backoff_base=0.1",
            )  # fmt: skip
            return time.monotonic() - started, res

    baseline, _ = served(dripping_generation(0.0), tmp_path / "answered")  # the same run, answered at once
    took, res = served(dripping_generation(1.0), tmp_path)
    out = res.stdout.str() + "\n" + res.stderr.str()
    # 4 items, all concurrent: one wave of attempts x timeout plus backoff, then the run stops; on
    # top of the same run answered at once (measured beside it, so a loaded machine slows both)
    bound = baseline + attempts * timeout + 1.0 + BOUND_SLACK_S
    assert took <= bound, f"the run took {took:.0f}s, bound {bound:.0f}s (baseline {baseline:.0f}s)\n{out[-3000:]}"
    assert int(res.ret) == 4, out[-4000:]  # docs/ci.md: a run that cannot be carried out
    assert "gave up after 2 attempt(s); last failure: timeout" in out, out[-4000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-4000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    # the run stopped at the first test: the second never waited out the same retries
    assert [t["nodeid"].split("::")[-1] for t in results["tests"]] == ["test_first"], results["tests"]
