"""What the HTTP judges (``anthropic``, ``openai``, ``openai-compatible``) share: one base class.

``SDKProvider`` holds the options, the key (from the environment only), one SDK client per event
loop, the retry classifier and the transport checks. Every request goes through ``request``,
which reads the raw HTTP reply before the SDK parses it:

- a 200 whose body is not JSON (``text/html`` from a proxy, ``text/plain``), JSON with duplicate
  keys (``{"score": 1, "score": 5}``) or NaN literals, or JSON of the wrong shape raises
  ``MalformedReply``: retried like a timeout, and once retries run out the judgment fails with
  the body's first bytes (redacted) as the reason, never an AttributeError;
- a 4xx that retrying cannot fix becomes one ``JudgeError`` (redacted: a server that echoes the
  key in its 401 text does not put it in the message).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import field_validator

from tunegate.harness.redact import install_log_redaction, learn_url, redact_text, strip_userinfo
from tunegate.harness.retry import MalformedReply, Transient, body_excerpt, deadline, sdk_classifier
from tunegate.harness.validation import JSONProblem, strict_json
from tunegate.judges.prompts import Output
from tunegate.judges.providers.base import (
    ProviderOptions,
    api_error,
    api_key_from_env,
    import_sdk,
    parse_options,
)

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = ("localhost", "127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "localhost.")


class HTTPOptions(ProviderOptions):
    """Options every HTTP judge takes (``--judge-option KEY=VALUE`` from pytest)."""

    api_key_env: str | None = None
    """Environment variable holding the key (the key itself is never accepted as an option)."""
    base_url: str | None = None
    """Another endpoint speaking the same API (a proxy, a gateway, a local server)."""
    timeout: float = 60.0
    """Seconds per attempt for the whole reply (connect, send, every byte of the answer); a
    timeout is retried."""
    max_tokens: int = 512

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            normalise_base_url(value)  # raises ValueError with the reason
        return value


def normalise_base_url(url: str) -> str:
    """The form of a base URL used in judge cache keys: equal for URLs naming the same endpoint.

    Scheme and host lower-cased; userinfo dropped; the scheme's default port dropped; trailing
    slashes dropped; ``localhost``, ``127.0.0.1`` and ``[::1]`` all become ``127.0.0.1``.
    """
    parts = urlsplit(strip_userinfo(url.strip()))
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(
            f"expected an http:// or https:// URL with a host, e.g. http://localhost:8000/v1; got {redact_text(url)!r}"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"the port in {redact_text(url)!r} is not a number from 0 to 65535") from None
    host = parts.hostname.lower()
    if host in LOOPBACK:
        host = "127.0.0.1"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


class SDKProvider:
    """Base of the HTTP judges. Subclasses set ``SDK`` and ``DEFAULT_MODEL`` and build requests."""

    SDK: ClassVar[str]
    DEFAULT_MODEL: ClassVar[str]
    output: Output = "json"
    max_batch = 1
    default_concurrency = 8
    deterministic = False

    def __init__(
        self, name: str, model: str | None, options_cls: type[HTTPOptions], options: Mapping[str, Any]
    ) -> None:
        self.name = name
        self.opts: Any = parse_options(options_cls, options, name)
        self.model = model or self.DEFAULT_MODEL
        self._sdk = import_sdk(self.SDK, name)
        install_log_redaction()  # the SDK's loggers exist now: keep keys out of DEBUG logs
        learn_url(self.opts.base_url)
        env = self.opts.api_key_env
        self._key = api_key_from_env(env, name) if env else "not-needed"
        self._classify = sdk_classifier(self._sdk)
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def classify(self, exc: BaseException) -> Transient | None:
        return self._classify(exc)

    @property
    def base_url_key(self) -> str | None:
        """The normalised base URL (for cache keys), None for the SDK's default endpoint."""
        return normalise_base_url(self.opts.base_url) if self.opts.base_url else None

    def _new_client(self) -> Any:
        raise NotImplementedError

    def client(self) -> Any:
        """The SDK client bound to the running event loop (a new loop gets a new client)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._new_client()
            self._loop = loop
        return self._client

    async def request(self, create: Callable[..., Awaitable[Any]], expected: type, **kwargs: Any) -> Any:
        """``create.with_raw_response(**kwargs)``, checked: the SDK's parsed reply of type ``expected``.

        The whole attempt has ``options.timeout`` seconds (``ReplyDeadline``, retried as a timeout)."""
        return await deadline(self.opts.timeout, self._request(create, expected, **kwargs))

    async def _request(self, create: Callable[..., Awaitable[Any]], expected: type, **kwargs: Any) -> Any:
        try:
            raw = await create(**kwargs)
        except self._sdk.APIStatusError as exc:
            err = api_error(self.name, exc, key_env=self.opts.api_key_env, model=self.model)
            if err is not None:
                raise err from None
            raise
        return await checked_reply(raw, expected)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "model": self.model,
            "base_url": redact_text(self.opts.base_url) if self.opts.base_url else None,
            "temperature": self.opts.temperature,
            "max_tokens": self.opts.max_tokens,
            "sdk_version": getattr(self._sdk, "__version__", "?"),
        }


async def checked_reply(raw: Any, expected: type) -> Any:
    """The parsed reply of an SDK raw response, or MalformedReply saying what came instead."""
    http = raw.http_response
    ctype = str(http.headers.get("content-type", "")).split(";")[0].strip().lower()
    body = http.text
    if "json" not in ctype:
        raise MalformedReply(
            f"HTTP {http.status_code} with content-type {ctype or '(none)'}, not JSON; "
            f"the body starts {body_excerpt(body)}"
        )
    try:
        strict_json(body)
    except JSONProblem as exc:
        raise MalformedReply(
            f"the reply is not valid JSON ({exc}); the body starts {body_excerpt(body)}"
        ) from None
    parsed = raw.parse()
    if inspect.isawaitable(parsed):
        parsed = await parsed
    if not isinstance(parsed, expected):
        raise MalformedReply(
            f"the reply is not a {expected.__name__} ({type(parsed).__name__}); the body starts {body_excerpt(body)}"
        )
    return parsed
