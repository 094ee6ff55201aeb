"""Eval items and suites: JSONL loading with full validation, and seeded sampling.

A suite file holds one JSON object per line::

    {"id": "s-001", "messages": [{"role": "user", "content": "..."}],
     "reference": "...", "tags": {"category": "refund"}, "group": "thread-17"}

Every problem in a file is reported as ``path:line: message`` (all of them, not just the first).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tunegate.harness.errors import DataError

ROLES = ("system", "user", "assistant")
BOM = b"\xef\xbb\xbf"
ITEM_KEYS = {"id", "messages", "reference", "tags", "group", "meta"}

Reference = str | dict[str, Any] | list[Any] | None


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class EvalItem:
    """One eval example: a chat prompt (ending with a user turn) and its gold reference."""

    id: str
    messages: tuple[Message, ...]
    reference: Reference = None
    tags: Mapping[str, str] = field(default_factory=dict)
    group: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def prompt(self) -> str:
        """The last user turn: what a human would call 'the input'."""
        return self.messages[-1].content

    def chat(self) -> list[dict[str, str]]:
        return [m.to_dict() for m in self.messages]

    def reference_text(self) -> str:
        """The reference as text (JSON objects are serialised compactly with sorted keys)."""
        if self.reference is None:
            return ""
        if isinstance(self.reference, str):
            return self.reference
        return json.dumps(self.reference, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Suite:
    """A named, versioned list of items. ``version`` is the sha256 of the source file's bytes."""

    name: str
    items: tuple[EvalItem, ...]
    path: str = ""
    version: str = ""
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[EvalItem]:
        return iter(self.items)

    @property
    def ids(self) -> list[str]:
        return [it.id for it in self.items]

    def sample(self, n: int | None, seed: int = 0) -> Suite:
        """A seeded random subset of ``n`` items (never the first n), kept in file order."""
        if n is None or n >= len(self.items):
            return self
        if n < 1:
            raise ValueError(f"sample size must be >= 1, got {n}")
        rng = random.Random(f"{seed}:{self.name}")
        keep = sorted(rng.sample(range(len(self.items)), n))
        return replace(self, items=tuple(self.items[i] for i in keep))

    def with_options(self, **changes: Any) -> Suite:
        return replace(self, **changes)


