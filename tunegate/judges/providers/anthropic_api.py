"""The ``anthropic`` judge: the official SDK, Messages API, a forced tool call for the verdict.

The verdict schema is the tool's ``input_schema`` and ``tool_choice`` forces that tool, so the
answer arrives as a ``tool_use`` content block holding a JSON object, not as prose to parse.
Transport, keys and client handling: tunegate/judges/providers/sdk.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tunegate.judges.prompts import JudgePrompt
from tunegate.judges.providers.base import ProviderReply, register_provider, settings_key
from tunegate.judges.providers.sdk import HTTPOptions, SDKProvider

TOOL_NAME = "record_verdict"


class AnthropicOptions(HTTPOptions):
    api_key_env: str | None = "ANTHROPIC_API_KEY"
    temperature: float | None = None
    """None: the model's default (current SDKs and models take none); a number is sent as-is."""


class AnthropicProvider(SDKProvider):
    SDK = "anthropic"
    DEFAULT_MODEL = "claude-sonnet-4-5"

    def __init__(self, model: str | None = None, **options: Any) -> None:
        super().__init__("anthropic", model, AnthropicOptions, options)

    def _new_client(self) -> Any:
        return self._sdk.AsyncAnthropic(
            api_key=self._key, base_url=self.opts.base_url, max_retries=0, timeout=self.opts.timeout
        )

    async def complete(self, prompts: Sequence[JudgePrompt]) -> list[ProviderReply]:
        return [await self._one(p) for p in prompts]

    async def _one(self, prompt: JudgePrompt) -> ProviderReply:
        tool = {
            "name": TOOL_NAME,
            "description": "Record the verdict for the response(s) being judged.",
            "input_schema": prompt.schema,
        }
        extra: dict[str, Any] = {}
        if self.opts.temperature is not None:
            extra["extra_body"] = {"temperature": self.opts.temperature}
        msg = await self.request(
            self.client().messages.with_raw_response.create,
            self._sdk.types.Message,
            model=self.model,
            max_tokens=self.opts.max_tokens,
            system=prompt.system,
            messages=[{"role": "user", "content": prompt.user}],
            tools=[tool],
            tool_choice={"type": "tool", "name": TOOL_NAME},
            **extra,
        )
        usage = getattr(msg, "usage", None)
        tokens_in = int(getattr(usage, "input_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "output_tokens", 0) or 0)
        texts: list[str] = []
        for block in msg.content if isinstance(msg.content, list) else []:
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
                data = dict(block.input) if isinstance(block.input, dict) else None
                raw = json.dumps(block.input, ensure_ascii=False, sort_keys=True)
                return ProviderReply(raw, data, input_tokens=tokens_in, output_tokens=tokens_out)
            if getattr(block, "type", None) == "text":
                texts.append(str(getattr(block, "text", "")))
        # No tool call (e.g. stop_reason "max_tokens"): the text is parsed strictly, or fails.
        return ProviderReply("\n".join(texts), None, input_tokens=tokens_in, output_tokens=tokens_out)

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
        return {**super().describe(), "structured_output": "tool_use"}


@register_provider(
    "anthropic",
    key_env="ANTHROPIC_API_KEY",
    prices={"claude-opus-4-1": (15.0, 75.0), "claude-sonnet-4-5": (3.0, 15.0), "claude-haiku-4-5": (1.0, 5.0)},
    loggers=("anthropic", "httpx", "httpcore"),
)
def make_anthropic(model: str | None = None, **options: Any) -> AnthropicProvider:
    return AnthropicProvider(model, **options)
