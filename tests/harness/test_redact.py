"""tunegate.harness.redact: one function that removes credentials from anything persisted or printed."""

from __future__ import annotations

import logging

import pytest

from tunegate.harness.redact import MASK, RedactingFilter, install_log_redaction, redact, strip_userinfo

KEY = "sk-proj-PLANTED0123456789abcdef"


def test_env_keys_userinfo_headers_and_key_patterns_are_removed_in_any_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-abcdefgh-plain")  # any *_TOKEN of 8+ chars
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to be told from ordinary words
    record = {
        "command": "pytest --base-url http://alice:s3cr3t-pw@gpu-box:8000/v1",
        "notes": ["server said: Authorization: Bearer opaque-value-1", ("x-api-key: opaque-value-2",)],
        "echo": f"Incorrect API key provided: {KEY}",
        "anthropic": "key sk-ant-api03-ZZZZZZZZZZZZ rejected",
        "other": "tok-abcdefgh-plain abc",
        "count": 3,
        f"key {KEY}": None,
    }
    out = redact(record)
    flat = repr(out)
    for secret in (
        "s3cr3t-pw",
        "alice",
        "opaque-value-1",
        "opaque-value-2",
        KEY,
        "ZZZZZZZZZZZZ",
        "tok-abcdefgh",
    ):
        assert secret not in flat
    assert out["command"] == "pytest --base-url http://***@gpu-box:8000/v1"
    assert out["notes"] == ["server said: Authorization: Bearer ***", ("x-api-key: ***",)]
    assert out["other"] == f"{MASK} abc" and out["count"] == 3
    assert isinstance(out["notes"][1], tuple)  # the same shape comes back


def test_strip_userinfo_keeps_host_port_and_path() -> None:
    assert strip_userinfo("http://u:p@[::1]:8000/v1/") == "http://[::1]:8000/v1/"
    assert strip_userinfo("https://host/v1") == "https://host/v1"


def test_log_records_of_the_http_stack_are_redacted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError(f"server echoed {KEY}")
    except ValueError:
        logging.getLogger("httpx2.late.child").debug("GET %s", "http://bob:pw-PLANTED@h/v1", exc_info=True)
    logging.getLogger("someone.else").debug("untouched %s", "x")
    assert "pw-PLANTED" not in caplog.text and KEY not in caplog.text
    assert "http://***@h/v1" in caplog.text and "untouched x" in caplog.text
    record = logging.LogRecord(
        "mine", logging.INFO, __file__, 1, "Authorization: Bearer %s", ("abcdef",), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "Authorization: Bearer ***"
