"""Training data as the leakage check sees it: (prompt, answer) pairs streamed from JSONL files.

Accepted line shapes (one JSON object per line):

- chat: ``{"messages": [{"role": "system|user|assistant", "content": "..."}]}`` (also
  ShareGPT's ``{"conversations": [{"from": "human|gpt", "value": "..."}]}``): the user turns are
  the prompt, the assistant turns the answer; system turns are ignored (shared boilerplate).
- ``{"prompt": ..., "completion"|"response"|"answer"|"output"|"chosen": ...}`` (a prompt or
  completion may itself be a list of chat messages, as in TRL's conversational format);
- ``{"instruction": ..., "input": ..., "output": ...}`` (Alpaca); ``{"question", "answer"}``;
- ``{"text": ...}``: the whole text is the prompt, the answer is empty.

An answer that is a JSON object or array (or a string holding one) is re-serialised with sorted
keys, as ``EvalItem.reference_text()`` does, so that key order never hides a duplicate.
Unreadable lines are reported as ``path:line: what is wrong``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tunegate.harness.errors import ConfigError, DataError
from tunegate.harness.fingerprint import project_root, sha256_file
from tunegate.harness.manifest import MANIFEST, manifest_path, read_manifest

_ANSWER_KEYS = ("completion", "response", "answer", "output", "chosen", "target")
_USER_ROLES = {"user", "human"}
_ASSISTANT_ROLES = {"assistant", "gpt", "model", "bot"}
_IGNORED_ROLES = {"system", "tool", "function", "developer"}


@dataclass(frozen=True)
class TrainingDoc:
    """One training example: where it is, its prompt (user turns) and its answer (canonical:
    JSON answers with sorted keys, for matching). ``context`` and ``written_answer``, for chat
    lines: every turn before the last assistant turn (system turns and earlier exchanges included)
    as (role, content), and that last assistant turn exactly as the file writes it; the
    memorisation probe asks as training asked and compares with what training taught."""

    path: str
    line: int
    prompt: str
    answer: str
    context: tuple[tuple[str, str], ...] = ()
    written_answer: str = ""

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def text(self) -> str:
        return f"{self.prompt}\n{self.answer}" if self.answer else self.prompt


class LineError(ValueError):
    """A training line that cannot be read; the message says what is wrong (no location)."""


def _content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: keep the text parts
        parts = [
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text"
        ]
        if all(isinstance(p, str) for p in parts):
            return "\n".join(parts)
    raise LineError(f"{where} must be a string (or a list of text parts), got {type(content).__name__}")


def _turns(messages: Any, key: str) -> tuple[list[str], list[str]]:
    if not isinstance(messages, list) or not messages:
        raise LineError(f'"{key}" must be a non-empty list of {{"role", "content"}} objects')
    users: list[str] = []
    assistants: list[str] = []
    for k, m in enumerate(messages):
        if not isinstance(m, dict):
            raise LineError(f"{key}[{k}] is not an object")
        role = m.get("role", m.get("from"))
        content = m["content"] if "content" in m else m.get("value")
        text = _content_text(content, f"{key}[{k}].content")
        if role in _USER_ROLES:
            users.append(text)
        elif role in _ASSISTANT_ROLES:
            assistants.append(text)
        elif role not in _IGNORED_ROLES:
            raise LineError(f"{key}[{k}] has unknown role {role!r}; use system, user or assistant")
    return users, assistants


def _canonical_answer(answer: Any) -> str:
    if isinstance(answer, (dict, list)):
        return json.dumps(answer, ensure_ascii=False, sort_keys=True)
    text = str(answer)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(stripped), ensure_ascii=False, sort_keys=True)
        except ValueError:
            return text
    return text


def _side(value: Any, key: str, role: str) -> str:
    """A prompt or completion given either as text or as a list of chat messages."""
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        users, assistants = _turns(value, key)
        return "\n".join(users if role == "user" else assistants)
    if isinstance(value, str):
        return value
    if role == "assistant" and isinstance(value, dict):
        return _canonical_answer(value)
    raise LineError(f'"{key}" must be a string or a list of chat messages, got {type(value).__name__}')


def prompt_and_answer(obj: Any) -> tuple[str, str]:
    """The (prompt, answer) of one parsed training line; raises LineError naming what is wrong."""
    if not isinstance(obj, dict):
        raise LineError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("messages", "conversations"):
        if key in obj:
            users, assistants = _turns(obj[key], key)
            if not users:
                raise LineError(f'"{key}" has no user turn; nothing to compare with eval prompts')
            return "\n".join(users), _canonical_answer("\n".join(assistants)) if assistants else ""
    if "prompt" in obj:
        answer_key = next((k for k in _ANSWER_KEYS if k in obj), None)
        answer = _side(obj[answer_key], answer_key, "assistant") if answer_key else ""
        return _side(obj["prompt"], "prompt", "user"), _canonical_answer(answer)
    if "instruction" in obj:
        extra = obj.get("input") or ""
        prompt = f"{obj['instruction']}\n{extra}" if extra else str(obj["instruction"])
        return prompt, _canonical_answer(obj.get("output", obj.get("response", "")))
    if "question" in obj:
        return _content_text(obj["question"], '"question"'), _canonical_answer(obj.get("answer", ""))
    if "text" in obj:
        return _content_text(obj["text"], '"text"'), ""
    if "input" in obj and ("output" in obj or "target" in obj):
        return _content_text(obj["input"], '"input"'), _canonical_answer(obj.get("output", obj.get("target")))
    keys = sorted(obj)[:8]
    raise LineError(
        f"no recognised fields (found {keys}); use one of: "
        '"messages" (chat), "prompt" + "completion", "instruction" + "output", "question" + "answer", "text"'
    )


def parse_line(raw: bytes) -> tuple[str, str] | None:
    """(prompt, answer) of one raw line, None for a blank line; raises LineError."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); re-save the file as UTF-8"
        ) from None
    try:
        obj = json.loads(text[1:] if text.startswith("\ufeff") else text)
    except json.JSONDecodeError as exc:
        raise LineError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    return prompt_and_answer(obj)


