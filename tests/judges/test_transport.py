"""Hostile transport for the HTTP judges, with the real SDKs against tests/fakeserver.py.

A 200 that is not JSON (a proxy's HTML page, plain text), JSON with duplicate keys, a server that
echoes the key in its 401 text, a password in the base URL, and base URLs that name the same
endpoint in different spellings.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeServer, Reply
from tests.judges.conftest import make_items
from tests.judges.routes import anthropic_judge, hash_score, openai_judge
from tunegate.harness.errors import JudgeError
from tunegate.harness.retry import RetryPolicy
from tunegate.judges import Judge
from tunegate.judges.providers.sdk import normalise_base_url

QUICK = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.005)
PLANTED_KEY = "sk-test-PLANTED-JUDGE-KEY-42424242"
PLANTED_PASSWORD = "pw-PLANTED-judge-77"
ROUTES = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}


def url_for(provider: str, server: FakeServer, netloc: str | None = None) -> str:
    base = f"http://{netloc}" if netloc else server.url
    return base + ("/v1" if provider == "openai" else "")


def make_judge(provider: str, url: str, cache_dir: Path, **kw: Any) -> Judge:
    model = "claude-test" if provider == "anthropic" else "gpt-test"
    return Judge(
        provider, model, cache_dir=cache_dir, retry=QUICK, base_url=url, options={"timeout": "2"}, **kw
    )


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/plain"])
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_200_that_is_not_json_is_retried_as_malformed_then_fails_with_its_first_bytes(
    provider: str, content_type: str, tmp_path: Path, api_keys: dict[str, str]
) -> None:
    key = api_keys["ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY"]
    page = f"<html><body><h1>502 Bad Gateway</h1> upstream said key {key}</body></html>".encode()
    with FakeServer({ROUTES[provider]: lambda req: Reply(page, content_type=content_type)}) as server:
        judge = make_judge(provider, url_for(provider, server), tmp_path)
        scores = judge.rubric("support_style").score(make_items(1), ["Hello, fine."])
        assert server.counts.total() == 3  # the first try and two retries
    assert math.isnan(scores.values[0]) and scores.infra == (True,)
    failure = scores.failures[0] or ""
    kind = content_type.split(";")[0]
    assert failure.startswith(
        f"{provider} request failed: gave up after 3 attempt(s); last failure: malformed"
    )
    assert f"HTTP 200 with content-type {kind}, not JSON" in failure
    assert "<html><body><h1>502 Bad Gateway</h1>" in failure  # the body's first bytes ...
    assert key not in failure and "upstream said key ***" in failure  # ... redacted
    assert judge.stats()["retry"]["retries"] == {"malformed": 2}


def _openai_content(content: str) -> Any:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-test",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _anthropic_duplicate_body(req: Any) -> Reply:
    # A tool call whose input says "score" twice: the SDK's JSON parser would keep the last one.
    body = (
        '{"id": "msg_x", "type": "message", "role": "assistant", "model": "claude-test", '
        '"content": [{"type": "tool_use", "id": "toolu_1", "name": "record_verdict", '
        '"input": {"reasoning": "r", "score": 1, "score": 5}}], "stop_reason": "tool_use", '
        '"stop_sequence": null, "usage": {"input_tokens": 3, "output_tokens": 3}}'
    )
    return Reply(body.encode())


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_duplicate_json_keys_are_rejected_as_malformed(
    provider: str, tmp_path: Path, api_keys: dict[str, str]
) -> None:
    route = (
        _anthropic_duplicate_body
        if provider == "anthropic"
        else (lambda req: _openai_content('{"reasoning": "r", "score": 1, "score": 5}'))
    )
    with FakeServer({ROUTES[provider]: route}) as server:
        judge = make_judge(provider, url_for(provider, server), tmp_path)
        scores = judge.rubric("support_style").score(make_items(1), ["Hello, fine."])
        assert server.counts.total() == 3
    assert math.isnan(scores.values[0]) and scores.infra == (True,)
    assert "duplicate key 'score'" in (scores.failures[0] or "")


def test_equivalent_base_urls_share_the_judge_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    outputs = ["Hello,\n\nDone.", "Hi Sam,\n\nRefunded."]
    with FakeServer({"/v1/chat/completions": openai_judge(expect="json_object")}) as server:
        port = server.port
        spellings = [
            f"http://localhost:{port}/v1",
            f"HTTP://127.0.0.1:{port}/v1/",
            f"http://[::1]:{port}/v1//",
            f"http://user:{PLANTED_PASSWORD}@LocalHost:{port}/v1",
        ]
        first = Judge("openai-compatible", "m", cache_dir=tmp_path, base_url=f"http://127.0.0.1:{port}/v1")
        expected = first.rubric("support_style").score(make_items(2), outputs).values.tolist()
        assert server.counts.total() == 2
        for url in spellings:
            # [::1] may not be served here: the cache answers before any request is made.
            j = Judge("openai-compatible", "m", cache_dir=tmp_path, base_url=url)
            assert j.provider.settings_key() == first.provider.settings_key()
            assert j.rubric("support_style").score(make_items(2), outputs).values.tolist() == expected
        assert server.counts.total() == 2  # all four spellings were cache hits
    assert expected == [hash_score(o) for o in outputs]
    other = Judge("openai-compatible", "m", cache_dir=tmp_path, base_url=f"http://127.0.0.1:{port + 1}/v1")
    assert other.provider.settings_key() != first.provider.settings_key()


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTPS://Api.Example.COM:443/v1/", "https://api.example.com/v1"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:8080/v1", "http://example.com:8080/v1"),
        ("http://u:p@localhost:8000/v1", "http://127.0.0.1:8000/v1"),
        ("http://[::1]:8000/v1", "http://127.0.0.1:8000/v1"),
        ("https://127.0.0.1/v1", "https://127.0.0.1/v1"),
    ],
)
def test_normalise_base_url(url: str, normal: str) -> None:
    assert normalise_base_url(url) == normal


@pytest.mark.parametrize("bad", ["localhost:8000/v1", "ftp://host/v1", "http://host:99999/v1", "http:///v1"])
def test_a_bad_base_url_is_one_clear_error(bad: str, tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match=r"invalid options for the openai-compatible judge: base_url: "):
        Judge("openai-compatible", "m", cache_dir=tmp_path, base_url=bad)


def _echo_401(req: Any) -> Reply:
    return Reply(
        {
            "type": "error",
            "error": {"type": "authentication_error", "message": f"invalid x-api-key: {PLANTED_KEY}"},
        },
        401,
    )


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_planted_key_and_password_appear_in_nothing_the_judge_produces(
    provider: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The key is echoed by the server's 401 body; the password sits in the base URL."""
    var = "ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY"
    monkeypatch.setenv(var, PLANTED_KEY)
    caplog.set_level(logging.DEBUG)
    with FakeServer({ROUTES[provider]: _echo_401}) as server:
        url = url_for(provider, server, netloc=f"user:{PLANTED_PASSWORD}@127.0.0.1:{server.port}")
        judge = make_judge(provider, url, tmp_path)
        with pytest.raises(JudgeError) as info:
            judge.rubric("support_style").score(make_items(1), ["Hello, fine."])
        assert server.counts.total() == 1
    assert f"rejected the API key in {var} (HTTP 401: invalid x-api-key: ***)" in str(info.value)
    produced = [
        str(info.value),
        repr(info.value),
        caplog.text,
        json.dumps([judge.describe(), judge.stats(), judge.provider.settings_key()]),
        *(r.getMessage() for r in caplog.records),
    ]
    produced += [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()]
    for text in produced:
        assert PLANTED_KEY not in text
        assert PLANTED_PASSWORD not in text


