"""One redaction function for everything tunegate persists, prints or logs.

``redact(value)`` returns the same shape (a str, or dicts/lists/tuples of them, recursively) with
secrets replaced by ``***``:

- URL userinfo: ``http://user:PW@host/v1`` -> ``http://***@host/v1``;
- the values of key variables present in the environment: ``TUNEGATE_JUDGE_API_KEY``,
  ``HF_TOKEN``, each registered judge provider's ``key_env`` (``OPENAI_API_KEY``,
  ``ANTHROPIC_API_KEY``...) and any variable whose name ends with ``_API_KEY`` or ``_TOKEN``
  (values of 8 characters or more);
- ``Authorization: Bearer ...`` / ``x-api-key: ...`` echoes (header lines, JSON or repr form);
- ``sk-...`` / ``sk-ant-...`` style keys;
- ``Basic <base64>`` credentials (an echoed HTTP Basic header, with or without its header name);
- every secret the run was given (``learn``): a URL password, the key in a variable named by an
  ``api_key_env`` option. A learned secret is masked as it is, URL-encoded, and base64-encoded
  (alone, at any byte offset inside a longer base64 string, and as ``user:password`` for a URL's
  HTTP Basic auth), so a server that echoes what it was sent in another encoding leaks nothing.

``learn_from_options(options)`` learns every secret a run's options carry, once, at start-up.

``install_log_redaction()`` does the same to every log record of tunegate and of the loggers each
registered backend and judge provider names (openai, anthropic, httpx, httpcore for the built-ins),
so a DEBUG log never shows a key either;
``RedactingFilter`` is the same as a ``logging.Filter`` for a handler of your own.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

MASK = "***"
KNOWN_KEY_VARS: tuple[str, ...] = ("TUNEGATE_JUDGE_API_KEY", "HF_TOKEN")
"""Key variables always masked; each judge provider adds its own ``key_env`` (``watch_key_var``)."""
KEY_VAR_SUFFIXES = ("_API_KEY", "_TOKEN")
MIN_SECRET_LEN = 8
MIN_LEARNED_LEN = 6  # a shorter learned secret is masked only in its URL form (else every "test" goes)
LOGGER_PREFIXES: tuple[str, ...] = ("tunegate",)
"""Loggers whose records are redacted; backends and judge providers add their SDKs' (``watch_loggers``)."""

T = TypeVar("T")

# scheme://userinfo@ -> scheme://***@ (userinfo holds no '/', '@' or whitespace)
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/@\s'\"<>]+)@")
# Authorization: Bearer X / x-api-key: X / api-key=X, as a header line, a dict repr or JSON.
_HEADER = re.compile(
    r"(?P<name>\b(?:authorization|proxy-authorization|x-api-key|api[-_]key)\b['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<scheme>(?:bearer|basic|token)\s+)?(?P<value>[^\s'\",;}]+)",
    re.IGNORECASE,
)
_SK_KEY = re.compile(r"\bsk-(?:ant-)?[A-Za-z0-9_\-]{8,}")
# An echoed HTTP Basic credential without its header name: "Basic dXNlcjpwYXNz".
# The value must look encoded (a digit, '+', '/' or '=' padding, and both cases), not "Basic Setup".
_BASIC = re.compile(
    r"\b(?P<scheme>[Bb]asic\s+)(?P<value>(?=[A-Za-z0-9+/_-]*[0-9+/=])(?=[A-Za-z0-9+/_-]*[a-z])"
    r"(?=[A-Za-z0-9+/_-]*[A-Z])[A-Za-z0-9+/_-]{8,}={0,2})"
)

_learned: set[str] = set()
_learned_forms: list[str] = []
_learn_lock = threading.Lock()


def _base64_forms(raw: bytes) -> set[str]:
    """Every way ``raw`` shows inside base64 text: whole, and the characters it alone decides at
    each of the three byte offsets it can start at inside a longer encoded string (std and url-safe)."""
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode())
        for offset in range(3):
            text = encode(b"\0" * offset + raw).decode()
            first = -(-8 * offset // 6)  # the first character made only of raw's bits
            last = 8 * (offset + len(raw)) // 6
            forms.add(text[first:last])
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def _forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}
    forms |= _base64_forms(secret.encode())
    return {f for f in forms if len(f) >= MIN_LEARNED_LEN}


def learn(*secrets: str | None) -> None:
    """Mask these values (and their URL-encoded and base64 forms) in everything redacted from now on."""
    with _learn_lock:
        fresh = {s.strip() for s in secrets if s and len(s.strip()) >= MIN_LEARNED_LEN} - _learned
        if not fresh:
            return
        _learned.update(fresh)
        forms = set(_learned_forms)
        for secret in fresh:
            forms |= _forms(secret)
        _learned_forms[:] = sorted(forms, key=len, reverse=True)