def as_written(raw: bytes) -> tuple[tuple[tuple[str, str], ...], str]:
    """(the turns before the last assistant turn as (role, content), that turn as written) of a
    chat training line; ((), '') for other formats or a line that does not parse (``parse_line``
    reports it). Roles come out as system, user or assistant."""
    try:
        obj = json.loads(raw.decode("utf-8").lstrip("\ufeff"))
    except (UnicodeDecodeError, ValueError):
        return (), ""
    messages = next((obj[k] for k in ("messages", "conversations") if isinstance(obj, dict) and k in obj), None)
    if not isinstance(messages, list):
        return (), ""
    turns: list[tuple[str, str]] = []
    for m in messages:
        if not isinstance(m, dict):
            return (), ""
        role = m.get("role", m.get("from"))
        content = m["content"] if "content" in m else m.get("value")
        if isinstance(content, list):
            content = "\n".join(
                str(c.get("text", "")) for c in content if isinstance(c, dict) and c.get("type", "text") == "text"
            )
        if not isinstance(content, str):
            continue
        if role == "system":
            turns.append(("system", content))
        elif role in _USER_ROLES:
            turns.append(("user", content))
        elif role in _ASSISTANT_ROLES:
            turns.append(("assistant", content))
    last = max((i for i, (role, _) in enumerate(turns) if role == "assistant"), default=None)
    if last is None:
        return tuple(turns), ""
    return tuple(turns[:last]), turns[last][1]


@dataclass
class FileStats:
    """What was read from one training file (filled in while streaming)."""

    path: str
    lines: int = 0
    docs: int = 0
    bad_lines: int = 0
    sha256: str = ""


MAX_PROBLEMS_KEPT = 1000
"""Unreadable lines listed one by one (all are counted): a file of garbage stays cheap to report."""


