"""The openai-compatible backend: chat completions against any OpenAI-style server.

Works with ``vllm serve --enable-lora`` (an adapter is addressed by its served model name),
Hugging Face TGI, and hosted fine-tunes. ``spec.base`` is the base model's served name,
``spec.adapter`` the adapter's served name; ``spec.options`` holds the connection settings
(see ``OpenAIBackendOptions``). Example::

    ModelSpec(base="Qwen/Qwen2.5-0.5B-Instruct", adapter="support-lora", backend="openai",
              options={"base_url": "http://gpu-box:8000/v1", "concurrency": 16})

Requests run concurrently (an asyncio semaphore bounds them), results come back in request
order. Our own retry loop (``tunegate.harness.retry``) handles 429/5xx/timeouts/connection errors
and malformed replies, honouring ``retry-after``; the SDK's retries are off so each retry is
counted in ``backend.stats``. A request that still fails raises ``RemoteGenerationError`` naming
the item. Responses are not cached here: ``tunegate.harness.cache`` wraps any backend.

Fingerprint caveat: a remote model's weights cannot be hashed. The fingerprint trusts the served
model name (with the base URL and decoding settings), so serve versioned names
(``support-lora-v3``, not ``latest``): redeploying new weights under an old name would otherwise
reuse stale cached answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import random
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunegate.harness.data import Message
from tunegate.harness.errors import ConfigError, GenerationError, ModelLoadError, RemoteAccessError
from tunegate.harness.fingerprint import digest
from tunegate.harness.models.base import Completion, GenerationRequest, ModelSpec, register_backend
from tunegate.harness.redact import install_log_redaction, learn, learn_url, redact_text, strip_userinfo
from tunegate.harness.retry import (
    MalformedReply,
    RetriesExhausted,
    RetryPolicy,
    RetryStats,
    aretry,
    body_excerpt,
    deadline,
    describe,
    sdk_classifier,
    server_message,
)
from tunegate.harness.validation import pydantic_problems

T = TypeVar("T")
FINGERPRINT_VERSION = 1
OPENAI_URL = "https://api.openai.com/v1"
INSTALL_HINT = "pip install 'openai>=1.40'"


class RemoteGenerationError(GenerationError):
    """A request to a remote model failed for good (after retries, or at once for a 4xx)."""


class RemoteAccessDenied(RemoteGenerationError, RemoteAccessError):
    """The server rejected the key (401/403) or could not be reached: the run stops (exit 4)."""


class RemoteUnavailable(RemoteGenerationError, RemoteAccessError):
    """The server did not answer a request within its retries (every attempt timed out, failed
    with a 5xx or a malformed reply, or was told to wait too long): the run cannot be carried out
    and stops (exit 4), instead of every later test waiting out the same retries."""


class OpenAIBackendOptions(BaseModel):
    """``ModelSpec.options`` of the openai backend. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = Field(
        default=None,
        description="server root, e.g. http://host:8000/v1; default $OPENAI_BASE_URL, then OpenAI's",
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY", description="name of the environment variable with the key"
    )
    concurrency: int = Field(default=8, ge=1, le=1024, description="requests in flight at once")
    timeout: float = Field(default=120.0, gt=0, description="seconds per attempt, for the whole reply")
    max_retries: int = Field(
        default=6, ge=0, le=100, description="retries per request after the first attempt"
    )
    backoff_base: float = Field(default=0.5, ge=0, description="first backoff in seconds; doubles per retry")
    backoff_max: float = Field(default=30.0, ge=0, description="longest backoff in seconds")
    max_retry_after: float = Field(default=60.0, ge=0, description="longest server-requested wait honoured")
    seed: int | None = Field(
        default=0, description="sent as `seed` (null: do not send, for servers that reject it)"
    )
    batch_size: int | None = Field(
        default=None,
        ge=0,
        description="accepted for --batch-size parity; the server batches (see concurrency)",
    )


def _options(spec: ModelSpec) -> OpenAIBackendOptions:
    try:
        return OpenAIBackendOptions(**spec.options)
    except ValidationError as exc:
        where = f"invalid options for the openai backend ({spec.name})"
        problems = "; ".join(p[len(where) + 2 :] for p in pydantic_problems(exc, where))
        raise ConfigError(
            redact_text(f"{where}: {problems}; allowed keys: {sorted(OpenAIBackendOptions.model_fields)}")
        ) from None


