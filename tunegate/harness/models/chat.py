"""One chat-template rendering shared by every local backend and the trainer.

Training and evaluation must see the same prompt text: the trainer masks everything up to
``render_prompt(...)`` and puts the loss on the assistant reply plus the end-of-turn token; the
backends generate from exactly ``render_prompt(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tunegate.harness.data import Message
from tunegate.harness.errors import DataError, ModelLoadError


class TemplateRefusal(ValueError):
    """The chat template raised on a chat (most often: roles that do not alternate)."""


def _as_dicts(messages: Sequence[Message] | Sequence[dict[str, str]]) -> list[dict[str, str]]:
    return [
        m.to_dict() if isinstance(m, Message) else {"role": m["role"], "content": m["content"]}
        for m in messages
    ]


def render_prompt(tokenizer: Any, messages: Sequence[Message] | Sequence[dict[str, str]]) -> str:
    """The text the model completes: the chat so far plus the assistant-turn header."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(
            "the model's tokenizer has no chat template; add one (tokenizer_config.json 'chat_template' or "
            "chat_template.jinja) so prompts are rendered the way the model was trained"
        )
    from jinja2.exceptions import TemplateError

    chat = _as_dicts(messages)
    try:
        text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    except (TemplateError, ValueError, TypeError, KeyError, IndexError) as exc:
        roles = ", ".join(m["role"] for m in chat)
        why = str(exc).rstrip(". ")
        raise TemplateRefusal(
            f"the model's chat template refuses turns ({roles}): {why}. Most templates want an optional "
            "system turn first, then user and assistant turns alternating, ending with a user turn"
        ) from None
    return str(text)


def render_all(
    render: Callable[[Sequence[Message]], str], chats: Sequence[tuple[str, Sequence[Message]]], model: str
) -> list[str]:
    """``render(messages)`` of every ``(item id, messages)``; the chats a template refuses are
    one ``DataError`` naming each such item, before anything is generated."""
    out: list[str] = []
    problems: list[str] = []
    for item_id, messages in chats:
        try:
            out.append(render(messages))
        except TemplateRefusal as exc:
            problems.append(f"item {item_id!r}: {exc}")
    if problems:
        raise DataError(f"{model} (chat template)", problems)
    return out


def render_training_example(
    tokenizer: Any, messages: Sequence[Message] | Sequence[dict[str, str]]
) -> tuple[str, str]:
    """(prompt, target) for a chat whose last turn is the assistant's.

    ``prompt`` is exactly what ``render_prompt`` gives for the chat without its last turn;
    ``target`` is the assistant text followed by the template's end-of-turn token (EOS), which
    is what the loss is computed on.
    """
    chat = _as_dicts(messages)
    if not chat or chat[-1]["role"] != "assistant":
        raise ValueError("a training example must end with an assistant turn")
    prompt = render_prompt(tokenizer, chat[:-1])
    full = str(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=False))
    if not full.startswith(prompt):
        raise ModelLoadError(
            "the chat template renders the prompt differently inside a full chat; cannot mask it"
        )
    target = full[len(prompt) :]
    eos = tokenizer.eos_token or ""
    # Keep the end-of-turn token, drop trailing whitespace after it (the next turn's separator).
    if eos and eos in target:
        target = target[: target.rindex(eos) + len(eos)]
    return prompt, target