def open_training_file(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise DataError(str(path), [f"{path}:0: cannot open the training file: {exc.strerror}"]) from None


def iter_batches(
    path: Path, batch_lines: int, problems: list[str], stats: FileStats
) -> Iterator[list[tuple[int, str, str]]]:
    """Stream (line, prompt, answer) batches; bad lines go to ``problems`` as ``path:line: msg``."""
    digest = hashlib.sha256()
    batch: list[tuple[int, str, str]] = []
    where = str(path)
    with open_training_file(path) as fh:
        lineno = 0
        for lineno, raw in enumerate(fh, start=1):  # noqa: B007 - lineno is read after the loop
            digest.update(raw)
            try:
                parsed = parse_line(raw)
            except LineError as exc:
                stats.bad_lines += 1
                if len(problems) < MAX_PROBLEMS_KEPT:
                    problems.append(f"{where}:{lineno}: {exc}")
                continue
            if parsed is None:
                continue
            batch.append((lineno, parsed[0], parsed[1]))
            if len(batch) >= batch_lines:
                stats.docs += len(batch)
                yield batch
                batch = []
        stats.lines = lineno
    if batch:
        stats.docs += len(batch)
        yield batch
    stats.sha256 = digest.hexdigest()


def read_training_examples(locations: Iterable[str]) -> list[TrainingDoc]:
    """The training examples at ``path:line`` locations (as a leakage report names them)."""
    wanted: dict[str, set[int]] = {}
    order: list[tuple[str, int]] = []
    for loc in locations:
        path, _, line = loc.rpartition(":")
        if not path or not line.isdigit():
            raise ConfigError(f"training location {loc!r} is not 'path:line'")
        wanted.setdefault(path, set()).add(int(line))
        order.append((path, int(line)))
    found: dict[tuple[str, int], TrainingDoc] = {}
    for path, lines in wanted.items():
        problems: list[str] = []
        bad: set[int] = set()
        with open_training_file(Path(path)) as fh:
            for lineno, raw in enumerate(fh, start=1):
                if lineno not in lines:
                    continue
                try:
                    parsed = parse_line(raw)
                except LineError as exc:
                    problems.append(f"{path}:{lineno}: {exc}")
                    bad.add(lineno)
                    continue
                if parsed is not None:
                    context, written = as_written(raw)
                    found[(path, lineno)] = TrainingDoc(
                        path, lineno, *parsed, context=context, written_answer=written
                    )
        missing = sorted(lines - bad - {ln for p, ln in found if p == path})
        problems += [f"{path}:{ln}: no training example on this line" for ln in missing]
        if problems:
            raise DataError(path, problems)
    return [found[key] for key in order]


def _entry_candidates(entry: dict[str, Any], adapter: Path, root: Path) -> list[Path]:
    """Where a recorded data file may be now, most likely first (duplicates dropped)."""
    out: list[Path] = []
    relative = [p for p in (entry.get("project_path"), entry.get("path")) if isinstance(p, str) and p]
    for rel in relative:
        recorded = Path(rel).expanduser()
        if recorded.is_absolute():
            out.append(recorded)
            continue
        out += [root / recorded, adapter / recorded, Path.cwd() / recorded]
    absolute = entry.get("absolute")
    if isinstance(absolute, str) and absolute:
        out.append(Path(absolute))
    seen: set[str] = set()
    unique = []
    for c in out:
        key = str(c.absolute())
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def training_files_from_manifest(
    adapter_dir: str | Path,
    *,
    include_dev: bool = True,
    verify: bool = True,
    rootdir: Path | None = None,
    train_data: Sequence[Path] = (),
) -> list[Path]:
    """The training (and dev) files an adapter was trained on, from its ``tunegate.json``.

    The manifest holds ``"data": {"train": {"path", "project_path", "absolute", "sha256"}, "dev":
    {...}}`` (``tunegate.trainers.manifest``). The dev split is included by default: an eval item that
    leaked into it tuned model selection. Each file is looked for at its path relative to the
    project root (``rootdir``; default: the git work tree of the current directory, else the
    current directory), then relative to the adapter dir and the current directory, then at its
    absolute path at training time, then among ``train_data`` (``--train-data``), which are matched
    by content. The sha256 is verified whichever way the file was found: a file that changed since
    training is refused by name, because the check would no longer describe what the adapter saw.
    """
    adapter = Path(adapter_dir)
    manifest, recorded = manifest_path(adapter), read_manifest(adapter)
    if recorded is None:
        raise ConfigError(
            f"{adapter} has no {MANIFEST} (the tunegate trainer writes it next to the adapter); "
            "pass the training files to the leakage check explicitly (--train-data)"
        )
    data = recorded.data
    if not isinstance(data, dict) or not isinstance(data.get("train"), dict):
        raise ConfigError(
            f'{manifest} has no "data": {{"train": {{"path", "sha256"}}}} section; it cannot name the training data'
        )
    root = Path(rootdir) if rootdir is not None else project_root()
    given = [Path(p) for p in train_data]
    files: list[Path] = []
    problems: list[str] = []
    for split in ("train", "dev") if include_dev else ("train",):
        entry = data.get(split)
        if entry is None:
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            problems.append(f'{manifest}: data.{split} must be {{"path": ..., "sha256": ...}}, got {entry!r}')
            continue
        expected = entry.get("sha256") if verify else None
        expected = expected if isinstance(expected, str) and expected else None
        found, changed = _find_recorded(entry, adapter, root, given, expected)
        if found is not None:
            files.append(found)
            continue
        name = entry.get("project_path") or entry["path"]
        if changed:
            shown = ", ".join(f"{p} (sha256 {sha[:12]}…)" for p, sha in changed[:3])
            problems.append(
                f"{manifest}: the {split} file {name!r} changed since training (found {shown}; the adapter "
                f"was trained on sha256 {str(expected)[:12]}…); restore the original file, or pass the exact "
                "file it was trained on with --train-data"
            )
        else:
            looked = ", ".join(str(c) for c in _entry_candidates(entry, adapter, root))
            problems.append(
                f"{manifest}: the {split} file {name!r} has moved or was deleted (looked in {looked}"
                f"{' and the --train-data files' if given else ''}); run from the project root it was "
                "trained in, restore it, or pass it with --train-data"
            )
    if problems:
        raise DataError(str(manifest), problems)
    return files


def _find_recorded(
    entry: dict[str, Any], adapter: Path, root: Path, given: list[Path], expected: str | None
) -> tuple[Path | None, list[tuple[Path, str]]]:
    """(the file whose content is the recorded one, [(a file at a recorded place, its other sha)])."""
    changed: list[tuple[Path, str]] = []
    for cand in _entry_candidates(entry, adapter, root):
        if not cand.is_file():
            continue
        if expected is None:
            return cand, changed
        actual = sha256_file(cand)
        if actual == expected:
            return cand, changed
        changed.append((cand, actual))
    for cand in given:
        if not cand.is_file():
            continue
        if expected is None:
            if cand.name == Path(str(entry["path"])).name:
                return cand, changed
            continue
        if sha256_file(cand) == expected:
            return cand, changed
    if expected is not None:
        recorded_name = Path(str(entry["path"])).name
        changed += [(c, sha256_file(c)) for c in given if c.is_file() and c.name == recorded_name]
    return None, changed
