"""Training examples: chat JSONL -> token ids with the loss on the assistant reply only."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.harness.data import parse_jsonl
from tunegate.harness.errors import DataError
from tunegate.harness.models.chat import render_training_example

IGNORE = -100


@dataclass(frozen=True)
class Example:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    @property
    def n_target(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def read_chats(path: str | Path) -> list[list[dict[str, str]]]:
    """Validated chats; every problem as ``path:line: message``, before any training starts."""
    rows, problems = parse_jsonl(Path(path).read_bytes(), str(path))
    chats: list[list[dict[str, str]]] = []
    for lineno, obj in rows:
        msgs = obj.get("messages") if isinstance(obj, dict) else None
        if not isinstance(msgs, list) or not msgs:
            problems.append(f"{path}:{lineno}: {_not_a_chat(obj)}")
            continue
        if not all(
            isinstance(m, dict)
            and isinstance(m.get("content"), str)
            and m.get("role") in ("system", "user", "assistant")
            for m in msgs
        ):
            problems.append(
                f"{path}:{lineno}: every message needs a role (system/user/assistant) and string content"
            )
            continue
        if msgs[-1]["role"] != "assistant":
            problems.append(
                f"{path}:{lineno}: no assistant turn at the end; a training line must end with the answer to learn"
            )
            continue
        if not any(m["role"] == "user" for m in msgs[:-1]):
            problems.append(
                f"{path}:{lineno}: no user turn before the answer; the reply would be learned as an answer "
                "to nothing: add the user turn it answers, or drop the line"
            )
            continue
        if not msgs[-1]["content"].strip():
            problems.append(
                f"{path}:{lineno}: the answer (the last assistant turn) is empty; write the reply to learn "
                "or drop the line (`tunegate data check` lists every such line)"
            )
            continue
        chats.append([{"role": m["role"], "content": m["content"]} for m in msgs])
    if problems:
        raise DataError(str(path), problems)
    return chats


def _not_a_chat(obj: object) -> str:
    """Why a parsed line is not a chat line, and how to write it as one."""
    shape = '{"messages": [{"role": "user", "content": ...}, {"role": "assistant", "content": ...}]}'
    if not isinstance(obj, dict):
        return f"the line is a JSON {type(obj).__name__}, not an object; a training line is {shape}"
    if "messages" in obj:
        return f'"messages" is empty or not a list; a training line is {shape}'
    keys = sorted(obj)
    other = next((k for k in ("prompt", "instruction", "question", "conversations", "text") if k in obj), None)
    if other is not None:
        return (
            f"a line with keys {keys} (the {other!r} format) and no \"messages\"; tunegate train reads chat lines "
            f"only: write each example as {shape}"
        )
    return f'no "messages" (keys: {keys}); a training line is {shape}'


def tokenize(
    tokenizer: Any, chats: Sequence[list[dict[str, str]]], max_length: int
) -> tuple[list[Example], int]:
    """Examples with labels on the assistant reply + end-of-turn token; (examples, n_skipped_too_long)."""
    out: list[Example] = []
    skipped = 0
    for chat in chats:
        prompt, target = render_training_example(tokenizer, chat)
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        t_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
        if len(p_ids) + len(t_ids) > max_length:
            skipped += 1
            continue
        out.append(Example(tuple(p_ids + t_ids), tuple([IGNORE] * len(p_ids) + t_ids)))
    return out, skipped


def batches(examples: Sequence[Example], micro: int, rng: random.Random) -> Iterator[list[Example]]:
    """Micro-batches of similar length: shuffle, sort within windows of 50 batches, shuffle batches."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    window = micro * 50
    groups: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(examples[i].input_ids))
        groups += [chunk[k : k + micro] for k in range(0, len(chunk), micro)]
    rng.shuffle(groups)
    for g in groups:
        yield [examples[i] for i in g]


# Batches are padded to a multiple of this many tokens, so a run sees a handful of distinct
# shapes (kernel caches, allocator reuse). On the 2-core CPU it measured neutral in speed.
PAD_MULTIPLE = 32


def collate(batch: Sequence[Example], pad_id: int) -> dict[str, Any]:
    import torch

    longest = max(len(e.input_ids) for e in batch)
    width = -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
