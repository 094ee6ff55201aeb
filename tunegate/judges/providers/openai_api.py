"""The ``openai`` and ``openai-compatible`` judges: the official SDK, chat completions.

``openai`` asks for a JSON-schema-constrained answer (structured outputs). ``openai-compatible``
points the same SDK at any base_url (vLLM, TGI, llama.cpp, a gateway) and asks for JSON mode,
which most such servers support; either way the answer text is parsed strictly. Transport, keys
and client handling: tunegate/judges/providers/sdk.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from tunegate.harness.errors import JudgeError
from tunegate.judges.prompts import JudgePrompt
from tunegate.judges.providers.base import ProviderReply, register_provider, settings_key
from tunegate.judges.providers.sdk import HTTPOptions, SDKProvider

ResponseFormat = Literal["json_schema", "json_object", "none"]


class OpenAIJudgeOptions(HTTPOptions):
    api_key_env: str | None = "OPENAI_API_KEY"
    temperature: float | None = 0.0
    """None leaves it to the server (some reasoning models accept no temperature)."""
    response_format: ResponseFormat = "json_schema"
    """json_schema: structured outputs; json_object: JSON mode; none: plain text, parsed strictly."""


class CompatibleJudgeOptions(OpenAIJudgeOptions):
    base_url: str  # type: ignore[assignment]  # required here: where the server listens
    api_key_env: str | None = None
    """Local servers usually need no key; name a variable when yours does."""
    response_format: ResponseFormat = "json_object"


class OpenAIProvider(SDKProvider):
    """Chat completions through the openai SDK; ``compatible`` selects the any-server flavour."""

    SDK = "openai"
    DEFAULT_MODEL = "gpt-4.1-mini"

    def __init__(self, model: str | None = None, *, compatible: bool = False, **options: Any) -> None:
        if compatible and not model:
            raise JudgeError(
                "the openai-compatible judge needs a model name: the one the server serves, "
                "e.g. Qwen/Qwen2.5-7B-Instruct (list them with: curl BASE_URL/models)"
            )
        self.compatible = compatible
        name = "openai-compatible" if compatible else "openai"
        super().__init__(name, model, CompatibleJudgeOptions if compatible else OpenAIJudgeOptions, options)
        self.default_concurrency = 16 if compatible else 8

    def _new_client(self) -> Any:
        return self._sdk.AsyncOpenAI(
            api_key=self._key, base_url=self.opts.base_url, max_retries=0, timeout=self.opts.timeout
        )

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
        resp = await self.request(
            self.client().chat.completions.with_raw_response.create,
            self._sdk.types.chat.ChatCompletion,
            **kwargs,
        )
        usage = getattr(resp, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        if not resp.choices or getattr(resp.choices[0], "message", None) is None:
            return ProviderReply(
                "(no choices in the response)", None, input_tokens=tokens_in, output_tokens=tokens_out
            )
        message = resp.choices[0].message
        refusal = getattr(message, "refusal", None)
        text = message.content if message.content is not None else (f"(refusal) {refusal}" if refusal else "")
        return ProviderReply(str(text), None, input_tokens=tokens_in, output_tokens=tokens_out)

    def settings_key(self) -> str:
        return settings_key(
            self.name,
            self.model,
            {
                "base_url": self.base_url_key if self.compatible else None,
                "max_tokens": self.opts.max_tokens,
                "temperature": self.opts.temperature,
                "response_format": self.opts.response_format,
            },
        )

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "structured_output": self.opts.response_format}


OPENAI_PRICES = {
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
}
"""USD per million tokens (input, output), as published when this table was written."""


@register_provider("openai", key_env="OPENAI_API_KEY", prices=OPENAI_PRICES, loggers=("openai", "httpx", "httpcore"))
def make_openai(model: str | None = None, **options: Any) -> OpenAIProvider:
    return OpenAIProvider(model, **options)


@register_provider(
    "openai-compatible", needs_base_url=True, needs_model=True, prices=OPENAI_PRICES, loggers=("openai", "httpx", "httpcore")
)
def make_compatible(model: str | None = None, **options: Any) -> OpenAIProvider:
    return OpenAIProvider(model, compatible=True, **options)