def _item_from_obj(obj: Any, lineno: int, where: str, problems: list[str]) -> EvalItem | None:
    def bad(msg: str) -> None:
        problems.append(f"{where}:{lineno}: {msg}")

    if not isinstance(obj, dict):
        bad(f"expected a JSON object, got {type(obj).__name__}")
        return None
    unknown = sorted(set(obj) - ITEM_KEYS)
    if unknown:
        bad(f"unknown key(s) {unknown}; allowed: {sorted(ITEM_KEYS)}")
    ok = True
    item_id = obj.get("id")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if item_id is None or (isinstance(item_id, str) and not item_id.strip()):
        bad('missing or empty "id" (a non-empty string, unique in the file)')
        ok = False
    elif not isinstance(item_id, str):
        shown = f"{type(item_id).__name__} {item_id!r}"
        bad(f'"id" must be a string (or a whole number), got {shown}; write it as "id": "q-17"')
        ok = False
    msgs_raw = obj.get("messages")
    messages: list[Message] = []
    if not isinstance(msgs_raw, list) or not msgs_raw:
        bad('missing or empty "messages" (a list of {"role", "content"} objects)')
        ok = False
    else:
        for k, m in enumerate(msgs_raw):
            if not isinstance(m, dict):
                bad(f"messages[{k}] is not an object")
                ok = False
                continue
            role, content = m.get("role"), m.get("content")
            if role not in ROLES:
                bad(f"messages[{k}] has unknown role {role!r}; use one of {list(ROLES)}")
                ok = False
            if not isinstance(content, str):
                bad(f"messages[{k}].content must be a string, got {type(content).__name__}")
                ok = False
            elif ok:
                messages.append(Message(str(role), content))
        if ok and messages and messages[-1].role != "user":
            bad(f'the last message must be from the user (the model answers it), got "{messages[-1].role}"')
            ok = False
        elif ok and messages and not messages[-1].content.strip():
            last = f"messages[{len(messages) - 1}].content"
            bad(f"{last}, the prompt the model answers, is empty; write the question or drop the item")
            ok = False
    tags_raw = obj.get("tags", {})
    tags: dict[str, str] = {}
    if isinstance(tags_raw, dict):
        for k, v in tags_raw.items():
            if not isinstance(v, (str, int, float, bool)):
                bad(f'tag "{k}" must be a string, got {type(v).__name__}')
                ok = False
            else:
                tags[str(k)] = str(v)
    elif isinstance(tags_raw, list):
        for t in tags_raw:
            if not isinstance(t, str) or "=" not in t:
                bad(f'tags as a list must hold "key=value" strings, got {t!r}')
                ok = False
            else:
                key, value = t.split("=", 1)
                tags[key] = value
    else:
        bad('"tags" must be an object {"key": "value"} or a list of "key=value" strings')
        ok = False
    group = obj.get("group")
    if group is not None and not isinstance(group, (str, int)):
        bad('"group" must be a string')
        ok = False
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        bad('"meta" must be an object')
        ok = False
    if not ok:
        return None
    return EvalItem(
        id=str(item_id),
        messages=tuple(messages),
        reference=obj.get("reference"),
        tags=tags,
        group=None if group is None else str(group),
        meta=meta,
        line=lineno,
    )


