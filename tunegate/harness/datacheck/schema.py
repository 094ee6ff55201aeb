"""Read train, dev and eval JSONL files with the suite loader's rules; every problem as path:line.

Eval files are suites: ``tunegate.harness.data`` rules exactly (an id, known keys, the last message from
the user). Train and dev files are what the trainer reads (``tunegate.trainers.data.read_chats``): the
same rules for everything before the answer, plus a final assistant turn; the id is optional
(the trainer does not need one) and keys the trainer ignores are a warning, not an error.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.harness.data import ITEM_KEYS, EvalItem, Message, Suite, _item_from_obj, _line_of, parse_jsonl
from tunegate.harness.datacheck.findings import Finding, error, warning

KINDS = ("train", "dev", "eval")


@dataclass(frozen=True)
class Record:
    """One valid example: where it is, its chat, and (train/dev) the answer to learn."""

    path: str
    line: int
    id: str | None
    messages: tuple[Message, ...]
    answer: str = ""
    reference: Any = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def prompt(self) -> str:
        """The user turns, joined: what duplicate and overlap checks compare (as the leakage check)."""
        return "\n".join(m.content for m in self.messages if m.role == "user")

    @property
    def prompt_messages(self) -> tuple[Message, ...]:
        """The chat without the final answer (for train/dev), as the model sees it."""
        return self.messages[:-1] if self.answer and self.messages[-1].role == "assistant" else self.messages

    def to_eval_item(self) -> EvalItem:
        """This example as an eval item whose id is its line number (the leakage check's input)."""
        return EvalItem(
            id=str(self.line),
            messages=self.prompt_messages,
            reference=self.answer or self.reference,
            tags=self.tags,
            line=self.line,
        )


@dataclass(frozen=True)
class DataFile:
    path: str
    kind: str
    lines: int
    records: tuple[Record, ...]
    sha256: str

    def to_suite(self) -> Suite:
        return Suite(name=self.path, items=tuple(r.to_eval_item() for r in self.records), path=self.path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "lines": self.lines,
            "valid": len(self.records),
            "sha256": self.sha256,
        }


def _answer_matches(reference: Any, answer: str) -> bool:
    if isinstance(reference, str):
        return reference.strip() == answer.strip()
    try:
        return bool(json.loads(answer) == reference)
    except ValueError:
        return False


def _check_chat_line(
    obj: dict[str, Any], where: str, lineno: int, kind: str, findings: list[Finding]
) -> tuple[dict[str, Any], str] | None:
    """Train/dev: check the final answer; (the object as the suite loader should see it, answer)."""
    loc = f"{where}:{lineno}"
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        findings.append(
            error(
                "schema",
                "schema",
                f'{loc}: missing or empty "messages" (a list of {{"role", "content"}} objects)',
                loc,
            )
        )
        return None
    last = msgs[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant":
        role = last.get("role") if isinstance(last, dict) else type(last).__name__
        findings.append(
            error(
                "schema",
                "schema",
                f"{loc}: no assistant turn at the end (last is {role!r}); a {kind} line must end with the answer to learn",
                loc,
            )
        )
        return None
    if not isinstance(last.get("content"), str):
        findings.append(
            error(
                "schema",
                "schema",
                f"{loc}: messages[{len(msgs) - 1}].content (the answer) must be a string",
                loc,
            )
        )
        return None
    if not last["content"].strip():
        findings.append(
            error(
                "schema",
                "empty_answer",
                f"{loc}: the answer (messages[{len(msgs) - 1}].content) is empty; write the reply the model "
                "should learn, or drop the line",
                loc,
            )
        )
        return None
    if len(msgs) < 2:
        findings.append(error("schema", "schema", f"{loc}: no user turn before the answer", loc))
        return None
    before = msgs[-2]
    if isinstance(before, dict) and before.get("role") in ("system", "assistant"):
        findings.append(
            error(
                "schema",
                "schema",
                f"{loc}: messages[{len(msgs) - 2}], right before the answer, has role {before['role']!r}; "
                "the answer must follow a user turn (the question it answers)",
                loc,
            )
        )
        return None
    unknown = sorted(set(obj) - ITEM_KEYS)
    if unknown:
        findings.append(
            warning(
                "schema",
                "unknown_keys",
                f"{loc}: key(s) {unknown} are ignored by the trainer",
                loc,
                keys=unknown,
            )
        )
    view = {k: v for k, v in obj.items() if k in ITEM_KEYS}
    view["messages"] = msgs[:-1]
    view.setdefault("id", f"line-{lineno}")
    return view, str(last["content"])


def _messages_of(item: EvalItem, answer: str, kind: str) -> tuple[Message, ...]:
    """The whole chat of a line: the prompt turns, then (train/dev) the answer."""
    return item.messages + ((Message("assistant", answer),) if kind != "eval" else ())


def _check_turns(messages: tuple[Message, ...], loc: str, findings: list[Finding]) -> bool:
    """Turn order and empty turns: a system prompt after the first turn, two turns in a row from
    the same role (many chat templates refuse both: "roles must alternate") and an empty user
    turn are errors; a chat that opens with the assistant, or an empty system prompt, a warning.
    False when an error was found (the line is not a valid example)."""
    start = len(findings)
    for k, m in enumerate(messages):
        if m.role == "system" and k > 0:
            findings.append(
                error(
                    "schema",
                    "role_order",
                    f"{loc}: messages[{k}] is a system turn after the chat started; put the system "
                    "prompt first (messages[0]) or make it a user turn",
                    loc,
                )
            )
        elif k > 0 and m.role == messages[k - 1].role:
            findings.append(
                error(
                    "schema",
                    "role_order",
                    f"{loc}: messages[{k - 1}] and messages[{k}] are both {m.role!r} turns; user and assistant "
                    "turns must alternate (merge the two into one turn)",
                    loc,
                )
            )
        if not m.content.strip():
            severity = warning if m.role == "system" else error
            findings.append(
                severity(
                    "schema",
                    "empty_turn",
                    f"{loc}: messages[{k}].content (a {m.role} turn) is empty; write its text or drop the turn",
                    loc,
                )
            )
    first = next((m for m in messages if m.role != "system"), None)
    if first is not None and first.role == "assistant":
        findings.append(
            warning(
                "schema",
                "role_order",
                f"{loc}: the chat opens with an assistant turn; the model usually sees a user turn first",
                loc,
            )
        )
    return all(f.severity != "error" for f in findings[start:])


def read_file(path: str | Path, kind: str) -> tuple[DataFile, list[Finding]]:
    """Every valid record of ``path`` and one schema finding per problem (``path:line: ...``)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    where = str(path)
    data = Path(path).read_bytes()
    rows, problems = parse_jsonl(data, where)
    findings = [error("schema", "schema", p, p.split(": ", 1)[0]) for p in problems]
    records: list[Record] = []
    seen: dict[str, int] = {}
    for lineno, obj in rows:
        answer = ""
        view: Any = obj
        if kind != "eval" and isinstance(obj, dict):
            checked = _check_chat_line(obj, where, lineno, kind, findings)
            if checked is None:
                continue
            view, answer = checked
        line_problems: list[str] = []
        item = _item_from_obj(view, lineno, where, line_problems)
        findings += [error("schema", "schema", p, f"{where}:{lineno}") for p in line_problems]
        if item is None:
            continue
        if not _check_turns(_messages_of(item, answer, kind), f"{where}:{lineno}", findings):
            continue
        has_id = kind == "eval" or "id" in obj
        if has_id:
            if item.id in seen:
                loc = f"{where}:{lineno}"
                findings.append(
                    error(
                        "schema",
                        "schema",
                        f'{loc}: duplicate id "{item.id}" (first on line {seen[item.id]})',
                        loc,
                        f"{where}:{seen[item.id]}",
                    )
                )
                continue
            seen[item.id] = lineno
        messages = _messages_of(item, answer, kind)
        if answer and item.reference is not None and not _answer_matches(item.reference, answer):
            loc = f"{where}:{lineno}"
            findings.append(
                warning(
                    "schema",
                    "reference_mismatch",
                    f'{loc}: "reference" differs from the assistant answer; the trainer learns the answer',
                    loc,
                )
            )
        records.append(
            Record(
                path=where,
                line=lineno,
                id=item.id if has_id else None,
                messages=messages,
                answer=answer,
                reference=item.reference,
                tags=dict(item.tags),
            )
        )
    findings.sort(key=lambda f: _line_of(f.message))
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return DataFile(where, kind, lines, tuple(records), hashlib.sha256(data).hexdigest()), findings
