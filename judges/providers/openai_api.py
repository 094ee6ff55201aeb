"""The ``openai`` and ``openai-compatible`` judges: the official SDK, chat completions.

``openai`` asks for a JSON-schema-constrained answer (structured outputs). ``openai-compatible``
points the same SDK at any base_url (vLLM, TGI, llama.cpp, a gateway) and asks for JSON mode,
which most such servers support; either way the answer text is parsed strictly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

from harness.errors import JudgeError
from harness.models._retry import Transient, sdk_classifier
from judges.prompts import JudgePrompt, Output
from judges.providers.base import (
    ProviderOptions,
    ProviderReply,
    api_error,
    api_key_from_env,
    import_sdk,
    parse_options,
    register_provider,
    settings_key,
)

DEFAULT_MODEL = "gpt-4.1-mini"
ResponseFormat = Literal["json_schema", "json_object", "none"]


class OpenAIOptions(ProviderOptions):
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the key (the key itself is never accepted as an option)."""
    base_url: str | None = None
    timeout: float = 60.0
    """Seconds per HTTP request; a timeout is retried."""
    max_tokens: int = 512
    temperature: float | None = 0.0
    """None leaves it to the server (some reasoning models accept no temperature)."""
    response_format: ResponseFormat = "json_schema"
    """json_schema: structured outputs; json_object: JSON mode; none: plain text, parsed strictly."""


class CompatibleOptions(OpenAIOptions):
    base_url: str  # type: ignore[assignment]  # required here: where the server listens
    api_key_env: str | None = None  # type: ignore[assignment]
    """Local servers usually need no key; name a variable when yours does."""
    response_format: ResponseFormat = "json_object"


class OpenAIProvider:
    """Chat completions through the openai SDK; ``compatible`` selects the any-server flavour."""

    output: Output = "json"
    max_batch = 1
    deterministic = False

    def __init__(self, model: str | None = None, *, compatible: bool = False, **options: Any) -> None:
        self.name = "openai-compatible" if compatible else "openai"
        self.compatible = compatible
        self.opts: OpenAIOptions = parse_options(
            CompatibleOptions if compatible else OpenAIOptions, options, self.name
        )
        if compatible and not model:
            raise JudgeError(
                "the openai-compatible judge needs a model name: the one the server serves, "
                "e.g. Qwen/Qwen2.5-7B-Instruct (list them with: curl BASE_URL/models)"
            )
        self.model = model or DEFAULT_MODEL
        self.default_concurrency = 16 if compatible else 8
        self._sdk = import_sdk("openai", self.name)
        env = self.opts.api_key_env
        self._key = api_key_from_env(env, self.name) if env else "not-needed"
        self._classify = sdk_classifier(self._sdk)
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def classify(self, exc: BaseException) -> Transient | None:
        return self._classify(exc)

    def _client_for_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._sdk.AsyncOpenAI(
                api_key=self._key, base_url=self.opts.base_url, max_retries=0, timeout=self.opts.timeout
            )
            self._loop = loop
        return self._client

    def _format(self, prompt: JudgePrompt) -> dict[str, Any] | None:
        fmt = self.opts.response_format
        if fmt == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": f"{prompt.mode}_verdict", "strict": True, "schema": prompt.schema},
            }
        if fmt == "json_object":
            return {"type": "json_object"}
        return None

    async def complete(self, prompts: Sequence[JudgePrompt]) -> list[ProviderReply]:
        return [await self._one(p) for p in prompts]

    async def _one(self, prompt: JudgePrompt) -> ProviderReply:
        client = self._client_for_loop()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
        }
        # OpenAI's newer models take max_completion_tokens; other servers know max_tokens.
        kwargs["max_tokens" if self.compatible else "max_completion_tokens"] = self.opts.max_tokens
        if self.opts.temperature is not None:
            kwargs["temperature"] = self.opts.temperature
        fmt = self._format(prompt)
        if fmt is not None:
            kwargs["response_format"] = fmt
        try:
            resp = await client.chat.completions.create(**kwargs)
        except self._sdk.APIStatusError as exc:
            err = api_error(self.name, exc, key_env=self.opts.api_key_env, model=self.model)
            if err is not None:
                raise err from None
            raise
        usage = getattr(resp, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        if not resp.choices:
            return ProviderReply(
                "(no choices in the response)", None, input_tokens=tokens_in, output_tokens=tokens_out
            )
        message = resp.choices[0].message
        refusal = getattr(message, "refusal", None)
        text = message.content if message.content is not None else (f"(refusal) {refusal}" if refusal else "")
        return ProviderReply(str(text), None, input_tokens=tokens_in, output_tokens=tokens_out)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    def settings_key(self) -> str:
        return settings_key(
            self.name,
            self.model,
            {
                "base_url": self.opts.base_url if self.compatible else None,
                "max_tokens": self.opts.max_tokens,
                "temperature": self.opts.temperature,
                "response_format": self.opts.response_format,
            },
        )

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "model": self.model,
            "base_url": self.opts.base_url,
            "temperature": self.opts.temperature,
            "max_tokens": self.opts.max_tokens,
            "structured_output": self.opts.response_format,
            "sdk_version": getattr(self._sdk, "__version__", "?"),
        }


@register_provider("openai")
def make_openai(model: str | None = None, **options: Any) -> OpenAIProvider:
    return OpenAIProvider(model, **options)


@register_provider("openai-compatible")
def make_compatible(model: str | None = None, **options: Any) -> OpenAIProvider:
    return OpenAIProvider(model, compatible=True, **options)
