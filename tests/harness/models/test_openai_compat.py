from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.fakeserver import FakeServer, Faults, Reply, answer_text, fake_server_fixture, openai_chat  # noqa: E402, F401
from tunegate.harness.data import Message  # noqa: E402
from tunegate.harness.errors import ConfigError, ModelLoadError  # noqa: E402
from tunegate.harness.models.base import BACKENDS, Backend, GenerationParams, GenerationRequest, ModelSpec  # noqa: E402
from tunegate.harness.models.openai_compat import OpenAICompatBackend, RemoteGenerationError  # noqa: E402

CHAT = "/v1/chat/completions"
# Small waits keep the suite fast; the backoff logic itself is unit-tested in test_retry.py.
FAST = {"backoff_base": 0.02, "backoff_max": 0.2, "timeout": 0.5, "max_retries": 10}


def make(
    server: FakeServer, base: str = "base-model", adapter: str | None = None, **options: Any
) -> OpenAICompatBackend:
    spec = ModelSpec(
        base=base,
        adapter=adapter,
        backend="openai",
        options={"base_url": server.url + "/v1", **FAST, **options},
    )
    backend = BACKENDS.get("openai")(spec, cache_dir="")
    assert isinstance(backend, OpenAICompatBackend)
    return backend


def requests(n: int, **params: Any) -> list[GenerationRequest]:
    gp = GenerationParams(**params)
    return [
        GenerationRequest(
            id=f"item-{i:03d}", messages=(Message("user", f"ticket {i} about a double charge"),), params=gp
        )
        for i in range(n)
    ]


def test_is_a_registered_backend(fake_server: Callable[..., FakeServer]) -> None:
    backend = make(fake_server())
    assert isinstance(backend, Backend)
    assert "openai" in BACKENDS


def test_200_requests_with_30pct_faults_lose_nothing_and_match_a_fault_free_run(
    fake_server: Callable[..., FakeServer],
) -> None:
    batch = requests(200, max_new_tokens=64)
    clean_server = fake_server(faults=Faults(latency_s=0.003))
    clean = make(clean_server, concurrency=8).generate(batch)

    faulty_server = fake_server(
        faults=Faults(rate=0.3, seed=7, latency_s=0.003, retry_after=0.01, timeout_s=5.0)
    )
    backend = make(faulty_server, concurrency=8, timeout=0.3)
    noisy = backend.generate(batch)

    # Every fault kind was met and retried by our loop (the SDK's own retries are off), and every
    # attempt reached the server. ">=": a loaded machine may add a genuine timeout of its own.
    injected = faulty_server.faults_injected
    assert set(injected) == {"429", "500", "timeout", "malformed"}
    assert 40 <= sum(injected.values()) <= 90
    assert set(backend.stats.retries) == set(injected)
    assert all(backend.stats.retries[kind] >= n for kind, n in injected.items())
    assert faulty_server.counts[CHAT] == backend.stats.attempts == 200 + sum(backend.stats.retries.values())
    assert backend.stats.failed == 0

    assert [c.text for c in noisy] == [c.text for c in clean]
    # In request order, each the server's answer to that very request.
    assert [c.text for c in noisy] == [answer_text("base-model", [r.messages[0].to_dict()]) for r in batch]
    assert all(c.finish_reason == "stop" and c.n_tokens > 0 for c in noisy)

    for server in (clean_server, faulty_server):
        assert 1 < server.peak_in_flight[CHAT] <= 8