def _shown_url(url: str) -> str:
    """The URL without user:password, so it can be logged, fingerprinted and reported."""
    return strip_userinfo(url).rstrip("/")


def _import_openai() -> Any:
    try:
        import openai
    except ImportError:
        raise ModelLoadError(
            f"the openai backend needs the openai package; install it with: {INSTALL_HINT}"
        ) from None
    return openai


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, also when an event loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Inside a running loop (a notebook, an async test): give the coroutine its own thread and loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


_FINISH = {"stop": "stop", "length": "length", "content_filter": "error"}


class OpenAICompatBackend:
    """A model served behind an OpenAI-compatible chat completions endpoint."""

    def __init__(self, spec: ModelSpec, *, cache_dir: str = "") -> None:
        self.spec = spec
        self.options = _options(spec)
        self._sdk = _import_openai()
        self.base_url = (self.options.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")
        learn_url(self.base_url)
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"options.base_url must start with http:// or https://, got {redact_text(self.base_url)!r}; "
                "e.g. http://localhost:8000/v1 for `vllm serve`"
            )
        self.model = spec.adapter or spec.base
        if not self.model:
            raise ConfigError(
                "the openai backend needs a served model name in --base (and --candidate for an adapter)"
            )
        self.policy = RetryPolicy(
            max_retries=self.options.max_retries,
            base_delay=self.options.backoff_base,
            max_delay=self.options.backoff_max,
            max_retry_after=self.options.max_retry_after,
        )
        self.stats = RetryStats()
        self._classify = sdk_classifier(self._sdk)
        install_log_redaction()  # the SDK's loggers exist now: keep keys out of DEBUG logs
        self._api_key()  # fail before the first request, not after a suite's worth of 401s

    # --- identity ---------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        return digest(
            {
                "backend": "openai",
                "version": FINGERPRINT_VERSION,
                "base_url": _shown_url(self.base_url),
                "model": self.model,
                "decoding": {"temperature": 0.0, "seed": self.options.seed},
            }
        )

    def render(self, messages: Sequence[Message]) -> str:
        """The chat as canonical JSON: a chat API's prompt is the message list itself."""
        chat = [m.to_dict() for m in messages]
        return json.dumps(chat, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "base_url": _shown_url(self.base_url),
            "model": self.model,
            "api_key_env": self.options.api_key_env,
            "concurrency": self.options.concurrency,
            "timeout_s": self.options.timeout,
            "max_retries": self.options.max_retries,
            "seed": self.options.seed,
            "openai_sdk": getattr(self._sdk, "__version__", "unknown"),
            "retries": self.stats.as_dict(),
            "fingerprint_note": "remote weights cannot be hashed; the fingerprint trusts the served model name",
        }

    # --- generation -------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        if not requests:
            return []
        return _run(self._generate_all(list(requests)))

    def _api_key(self) -> str:
        key = os.environ.get(self.options.api_key_env)
        if key:
            learn(key)  # masked wherever a server echoes it, whatever the variable's name
            return key
        if urlsplit(self.base_url).hostname == urlsplit(OPENAI_URL).hostname:
            raise ConfigError(
                f"no API key for {self.base_url}: set the environment variable {self.options.api_key_env} "
                f"(export {self.options.api_key_env}=...), or name another one with options.api_key_env"
            )
        # Self-hosted servers (vllm serve, TGI) started without --api-key accept any token.
        return "EMPTY"

    async def _generate_all(self, requests: list[GenerationRequest]) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        semaphore = asyncio.Semaphore(self.options.concurrency)
        rng = random.Random(0)  # jitter only shapes timing; outputs never depend on it
        client = self._sdk.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._api_key(),
            timeout=self.options.timeout,
            max_retries=0,  # ours is the only retry loop, so every retry is counted
        )

        async def one(index: int, request: GenerationRequest) -> None:
            async def attempt() -> Completion:
                async with semaphore:  # the deadline bounds the whole reply, not the wait for a slot
                    return await deadline(self.options.timeout, self._complete(client, request))

            try:
                results[index] = await aretry(
                    attempt,
                    policy=self.policy,
                    classify=self._classify,
                    rng=rng,
                    stats=self.stats,
                    what=request.id,
                )
            except RetriesExhausted as exc:
                raise self._exhausted(request, exc) from exc.error
            except self._sdk.APIStatusError as exc:
                raise self._rejected(request, exc) from exc

        try:
            async with asyncio.TaskGroup() as group:
                for i, request in enumerate(requests):
                    group.create_task(one(i, request))
        except BaseExceptionGroup as group_error:
            # The first failure is the one to report; the group cancelled the other requests.
            raise group_error.exceptions[0]  # noqa: B904 - its own cause (the SDK error) is kept
        finally:
            await client.close()
        done = [r for r in results if r is not None]
        if len(done) != len(requests):
            raise RuntimeError(
                f"internal error: {len(requests) - len(done)} request(s) finished without a result"
            )
        return done

    async def _complete(self, client: Any, request: GenerationRequest) -> Completion:
        params = request.params
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in request.messages],
            "temperature": 0.0,
            "max_tokens": params.max_new_tokens,
        }
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if self.options.seed is not None:
            kwargs["seed"] = self.options.seed
        started = time.perf_counter()  # the request's own time: not the wait for a slot, not a retry's backoff
        reply = await client.chat.completions.create(**kwargs)
        latency = time.perf_counter() - started
        choices = getattr(reply, "choices", None)
        if not isinstance(choices, list) or not choices or getattr(choices[0], "message", None) is None:
            # A proxy's HTML page with status 200 parses to a str; JSON of another shape has no choices.
            raise MalformedReply(f"reply without choices[0].message: {body_excerpt(str(reply))}")
        choice = choices[0]
        usage = getattr(reply, "usage", None)
        n_tokens = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0
        prompt = getattr(usage, "prompt_tokens", None) if usage is not None else None
        return Completion(
            text=choice.message.content or "",
            n_tokens=n_tokens,
            finish_reason=_FINISH.get(str(choice.finish_reason), "stop"),
            prompt_tokens=int(prompt) if isinstance(prompt, int) and not isinstance(prompt, bool) else None,
            latency_s=latency,
        )

    # --- errors -----------------------------------------------------------------------------

    def _exhausted(self, request: GenerationRequest, exc: RetriesExhausted) -> RemoteGenerationError:
        # Never reached at all (refused, no route, unknown host), or no answer within the retries:
        # either way the run cannot be carried out.
        error = RemoteAccessDenied if exc.last.reason == "connection" else RemoteUnavailable
        return error(
            redact_text(
                f"item {request.id!r}: {self.model!r} at {_shown_url(self.base_url)} failed: {exc.gave_up}; "
                f"last failure: {describe(exc.last)}. Check that the server is up and not overloaded, then raise "
                f"options.max_retries (now {self.options.max_retries}) or options.timeout (now {self.options.timeout:g}s), "
                f"or lower options.concurrency (now {self.options.concurrency})"
            )
        )

    def _rejected(self, request: GenerationRequest, exc: Any) -> RemoteGenerationError:
        status = int(exc.status_code)
        where = f"item {request.id!r}: {self.model!r} at {_shown_url(self.base_url)} answered HTTP {status}"
        detail = server_message(exc)
        if status in (401, 403):
            fix = (
                f"the server rejected the API key; set {self.options.api_key_env} to a valid key "
                "(or point options.api_key_env at the right variable)"
            )
        elif status == 404:
            fix = (
                f"no model named {self.model!r} is served there; list the served names with "
                f"GET {_shown_url(self.base_url)}/models (for vllm serve, add the adapter with "
                f"--enable-lora --lora-modules {self.model}=/path/to/adapter)"
            )
        elif status in (400, 422):
            fix = (
                "the server refused the request; if it rejects `seed`, set options.seed: null, and check that "
                "max_new_tokens fits the model's context"
            )
        else:
            fix = "see the server's log"
        error = RemoteAccessDenied if status in (401, 403) else RemoteGenerationError
        return error(redact_text(f"{where}: {detail}; {fix}"))


@register_backend("openai", loggers=("openai", "httpx", "httpcore"))
def create(spec: ModelSpec, *, cache_dir: str) -> OpenAICompatBackend:
    return OpenAICompatBackend(spec, cache_dir=cache_dir)
