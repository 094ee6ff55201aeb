"""Prompts that do not fit the model's context are refused before any generation, by one rule.

A prompt of ``P`` tokens with ``max_new_tokens = K`` needs ``P + K`` positions; a model has
``C`` (``config.max_position_embeddings``, else the tokenizer's ``model_max_length``). Past ``C``
a model either fails or quietly degrades (positions it was never trained on) while the run spends
minutes on it, so the rule is: **refuse**, naming every item that does not fit (its id, its
tokens, the context), before a single token is generated. Nothing is truncated silently; to keep
such items, shorten their prompts or lower ``max_new_tokens``.

A prompt far longer than the context (a 50 MB prompt) is refused from its length in characters
alone (``MAX_CHARS_PER_TOKEN`` characters per token is more than any tokenizer packs), without
tokenizing it: tokenizing tens of megabytes costs gigabytes of memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunegate.harness.errors import ConfigError

__all__ = ["ContextTooLong", "check_context", "context_length"]

MAX_CHARS_PER_TOKEN = 64
"""More characters than any tokenizer packs into one token on average (English prose: ~4)."""
SHOWN = 8
NO_LIMIT = 1_000_000  # tokenizers report a huge sentinel (1e30) when they know no limit


class ContextTooLong(ConfigError):
    """Some prompts plus ``max_new_tokens`` exceed the model's context (the run stops, exit 4)."""


def context_length(model: Any, tokenizer: Any) -> int | None:
    """The model's context in tokens, or None when neither the model nor the tokenizer says."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and 0 < value < NO_LIMIT:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < NO_LIMIT:
        return value
    return None


def check_context(
    tokenizer: Any,
    context: int | None,
    prompts: Sequence[tuple[str, str]],
    *,
    max_new_tokens: int,
    model: str,
) -> None:
    """Raise ``ContextTooLong`` naming each ``(item id, rendered prompt)`` that does not fit."""
    if context is None:
        return
    room = context - max_new_tokens
    too_long: list[str] = []
    for item_id, text in prompts:
        if len(text) > MAX_CHARS_PER_TOKEN * context:
            too_long.append(f"{item_id!r}: {len(text):,} characters (far more than {context:,} tokens)")
            continue
        if len(text.encode("utf-8")) + 2 <= room:  # every token is at least one byte: it fits
            continue
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if n > room:
            too_long.append(f"{item_id!r}: {n:,} tokens")
    if not too_long:
        return
    shown = too_long[:SHOWN] + ([f"... and {len(too_long) - SHOWN} more"] if len(too_long) > SHOWN else [])
    raise ContextTooLong(
        f"{len(too_long)} prompt(s) do not fit {model}'s context of {context:,} tokens with "
        f"max_new_tokens={max_new_tokens} (a prompt may use {max(room, 0):,} tokens): "
        + "; ".join(shown)
        + ". tunegate refuses them rather than truncate silently: shorten these prompts, lower "
        "max_new_tokens, or remove the items from the suite"
    )
