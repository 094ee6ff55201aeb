"""The real anthropic and openai SDKs against a local server speaking their wire formats.

The server (tests/fakeserver.py) injects 429 with retry-after, 500, timeouts and malformed JSON
at a 30% rate, decided from a seed and the request body, so a run meets the same faults every
time. Backoff and timeouts are scaled down so the whole file runs in seconds.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeServer, Faults, Reply
from tests.judges.conftest import FAST_RETRY, make_items
from tests.judges.routes import GARBLE, anthropic_judge, flaky_verdicts, hash_score, openai_judge
from tunegate.harness.errors import JudgeError
from tunegate.harness.retry import RetryPolicy
from tunegate.judges import Judge

N_SINGLE, N_PAIRS = 100, 50  # 100 single-answer judgments + 50 items x 2 orders = 200 judgments
FAULTS = Faults(rate=0.3, seed=11, retry_after=0.01, timeout_s=2.0)
CLIENT_TIMEOUT = 0.5  # an injected timeout holds the request; the client gives up at 0.5 s and retries

PROVIDERS: dict[str, dict[str, Any]] = {
    "anthropic": {"route": ("/v1/messages", anthropic_judge), "url": lambda s: s.url, "model": "claude-test"},
    "openai": {
        "route": ("/v1/chat/completions", openai_judge),
        "url": lambda s: s.url + "/v1",
        "model": "gpt-test",
    },
}


def server_for(provider: str, faults: Faults | None = None, route: Any = None) -> FakeServer:
    path, make = PROVIDERS[provider]["route"]
    return FakeServer({path: route or make()}, faults=faults)


def judge_for(provider: str, server: FakeServer, cache_dir: Path, **kw: Any) -> Judge:
    options = {
        "base_url": PROVIDERS[provider]["url"](server),
        "timeout": CLIENT_TIMEOUT,
        **kw.pop("options", {}),
    }
    kw.setdefault("retry", FAST_RETRY)
    return Judge(
        provider, PROVIDERS[provider]["model"], cache_dir=cache_dir, concurrency=16, options=options, **kw
    )


def workload() -> tuple[list[Any], list[str], list[Any], list[str], list[str]]:
    items = make_items(N_SINGLE)
    outputs = [f"Hello,\n\nReply number {i} about the refund.\n\n— The Billing Team" for i in range(N_SINGLE)]
    pair_items = make_items(N_PAIRS, prefix="pair")
    base = [f"Hello,\n\nBase reply {i}.\n\n— The Billing Team" for i in range(N_PAIRS)]
    cand = [f"Hi Sam,\n\nCandidate reply {i}.\n\n— The Billing Team" for i in range(N_PAIRS)]
    return items, outputs, pair_items, base, cand


def run_all(judge: Judge) -> tuple[list[float], list[float], list[float], list[str | None]]:
    items, outputs, pair_items, base, cand = workload()
    single = judge.rubric("support_style").score(items, outputs)
    b, c = judge.pairwise("support_style").score_pair(pair_items, base, cand)
    failures = [*single.failures, *b.failures]
    return single.values.tolist(), b.values.tolist(), c.values.tolist(), failures


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_200_judgments_survive_30pct_faults_identically_then_come_from_cache(
    provider: str, tmp_path: Path, api_keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tunegate")
    with server_for(provider) as clean_server:
        # The baseline has no injected faults; a generous timeout keeps a loaded machine from
        # adding timeouts of its own, so it makes exactly one request per judgment.
        clean_judge = judge_for(provider, clean_server, tmp_path / "clean", options={"timeout": 30.0})
        clean = run_all(clean_judge)
        clean_requests = clean_server.counts.total()
    assert clean_requests == 200, clean_judge.stats()["retry"]

    with server_for(provider, FAULTS) as faulty_server:
        judge = judge_for(provider, faulty_server, tmp_path / "faulty")
        t0 = time.monotonic()
        faulty = run_all(judge)
        elapsed = time.monotonic() - t0
        injected = dict(faulty_server.faults_injected)
        requests = faulty_server.counts.total()
    assert all(f is None for f in faulty[3]), [f for f in faulty[3] if f][:3]  # nothing lost
    assert faulty == clean  # identical results to the fault-free run
    assert set(injected) == {"429", "500", "timeout", "malformed"}, injected
    # Every injected 429, 500 and malformed body was retried. Timeouts are timing: on a loaded
    # machine (the server shares this process) a client can time out on its own, or an injected
    # stall can end just before the client gives up; either way the result is unchanged.
    retries = judge.stats()["retry"]["retries"]
    for kind in ("429", "500", "malformed"):
        assert retries[kind] == injected[kind], (retries, injected)
    assert retries["timeout"] > 0
    assert requests >= 200 + injected["429"] + injected["500"] + injected["malformed"]
    assert judge.stats()["retry"]["failed"] == 0
    assert elapsed < 60

    with server_for(provider, FAULTS) as again_server:
        cached_judge = judge_for(provider, again_server, tmp_path / "faulty")
        cached = run_all(cached_judge)
        assert again_server.counts.total() == 0  # served entirely from the cache
    assert cached == clean
    assert cached_judge.health("support_style").cache_hits == 200

    # Keys never reach the cache, results or logs.
    key = api_keys["ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY"]
    for f in (tmp_path / "faulty" / "judges").iterdir():
        assert key.encode() not in f.read_bytes(), f
    exported = json.dumps([judge.describe(), judge.health("support_style").to_dict(), judge.stats()])
    assert key not in exported
    assert key not in caplog.text


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_the_wire_carries_structured_output_requests(
    provider: str, tmp_path: Path, api_keys: dict[str, str]
) -> None:
    with server_for(provider) as server:
        judge = judge_for(provider, server, tmp_path)
        scores = judge.rubric("support_style").score(make_items(1), ["Hello,\n\nFine.\n\n— The Billing Team"])
        (seen,) = server.requests
    path, req = seen.path, seen.body
    assert scores.values[0] == hash_score("Hello,\n\nFine.\n\n— The Billing Team")
    if provider == "anthropic":
        assert path == "/v1/messages"
        assert req["tool_choice"] == {"type": "tool", "name": "record_verdict"}
        assert req["tools"][0]["input_schema"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
        assert "<<<BEGIN RESPONSE" in req["messages"][0]["content"] and "impartial grader" in req["system"]
    else:
        assert path == "/v1/chat/completions"
        assert (
            req["response_format"]["type"] == "json_schema"
            and req["response_format"]["json_schema"]["strict"]
        )
        assert req["max_completion_tokens"] == 512 and req["temperature"] == 0.0
        assert [m["role"] for m in req["messages"]] == ["system", "user"]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_unparseable_verdicts_are_retried_then_recorded_with_raw_text(
    provider: str, tmp_path: Path, api_keys: dict[str, str]
) -> None:
    path, make = PROVIDERS[provider]["route"]
    with FakeServer({path: make(flaky_verdicts(1))}) as server:
        recovered = (
            judge_for(provider, server, tmp_path / "a")
            .rubric("support_style")
            .score(make_items(3), ["x", "y", "z"])
        )
        assert server.counts.total() == 6  # each first answer was prose, each second a verdict
    assert recovered.failures == (None, None, None)
    with server_for(provider) as server:
        judge = judge_for(provider, server, tmp_path / "b", parse_retries=2)
        scores = judge.rubric("support_style").score(make_items(2), ["fine", f"text {GARBLE}"])
        assert server.counts.total() == 1 + 3
    assert scores.values[0] == hash_score("fine") and math.isnan(scores.values[1])
    failure = scores.failures[1] or ""
    assert failure.startswith("no valid verdict after 3 attempt(s): not a JSON object")
    assert "I think this reply is quite good overall." in failure


def test_retry_after_is_honoured_and_exhausted_retries_are_recorded(
    tmp_path: Path, api_keys: dict[str, str]
) -> None:
    always_429 = Faults(rate=1.0, kinds={"429": 1.0}, retry_after=0.25, seed=1)
    with server_for("openai", always_429) as server:
        judge = judge_for(
            "openai", server, tmp_path, retry=RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.01)
        )
        t0 = time.monotonic()
        scores = judge.rubric("support_style").score(make_items(1), ["x"])
        elapsed = time.monotonic() - t0
        assert server.counts.total() == 3
    assert elapsed >= 0.5  # two waits of retry-after 0.25 s, not the 1-10 ms backoff
    assert math.isnan(scores.values[0])
    assert scores.failures[0] == (
        "openai request failed: gave up after 3 attempt(s); last failure: HTTP 429 (retry-after 0.25s) (RateLimitError)"
    )


def test_openai_compatible_uses_json_mode_and_needs_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeServer({"/v1/chat/completions": openai_judge(expect="json_object")}) as server:
        judge = Judge(
            "openai-compatible",
            "Qwen/Qwen2.5-7B-Instruct",
            cache_dir=tmp_path,
            retry=FAST_RETRY,
            options={"base_url": server.url + "/v1"},
        )
        scores = judge.rubric("support_style").score(make_items(2), ["a", "b"])
        req = server.requests[0].body
    assert scores.values.tolist() == [hash_score("a"), hash_score("b")]
    assert req["max_tokens"] == 512 and req["model"] == "Qwen/Qwen2.5-7B-Instruct"
    with pytest.raises(JudgeError, match=r"openai-compatible judge needs a model name"):
        Judge("openai-compatible", cache_dir=tmp_path, options={"base_url": "http://x/v1"})
    with pytest.raises(
        JudgeError, match=r"invalid options for the openai-compatible judge: base_url: Field required"
    ):
        Judge("openai-compatible", "m", cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("provider", "var"), [("anthropic", "ANTHROPIC_API_KEY"), ("openai", "OPENAI_API_KEY")]
)
def test_missing_api_key_names_the_variable(
    provider: str, var: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(var, raising=False)
    with pytest.raises(
        JudgeError,
        match=rf"^the {provider} judge needs an API key in the environment variable {var}, "
        r"which is not set; export",
    ):
        Judge(provider, cache_dir=tmp_path)
    monkeypatch.delenv("TEAM_JUDGE_KEY", raising=False)
    with pytest.raises(JudgeError, match=r"environment variable TEAM_JUDGE_KEY, which is not set"):
        Judge(provider, cache_dir=tmp_path, options={"api_key_env": "TEAM_JUDGE_KEY"})


def test_a_rejected_key_stops_the_run_with_one_message(tmp_path: Path, api_keys: dict[str, str]) -> None:
    def reject(_: Any) -> Reply:
        return Reply(
            {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}, 401
        )

    with FakeServer({"/v1/messages": reject}) as server:
        judge = judge_for("anthropic", server, tmp_path)
        with pytest.raises(
            JudgeError,
            match=r"the anthropic API rejected the API key in ANTHROPIC_API_KEY "
            r"\(HTTP 401: invalid x-api-key\)",
        ) as exc:
            judge.rubric("support_style").score(make_items(5), [f"r{i}" for i in range(5)])
    assert api_keys["ANTHROPIC_API_KEY"] not in str(exc.value)


def test_missing_sdk_gives_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_keys: dict[str, str]
) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # makes `import anthropic` raise ImportError
    with pytest.raises(
        JudgeError,
        match=r"needs the 'anthropic' package, which is not installed; install it with: "
        r"pip install 'anthropic>=0.40'$",
    ):
        Judge("anthropic", cache_dir=tmp_path)
