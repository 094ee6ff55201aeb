"""The ``anthropic`` judge: the official SDK, Messages API, a forced tool call for the verdict.

The verdict schema is the tool's ``input_schema`` and ``tool_choice`` forces that tool, so the
answer arrives as a ``tool_use`` content block holding a JSON object, not as prose to parse.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

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

DEFAULT_MODEL = "claude-sonnet-4-5"
TOOL_NAME = "record_verdict"


class AnthropicOptions(ProviderOptions):
    api_key_env: str = "ANTHROPIC_API_KEY"
    """Environment variable holding the key (the key itself is never accepted as an option)."""
    base_url: str | None = None
    """Another endpoint speaking the Messages API (a proxy, a gateway)."""
    timeout: float = 60.0
    """Seconds per HTTP request; a timeout is retried."""
    max_tokens: int = 512
    temperature: float | None = None
    """None: the model's default (current SDKs and models take none); a number is sent as-is."""


class AnthropicProvider:
    name = "anthropic"
    output: Output = "json"
    max_batch = 1
    default_concurrency = 8
    deterministic = False

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.opts = parse_options(AnthropicOptions, options, self.name)
        self.model = model or DEFAULT_MODEL
        self._sdk = import_sdk("anthropic", self.name)
        self._key = api_key_from_env(self.opts.api_key_env, self.name)
        self._classify = sdk_classifier(self._sdk)
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def classify(self, exc: BaseException) -> Transient | None:
        return self._classify(exc)

    def _client_for_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._sdk.AsyncAnthropic(
                api_key=self._key, base_url=self.opts.base_url, max_retries=0, timeout=self.opts.timeout
            )
            self._loop = loop
        return self._client

    async def complete(self, prompts: Sequence[JudgePrompt]) -> list[ProviderReply]:
        return [await self._one(p) for p in prompts]

    async def _one(self, prompt: JudgePrompt) -> ProviderReply:
        client = self._client_for_loop()
        tool = {
            "name": TOOL_NAME,
            "description": "Record the verdict for the response(s) being judged.",
            "input_schema": prompt.schema,
        }
        extra: dict[str, Any] = {}
        if self.opts.temperature is not None:
            extra["extra_body"] = {"temperature": self.opts.temperature}
        try:
            msg = await client.messages.create(
                model=self.model,
                max_tokens=self.opts.max_tokens,
                system=prompt.system,
                messages=[{"role": "user", "content": prompt.user}],
                tools=[tool],
                tool_choice={"type": "tool", "name": TOOL_NAME},
                **extra,
            )
        except self._sdk.APIStatusError as exc:
            err = api_error(self.name, exc, key_env=self.opts.api_key_env, model=self.model)
            if err is not None:
                raise err from None
            raise
        usage = getattr(msg, "usage", None)
        tokens_in = int(getattr(usage, "input_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "output_tokens", 0) or 0)
        texts: list[str] = []
        for block in msg.content or []:
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
                data = dict(block.input) if isinstance(block.input, dict) else None
                raw = json.dumps(block.input, ensure_ascii=False, sort_keys=True)
                return ProviderReply(raw, data, input_tokens=tokens_in, output_tokens=tokens_out)
            if getattr(block, "type", None) == "text":
                texts.append(str(getattr(block, "text", "")))
        # No tool call (e.g. stop_reason "max_tokens"): the text is parsed strictly, or fails.
        return ProviderReply("\n".join(texts), None, input_tokens=tokens_in, output_tokens=tokens_out)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    def settings_key(self) -> str:
        return settings_key(
            self.name,
            self.model,
            {
                "max_tokens": self.opts.max_tokens,
                "temperature": self.opts.temperature,
                "structured": "tool_use",
            },
        )

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "model": self.model,
            "base_url": self.opts.base_url,
            "temperature": self.opts.temperature,
            "max_tokens": self.opts.max_tokens,
            "structured_output": "tool_use",
            "sdk_version": getattr(self._sdk, "__version__", "?"),
        }


@register_provider("anthropic")
def make_anthropic(model: str | None = None, **options: Any) -> AnthropicProvider:
    return AnthropicProvider(model, **options)