def learn_url(url: str | None) -> None:
    """Learn the credentials in a URL's userinfo: the password, and ``user:password`` as HTTP
    Basic auth sends it (base64), raw and percent-decoded."""
    if not url:
        return
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return
    user, password = parts.username, parts.password
    if password is None:
        if user and len(user) >= MIN_SECRET_LEN:  # http://TOKEN@host: the user name is the token
            learn(user)
        return
    for u, p in {(user or "", password), (unquote(user or ""), unquote(password))}:
        learn(p)
        pair = f"{u}:{p}".encode()
        with _learn_lock:
            _learned_forms[:] = sorted(set(_learned_forms) | _base64_forms(pair), key=len, reverse=True)


def learn_env(name: str | None) -> None:
    """Learn the value of the environment variable ``name`` (an ``api_key_env`` option)."""
    if name:
        learn(os.environ.get(str(name), ""))


def learn_from_options(options: Any) -> None:
    """Learn every secret a run's options carry: URL passwords (``base_url``, ``judge_base_url``,
    any ``*url*`` backend/judge option) and the keys named by ``api_key_env`` options."""
    for name in ("base_url", "judge_base_url"):
        learn_url(getattr(options, name, None))
    for method in ("backend_options", "judge_options"):
        getter = getattr(options, method, None)
        try:
            pairs = getter() if callable(getter) else {}
        except Exception:  # unparsable pairs are reported by the option checks, not here
            pairs = {}
        for key, value in pairs.items():
            if "url" in str(key).lower():
                learn_url(str(value))
            elif str(key).lower().endswith("key_env"):
                learn_env(str(value))


def _env_secrets(environ: Mapping[str, str]) -> list[str]:
    names = {n for n in environ if n in KNOWN_KEY_VARS or n.upper().endswith(KEY_VAR_SUFFIXES)}
    values = {environ[n].strip() for n in names}
    # Longest first, so a key that contains another is masked whole.
    return sorted((v for v in values if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


def redact_text(text: str, *, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret listed in the module docstring replaced by ``***``."""
    if not text:
        return text
    for secret in _env_secrets(os.environ if environ is None else environ):
        text = text.replace(secret, MASK)
    for form in _learned_forms:
        if form in text:
            text = text.replace(form, MASK)
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    text = _HEADER.sub(lambda m: f"{m.group('name')}{m.group('scheme') or ''}{MASK}", text)
    text = _BASIC.sub(lambda m: f"{m.group('scheme')}{MASK}", text)
    return _SK_KEY.sub(MASK, text)


def redact(value: T, *, environ: Mapping[str, str] | None = None) -> T:
    """The same shape as ``value`` with secrets removed from every string in it (keys included)."""
    out: Any
    if isinstance(value, str):
        out = redact_text(value, environ=environ)
    elif isinstance(value, Mapping):
        out = {redact(k, environ=environ): redact(v, environ=environ) for k, v in value.items()}
    elif isinstance(value, list):
        out = [redact(v, environ=environ) for v in value]
    elif isinstance(value, tuple):
        out = tuple(redact(v, environ=environ) for v in value)
    else:
        out = value
    return out  # type: ignore[no-any-return]


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@`` (for fingerprints and cache keys, where even ``***`` is noise)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback text) through ``redact_text``; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


_FILTER = RedactingFilter()
_installed = False


def watch_key_var(name: str) -> None:
    """Mask the value of the environment variable ``name`` wherever it appears (a provider's key)."""
    global KNOWN_KEY_VARS
    if name not in KNOWN_KEY_VARS:
        KNOWN_KEY_VARS = (*KNOWN_KEY_VARS, name)


def watch_loggers(*prefixes: str) -> None:
    """Redact the records of loggers named ``prefix...`` too (an SDK's; called on registration)."""
    global LOGGER_PREFIXES
    LOGGER_PREFIXES = tuple(dict.fromkeys((*LOGGER_PREFIXES, *(p for p in prefixes if p))))


def _redacted_here(name: str) -> bool:
    root = name.split(".")[0]
    return any(root.startswith(prefix) for prefix in LOGGER_PREFIXES)


def install_log_redaction() -> None:
    """Redact every log record of tunegate and of the HTTP stack (idempotent, process-wide).

    The records are rewritten as they are created (a record factory), so loggers that appear
    later (an SDK's per-connection loggers, vendored ``httpx2``/``httpcore2``) are covered too,
    and every handler (pytest's caplog, a file, the terminal) sees only redacted text.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _redacted_here(record.name):
            _FILTER.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