class _NonFinite(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NonFinite(f"{name} is not a JSON number; use null or a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(f"the number {text[:20]} is out of range; use a finite number")
    return value


def _lone_surrogate(obj: Any) -> str | None:
    """The first string (key or value) holding an unpaired UTF-16 surrogate, found iteratively."""
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, str):
            try:
                cur.encode("utf-8")
            except UnicodeEncodeError:
                return cur
        elif isinstance(cur, dict):
            stack.extend(cur.keys())
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return None


MAX_DEPTH = 64
"""Deepest nesting of lists and objects accepted in a suite line (deeper data is refused at load:
code that walks it recursively, a JSON encoder included, would hit Python's recursion limit)."""


def nesting_depth(obj: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply ``obj`` nests lists and objects (iteratively; stops counting past ``limit``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 0)]
    while stack:
        cur, depth = stack.pop()
        if isinstance(cur, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((v, depth) for v in (cur.values() if isinstance(cur, dict) else cur))
    return deepest


def _wide_encoding(data: bytes) -> str:
    """'UTF-16'/'UTF-32' when ``data`` is clearly one of them (a byte order mark, or NUL bytes in
    every other position of its first bytes, as ASCII text in UTF-16 has), else ''."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = data[:200]
    if len(head) >= 8 and (head[1::2].count(0) > 0.9 * len(head[1::2]) or head[0::2].count(0) > 0.9 * len(head[0::2])):
        return "UTF-16"
    return ""


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses NaN/Infinity and overflowing numbers (raises ValueError)."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)


def parse_jsonl(data: bytes, where: str) -> tuple[list[tuple[int, Any]], list[str]]:
    """Split JSONL bytes into (line number, parsed object) pairs, collecting every problem.

    A UTF-8 byte order mark at the start is accepted. NaN/Infinity literals, numbers out of
    float range and strings with unpaired surrogates (``"\\ud800"``) are refused here, with
    their line, rather than failing later.
    """
    problems: list[str] = []
    rows: list[tuple[int, Any]] = []
    if data.startswith(BOM):
        data = data[len(BOM) :]
    if not data.strip():
        return rows, [f"{where}:1: the file is empty; write one JSON object per line"]
    encoding = _wide_encoding(data)
    if encoding:
        return rows, [
            f"{where}:1: the file is {encoding}, not UTF-8; re-save it as UTF-8 "
            f"(e.g. iconv -f {encoding} -t UTF-8 FILE > FILE.utf8, or your editor's 'Save with encoding')"
        ]
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                f"{where}:{lineno}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                f"{exc.start + 1}); re-save the file as UTF-8"
            )
            continue
        try:
            obj = loads_strict(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except _NonFinite as exc:
            problems.append(f"{where}:{lineno}: invalid JSON: {exc}")
            continue
        except (ValueError, RecursionError) as exc:  # e.g. a 5000-digit integer, 10k nested lists
            problems.append(f"{where}:{lineno}: invalid JSON: {str(exc)[:120] or type(exc).__name__}")
            continue
        depth = nesting_depth(obj)
        if depth > MAX_DEPTH:
            problems.append(
                f"{where}:{lineno}: nested more than {MAX_DEPTH} levels deep (lists/objects inside each other); "
                "flatten it (a reference can be a string, or a shallow object)"
            )
            continue
        bad = _lone_surrogate(obj)
        if bad is not None:
            problems.append(
                f"{where}:{lineno}: a string holds an unpaired surrogate escape (near "
                f"{bad.encode('utf-8', 'backslashreplace').decode('ascii')[:40]!r}); "
                "escape the whole character or write it as UTF-8"
            )
            continue
        rows.append((lineno, obj))
    return rows, problems


def parse_items(data: bytes, where: str) -> list[EvalItem]:
    rows, problems = parse_jsonl(data, where)
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for lineno, obj in rows:
        item = _item_from_obj(obj, lineno, where, problems)
        if item is None:
            continue
        if item.id in seen:
            problems.append(f'{where}:{lineno}: duplicate id "{item.id}" (first on line {seen[item.id]})')
            continue
        seen[item.id] = lineno
        items.append(item)
    if problems:
        raise DataError(where, sorted(problems, key=_line_of))
    return items


def _line_of(problem: str) -> int:
    head = problem.split(": ", 1)[0]
    tail = head.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def load_suite(
    path: str | Path,
    *,
    name: str | None = None,
    max_new_tokens: int = 256,
    stop: Sequence[str] = (),
    base_dir: str | Path | None = None,
) -> Suite:
    """Load and validate a JSONL suite. Relative paths are tried as given, then under ``base_dir``."""
    p = Path(path)
    try:
        if "\x00" in str(p):
            raise ValueError("embedded null byte")
        if not p.is_absolute() and not p.exists() and base_dir is not None:
            p = Path(base_dir) / p
        exists, is_dir, is_file = p.exists(), p.is_dir(), p.is_file()
        folder = p.resolve().parent
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a name too long, a symlink loop
        raise DataError(str(path), [f"{path!r}:0: not a usable file name ({exc})"]) from None
    if not exists:
        raise DataError(str(path), [f"{path}:0: file not found (looked in {folder})"])
    if is_dir:
        raise DataError(str(path), [f"{path}:0: is a directory; pass a suite .jsonl file inside it"])
    if not is_file:  # a named pipe, socket or device: reading it could block forever
        raise DataError(str(path), [f"{path}:0: is not a regular file (a pipe, socket or device); pass a suite .jsonl file"])
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DataError(
            str(path), [f"{path}:0: cannot read the suite file ({exc.strerror or exc}); check its permissions"]
        ) from None
    items = parse_items(data, str(path))
    return Suite(
        name=name or _suite_name(p),
        items=tuple(items),
        path=str(p),
        version=hashlib.sha256(data).hexdigest(),
        max_new_tokens=max_new_tokens,
        stop=tuple(stop),
    )


def _suite_name(p: Path) -> str:
    stem = p.stem
    parent = p.parent.name
    return f"{parent}/{stem}" if parent and parent not in ("data", ".") else stem