def test_concurrency_limit_is_respected(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server(faults=Faults(latency_s=0.02))
    make(server, concurrency=3).generate(requests(24))
    assert server.peak_in_flight[CHAT] == 3


def test_each_answer_has_its_servers_token_counts_and_its_own_latency(fake_server: Callable[..., FakeServer]) -> None:
    """Latency is timed per request from send to reply; a request waiting for a concurrency slot
    is not charged for the wait (6 requests through 1 slot at ~50 ms each: ~50 ms each, not up to 300)."""
    server = fake_server(faults=Faults(latency_s=0.05))
    out = make(server, concurrency=1).generate(requests(6))
    assert [c.prompt_tokens for c in out] == [6] * 6  # "ticket N about a double charge": the server's usage
    assert all(c.n_tokens > 0 for c in out)
    latencies = [c.latency_s for c in out]
    assert all(lat is not None and 0.05 <= lat < 0.25 for lat in latencies), latencies


def test_request_payload_is_greedy_with_seed_max_tokens_and_stop(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server()
    backend = make(server, adapter="support-lora-v3")
    [out] = backend.generate(requests(1, max_new_tokens=3, stop=("\n\n",)))
    [seen] = server.requests
    assert seen.path == CHAT
    sent = seen.body
    assert sent["model"] == "support-lora-v3"  # the adapter is addressed by its served name
    assert sent["temperature"] == 0.0 and sent["seed"] == 0
    assert sent["max_tokens"] == 3 and sent["stop"] == ["\n\n"]
    assert sent["messages"] == [{"role": "user", "content": "ticket 0 about a double charge"}]
    assert out.finish_reason == "length" and out.n_tokens == 3


def test_seed_can_be_left_out_for_servers_that_reject_it(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server()
    make(server, seed=None).generate(requests(1))
    assert "seed" not in server.requests[0].body


def test_retry_after_is_honoured(fake_server: Callable[..., FakeServer]) -> None:
    calls = {"n": 0}

    def limited(req: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            return Reply({"error": {"message": "slow down"}}, 429, {"retry-after": "0.3"})
        return openai_chat(req)

    backend = make(fake_server({CHAT: limited}))
    start = time.monotonic()
    [out] = backend.generate(requests(1))
    assert time.monotonic() - start >= 0.3
    assert out.text.startswith("base-model says")
    assert dict(backend.stats.retries) == {"429": 1}


def test_a_retry_after_beyond_the_limit_is_not_waited_for(fake_server: Callable[..., FakeServer]) -> None:
    route = lambda req: Reply({"error": {"message": "come back tomorrow"}}, 429, {"retry-after": "86400"})  # noqa: E731
    server = fake_server({CHAT: route})
    with pytest.raises(
        RemoteGenerationError, match=r"item 'item-000'.*retry after 86400s.*max_retry_after=60s"
    ):
        make(server).generate(requests(1))
    assert server.counts[CHAT] == 1


def test_failure_after_all_retries_names_the_item_status_and_fix(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server({CHAT: lambda req: Reply({"error": {"message": "boom"}}, 503)})
    backend = make(server, max_retries=2, backoff_base=0.001)
    with pytest.raises(
        RemoteGenerationError,
        match=r"item 'item-000'.*gave up after 3 attempt\(s\).*HTTP 503.*options\.max_retries",
    ):
        backend.generate(requests(1))
    assert server.counts[CHAT] == 3


def test_unknown_model_is_not_retried_and_says_how_to_serve_it(
    fake_server: Callable[..., FakeServer],
) -> None:
    server = fake_server({CHAT: lambda req: Reply({"error": {"message": "model not found"}}, 404)})
    with pytest.raises(
        RemoteGenerationError, match=r"HTTP 404: model not found.*--lora-modules my-lora=/path"
    ):
        make(server, adapter="my-lora").generate(requests(5))
    assert server.counts[CHAT] <= 5  # one attempt each at most; the first failure cancels the rest


def test_rejected_key_names_the_variable_and_never_the_key(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNEGATE_TEST_KEY", "sk-very-secret")
    server = fake_server({CHAT: lambda req: Reply({"error": {"message": "invalid api key"}}, 401)})
    backend = make(server, api_key_env="TUNEGATE_TEST_KEY")
    with pytest.raises(
        RemoteGenerationError, match="HTTP 401: invalid api key.*set TUNEGATE_TEST_KEY"
    ) as info:
        backend.generate(requests(1))
    for text in (str(info.value), json.dumps(backend.describe()), backend.fingerprint):
        assert "sk-very-secret" not in text


def test_the_key_comes_from_the_named_environment_variable(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNEGATE_TEST_KEY", "sk-abc")
    server = fake_server()
    make(server, api_key_env="TUNEGATE_TEST_KEY").generate(requests(1))
    assert server.requests[0].headers["authorization"] == "Bearer sk-abc"


def test_a_self_hosted_server_needs_no_key(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = fake_server()
    make(server).generate(requests(1))
    assert server.requests[0].headers["authorization"] == "Bearer EMPTY"


def test_hosted_openai_without_a_key_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match=r"set the environment variable OPENAI_API_KEY"):
        BACKENDS.get("openai")(
            ModelSpec(base="ft:gpt-4o-mini:acme:support:v3", backend="openai"), cache_dir=""
        )


def test_fingerprint_trusts_url_name_and_decoding_not_key_or_concurrency(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake_server()
    ref = make(server).fingerprint
    assert make(server, concurrency=2, timeout=9.0).fingerprint == ref
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    assert make(server).fingerprint == ref
    assert make(server, adapter="lora-a").fingerprint != ref
    assert make(server, seed=1).fingerprint != ref
    other = FakeServer().start()
    try:
        assert make(other).fingerprint != ref
    finally:
        other.stop()


def test_render_is_canonical_json_of_the_chat(fake_server: Callable[..., FakeServer]) -> None:
    backend = make(fake_server())
    chat = (Message("system", "Be brief."), Message("user", "Où est ma facture ?"))
    rendered = backend.render(chat)
    assert json.loads(rendered) == [m.to_dict() for m in chat]
    assert (
        rendered
        == '[{"content":"Be brief.","role":"system"},{"content":"Où est ma facture ?","role":"user"}]'
    )


def test_credentials_in_the_url_are_redacted(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server()
    url = server.url.replace("http://", "http://user:hunter2@") + "/v1"
    backend = BACKENDS.get("openai")(
        ModelSpec(base="m", backend="openai", options={"base_url": url}), cache_dir=""
    )
    assert "hunter2" not in json.dumps(backend.describe())
    assert backend.describe()["base_url"] == server.url + "/v1"


def test_unknown_option_is_rejected_with_the_allowed_keys() -> None:
    spec = ModelSpec(base="m", backend="openai", options={"base_url": "http://x/v1", "concurency": 4})
    with pytest.raises(ConfigError, match=r"concurency: unknown key; allowed keys: \['api_key_env'"):
        BACKENDS.get("openai")(spec, cache_dir="")


def test_bad_base_url_is_rejected() -> None:
    spec = ModelSpec(base="m", backend="openai", options={"base_url": "localhost:8000/v1"})
    with pytest.raises(ConfigError, match=r"must start with http:// or https://, got 'localhost:8000/v1'"):
        BACKENDS.get("openai")(spec, cache_dir="")


def test_missing_sdk_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` raise ImportError
    spec = ModelSpec(base="m", backend="openai", options={"base_url": "http://127.0.0.1:9/v1"})
    with pytest.raises(ModelLoadError, match=r"pip install 'openai>=1.40'$"):
        BACKENDS.get("openai")(spec, cache_dir="")


def test_generate_works_inside_a_running_event_loop(fake_server: Callable[..., FakeServer]) -> None:
    backend = make(fake_server())

    async def from_async_code() -> list[str]:
        return [c.text for c in backend.generate(requests(3))]

    texts = asyncio.run(from_async_code())
    assert len(texts) == 3 and all(t.startswith("base-model says") for t in texts)


def test_empty_batch_sends_nothing(fake_server: Callable[..., FakeServer]) -> None:
    server = fake_server()
    assert make(server).generate([]) == []
    assert server.counts[CHAT] == 0


# --- hostile transport and leaked credentials ----------------------------------------------------

PLANTED_KEY = "sk-test-PLANTED-KEY-0123456789"
PLANTED_PASSWORD = "pw-PLANTED-hunter2"


def _echo_key_401(req: Any) -> Any:
    """A server that rejects the key and echoes it back, as some gateways do."""
    return Reply(
        {
            "error": {
                "message": f"Incorrect API key provided: {PLANTED_KEY}. Authorization: Bearer {PLANTED_KEY}"
            }
        },
        401,
    )


def test_a_key_echoed_by_a_401_and_a_url_password_never_reach_errors_or_debug_logs(
    fake_server: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED_KEY)
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and httpx's included
    server = fake_server({CHAT: _echo_key_401})
    url = server.url.replace("http://", f"http://user:{PLANTED_PASSWORD}@") + "/v1"
    backend = BACKENDS.get("openai")(
        ModelSpec(base="m", backend="openai", options={"base_url": url, **FAST}), cache_dir=""
    )
    with pytest.raises(RemoteGenerationError) as info:
        backend.generate(requests(1))
    produced = [str(info.value), repr(info.value), json.dumps(backend.describe()), caplog.text]
    produced += [r.getMessage() for r in caplog.records]
    assert server.counts[CHAT] == 1  # the request did reach the server and was rejected
    assert "HTTP 401" in str(info.value) and "Incorrect API key provided: ***" in str(info.value)
    for text in produced:
        assert PLANTED_KEY not in text
        assert PLANTED_PASSWORD not in text


@pytest.mark.parametrize("content_type", ["text/html", "text/plain"])
def test_a_200_that_is_not_json_is_retried_then_fails_with_the_body(
    fake_server: Callable[..., FakeServer], content_type: str
) -> None:
    body = b"<html><body>502 Bad Gateway (upstream sk-ant-LEAKED-000000000)</body></html>"
    server = fake_server({CHAT: lambda req: Reply(body, content_type=content_type)})
    backend = make(server, max_retries=2)
    with pytest.raises(RemoteGenerationError) as info:
        backend.generate(requests(1))
    msg = str(info.value)
    assert "gave up after 3 attempt(s)" in msg and "malformed" in msg
    assert "502 Bad Gateway" in msg and "sk-ant-LEAKED" not in msg
    assert server.counts[CHAT] == 3 and backend.stats.retries["malformed"] == 2