def test_run_options_arrive_as_strings_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_JUDGE_KEY", "team-key-value-123")
    with FakeServer({"/v1/messages": anthropic_judge()}) as server:
        judge = Judge(
            "anthropic",
            "claude-test",
            cache_dir=tmp_path,
            base_url=server.url,
            options={
                "timeout": "2.5",
                "max_retries": "1",
                "concurrency": "3",
                "api_key_env": "TEAM_JUDGE_KEY",
            },
        )
        scores = judge.rubric("support_style").score(make_items(2), ["a", "b"])
        headers = server.requests[0].headers
        assert any("team-key-value-123" in v for v in headers.values())  # x-api-key or bearer
    assert scores.values.tolist() == [hash_score("a"), hash_score("b")]
    assert judge.engine.retry.max_retries == 1 and judge.engine.concurrency == 3
    assert judge.provider.opts.timeout == 2.5
    with pytest.raises(
        JudgeError, match=r"invalid options for the anthropic judge: max_retries: .*got 'many'"
    ):
        Judge(
            "anthropic", cache_dir=tmp_path, options={"max_retries": "many", "api_key_env": "TEAM_JUDGE_KEY"}
        )
    with pytest.raises(JudgeError, match=r"base URL is given twice"):
        Judge("anthropic", cache_dir=tmp_path, base_url="http://a", options={"base_url": "http://b"})
