"""Replay (rehearsal) data: the base model's own answers to a general prompt pool.

Fine-tuning a small model on one task makes it forget general skills (the forgetting gates
see it). Mixing general examples into training slows that down; when the base's original
instruction data is not available, the base writes its own (self-distilled replay, after
Self-Synthesized Rehearsal, Huang et al. 2024): it answers every prompt of a pool greedily,
and those (prompt, answer) pairs are mixed into training at ``replay.ratio`` per task example.

The replay file is a chat JSONL like any training file, built once and reused:

- answers come from the ``hf`` backend through the response cache
  (``tunegate.harness.generation.generate_cached``), so a rebuild costs nothing for prompts already
  answered by the same base fingerprint;
- the file is identified by ``replay_fingerprint`` = base content fingerprint + pool sha256 +
  ``max_new_tokens`` + generation dtype + ``REPLAY_VERSION``, stored in ``FILE.meta.json``
  beside it; a file whose meta or content does not match is stale and rebuilt;
- answers cut at ``max_new_tokens`` (``finish_reason == "length"``) and empty answers are dropped:
  the trainer appends the end-of-turn token to every answer, so a cut answer would teach the model
  to stop mid-sentence;
- with ``replay.verify`` (the default), an answer to a pool prompt that carries an answer key
  (``"expected"``: a list of acceptable answers) is kept only when it is right by
  ``answer_is_right``, the general eval suites' rule (``tunegate.harness.general.checks.answer_contained``);
  wrong ones are dropped and counted apart: a small base gets much of the arithmetic wrong, and
  rehearsing its wrong answers teaches them (measured: general/arithmetic 0.425 -> 0.217).
  Likewise an answer to an instruction prompt that carries an instruction check (``"check"``,
  read by the general suites' ``check_instruction``: "exactly three words", "capital letters
  only", a JSON key) is kept only when it follows the instruction. Kept / wrong / cut counts per
  kind (the pool line's ``tags.task``) go into the meta and the manifest record.

The pool must be disjoint from every eval suite; ``check_replay_leakage`` runs the leakage
engine on a replay file (``tests/trainers/test_replay_leakage.py`` shows zero overlap for the
shipped pool). ``tunegate replay build CONFIG.yaml`` builds it by hand.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tunegate.harness.atomic import write_atomic
from tunegate.harness.data import Message, parse_jsonl
from tunegate.harness.errors import ConfigError, DataError
from tunegate.harness.fingerprint import digest, sha256_file
from tunegate.harness.general.checks import answer_contained, check_instruction
from tunegate.trainers.config import ReplayConfig, TrainConfig

REPLAY_VERSION = "3"
"""Bump when the way replay files are built changes (drop rule, row shape).
2: answers that contradict the pool's answer key (``expected``) are dropped.
3: and answers that fail the pool line's instruction check (``check``)."""
COUNT_KEYS = ("kept", "verified", "wrong", "cut")
"""Per kind: answers kept (of them ``verified`` by an answer key or instruction check), dropped
as ``wrong``, dropped as ``cut`` at max_new_tokens or empty."""
UNTAGGED = "other"
"""The kind of a pool line without ``tags.task``."""
GENERATION_DTYPE = "auto"
"""The base answers in the dtype the harness gates it in by default (bf16 where supported)."""

Chat = list[dict[str, str]]


@dataclass(frozen=True)
class PoolPrompt:
    id: str
    line: int
    messages: tuple[Message, ...]
    expected: tuple[str, ...] = ()
    """Acceptable answers (the line's ``"expected"``); empty: the answer cannot be checked."""
    kind: str = UNTAGGED
    """The line's ``tags.task`` (factual, arithmetic, ...), for the counts."""
    check: dict[str, Any] | None = None
    """An instruction check (the line's ``"check"``, as the general suites' ``check_instruction``
    reads it: ``{"check": "word_count", "n": 3}``); None: no format to verify."""

    def is_right(self, answer: str) -> bool | None:
        """Whether ``answer`` is right by the line's answer key or instruction check; None when
        the line has neither (the answer cannot be checked)."""
        if self.expected:
            return answer_is_right(self.expected, answer)
        if self.check is not None:
            return check_instruction(self.check, answer)
        return None


@dataclass(frozen=True)
class ReplayData:
    """A built replay file and what it was built from."""

    path: Path
    fingerprint: str
    pool: Path
    pool_sha256: str
    sha256: str
    n_prompts: int
    n_examples: int
    n_dropped: int
    """Answers dropped because they were cut at max_new_tokens or empty."""
    built: bool
    """True when answers were (re)written in this call; False when a current file was reused."""
    n_wrong: int = 0
    """Answers dropped because they contradict the prompt's answer key (``replay.verify``)."""
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Per kind (``tags.task``, in pool order): ``COUNT_KEYS`` -> number of answers."""
    verify: bool = True
    """Whether answers were checked against the pool's answer keys."""

    def chats(self) -> list[Chat]:
        from tunegate.trainers.data import read_chats

        return read_chats(self.path)


_NUMBER = re.compile(r"(?:(?<![\w-])-)?(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)?")
"""A number as written in an answer: optional sign, thousands commas, decimals ("-3", "1,024", "2.5")."""


def _as_number(text: str) -> Decimal | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
        return None


def answer_is_right(expected: Sequence[str], answer: str) -> bool:
    """Whether ``answer`` gives one of the ``expected`` answers, by the general suites' scorer.

    A text answer: ``answer_contained`` (tunegate/harness/general/checks.py), the rule that scores
    general/factual_qa and general/reading: the reference occurs as a whole word after case
    folding and deleting punctuation ("The capital of Ghana is Accra." is right for "Accra").
    A number: the same, and the last number in the answer must equal it (so "52 + 3 = 56" is
    wrong for 55 although it contains neither, and "22 - 11 = 10" is wrong for 11 although it
    contains 11). The scorer of general/arithmetic only asks for the first condition; for replay,
    which trains on the whole answer, an answer that ends on another number is not kept.
    """
    for ref in expected:
        if not answer_contained(ref, answer):
            continue
        want = _as_number(ref)
        if want is None:
            return True
        numbers = _NUMBER.findall(answer)
        if numbers and _as_number(numbers[-1]) == want:
            return True
    return False


def _expected(value: Any) -> tuple[str, ...] | None:
    """The ``"expected"`` field as a tuple of answers, or None when it is malformed."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, str) and v.strip() for v in value):
        return None
    return tuple(v.strip() for v in value)


def _valid_check(check: Any) -> bool:
    """Whether ``check_instruction`` can read ``check`` (a known check with its parameters)."""
    if not isinstance(check, dict):
        return False
    try:
        check_instruction(check, "probe")
    except (KeyError, ValueError, TypeError):
        return False
    return True


def read_pool(path: str | Path) -> list[PoolPrompt]:
    """The pool's prompts: chat lines ending with a user turn; every problem as ``path:line``.

    A line is ``{"id": ..., "messages": [...], "tags": {"task": KIND}, "expected": [...]}``;
    ``id``, ``tags`` and ``expected`` are optional. ``expected`` is the answer key: a non-empty
    list of acceptable answers, each a non-empty string (a number as its digits: ``["42"]``).
    """
    path = Path(path)
    rows, problems = parse_jsonl(path.read_bytes(), str(path))
    out: list[PoolPrompt] = []
    for lineno, obj in rows:
        msgs = obj.get("messages") if isinstance(obj, dict) else None
        ok = isinstance(msgs, list) and bool(msgs)
        ok = ok and all(
            isinstance(m, dict) and m.get("role") in ("system", "user") and isinstance(m.get("content"), str)
            for m in msgs  # type: ignore[union-attr]
        )
        if not ok or msgs[-1]["role"] != "user":  # type: ignore[index]
            problems.append(
                f'{path}:{lineno}: a pool line needs "messages": system/user turns ending with a user turn '
                "(the base writes the answer)"
            )
            continue
        expected: tuple[str, ...] = ()
        if "expected" in obj:
            found = _expected(obj["expected"])
            if found is None:
                shown = json.dumps(obj["expected"], ensure_ascii=False)
                problems.append(
                    f'{path}:{lineno}: "expected" must be a non-empty list of acceptable answers, each a '
                    f'non-empty string (e.g. ["Paris"] or ["42"]), got {shown[:80]}'
                )
                continue
            expected = found
        check = obj.get("check")
        if check is not None and not _valid_check(check):
            shown = json.dumps(check, ensure_ascii=False)
            problems.append(
                f'{path}:{lineno}: "check" must be an instruction check of the general suites, e.g. '
                f'{{"check": "word_count", "n": 3}} or {{"check": "all_caps"}}, got {shown[:80]}'
            )
            continue
        tags = obj.get("tags")
        task = tags.get("task") if isinstance(tags, dict) else None
        kind = task if isinstance(task, str) and task else UNTAGGED
        pid = obj.get("id") if isinstance(obj.get("id"), str) else f"pool-{lineno}"
        turns = tuple(Message(m["role"], m["content"]) for m in msgs)  # type: ignore[union-attr]
        out.append(PoolPrompt(pid, lineno, turns, expected, kind, check))
    if not out and not problems:
        problems.append(f"{path}:1: the replay pool is empty")
    if problems:
        raise DataError(str(path), problems)
    return out


def replay_fingerprint(replay: ReplayConfig, base_fingerprint: str) -> str:
    """What a replay file depends on: the base, the pool's content and the generation settings."""
    return digest(
        {
            "base": base_fingerprint,
            "pool": sha256_file(Path(replay.pool)),
            "max_new_tokens": replay.max_new_tokens,
            "verify": replay.verify,
            "dtype": GENERATION_DTYPE,
            "version": REPLAY_VERSION,
        }
    )


def replay_path(replay: ReplayConfig, fingerprint: str, cache_dir: Path) -> Path:
    """``replay.file`` if set, else ``<cache dir>/replay/<fingerprint[:16]>.jsonl``."""
    return Path(replay.file) if replay.file else cache_dir / "replay" / f"{fingerprint[:16]}.jsonl"


def meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def current(path: Path, fingerprint: str) -> ReplayData | None:
    """The replay file at ``path`` when it was built from these inputs and is unchanged, else None."""
    meta_file = meta_path(path)
    if not path.is_file() or not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("fingerprint") != fingerprint:
        return None
    sha = sha256_file(path)
    if meta.get("sha256") != sha:
        return None
    return ReplayData(
        path=path,
        fingerprint=fingerprint,
        pool=Path(str(meta.get("pool"))),
        pool_sha256=str(meta.get("pool_sha256")),
        sha256=sha,
        n_prompts=int(meta.get("n_prompts", 0)),
        n_examples=int(meta.get("n_examples", 0)),
        n_dropped=int(meta.get("n_dropped", 0)),
        built=False,
        n_wrong=int(meta.get("n_wrong", 0)),
        counts=_read_counts(meta.get("counts")),
        verify=bool(meta.get("verify", True)),
    )


def _read_counts(value: Any) -> dict[str, dict[str, int]]:
    if not isinstance(value, dict):
        return {}
    return {
        str(kind): {k: int(c.get(k, 0)) for k in COUNT_KEYS}
        for kind, c in value.items()
        if isinstance(c, dict)
    }


def build_replay(
    cfg: TrainConfig,
    *,
    cache_dir: str | Path | None = None,
    force: bool = False,
    model_dir: Path | None = None,
) -> ReplayData:
    """The replay file for ``cfg`` (built, or reused when current); ConfigError without a replay section."""
    from tunegate.harness.models.resolve import default_cache_dir, resolve_base
    from tunegate.trainers.manifest import base_fingerprint

    replay = cfg.replay
    if replay is None:
        raise ConfigError("the config has no replay section; add `replay: {pool: ..., ratio: ...}`")
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    model_dir = model_dir or resolve_base(cfg.base, cache)
    fp = replay_fingerprint(replay, base_fingerprint(model_dir))
    path = replay_path(replay, fp, cache)
    if not force:
        found = current(path, fp)
        if found is not None:
            return found
    prompts = read_pool(replay.pool)
    outputs = _answer(cfg.base, prompts, replay.max_new_tokens, cache)
    rows: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    for p, (text, finish) in zip(prompts, outputs, strict=True):
        tally = counts.setdefault(p.kind, dict.fromkeys(COUNT_KEYS, 0))
        answer = text.strip()
        if finish != "stop" or not answer:
            tally["cut"] += 1
            continue
        right = p.is_right(answer) if replay.verify else None
        checked = right is not None
        if right is False:
            tally["wrong"] += 1  # rehearsing it would teach the base's own mistake
            continue
        tally["kept"] += 1
        tally["verified"] += int(checked)
        chat = [m.to_dict() for m in p.messages] + [{"role": "assistant", "content": answer}]
        rows.append(json.dumps({"id": p.id, "messages": chat}, ensure_ascii=False) + "\n")
    dropped = sum(c["cut"] for c in counts.values())
    wrong = sum(c["wrong"] for c in counts.values())
    if not rows:
        if wrong:
            why = (
                f"{dropped} cut at max_new_tokens={replay.max_new_tokens} or empty, {wrong} wrong by their "
                'answer key ("expected") or instruction check ("check"); add prompts the base answers right'
            )
            message = f"{replay.pool}:1: no answer of the base to the {len(prompts)} prompts was kept: {why}"
        else:
            message = (
                f"{replay.pool}:1: the base answered none of the {len(prompts)} prompts within "
                f"max_new_tokens={replay.max_new_tokens}; raise replay.max_new_tokens"
            )
        raise DataError(str(replay.pool), [message])
    text = "".join(rows)
    write_atomic(path, text)
    sha = sha256_file(path)
    pool_sha = sha256_file(Path(replay.pool))
    meta = {
        "fingerprint": fp,
        "sha256": sha,
        "pool": str(replay.pool),
        "pool_sha256": pool_sha,
        "base": cfg.base,
        "max_new_tokens": replay.max_new_tokens,
        "dtype": GENERATION_DTYPE,
        "version": REPLAY_VERSION,
        "n_prompts": len(prompts),
        "n_examples": len(rows),
        "n_dropped": dropped,
        "verify": replay.verify,
        "n_wrong": wrong,
        "counts": counts,
    }
    write_atomic(meta_path(path), json.dumps(meta, indent=1) + "\n")
    return ReplayData(
        path=path,
        fingerprint=fp,
        pool=Path(replay.pool),
        pool_sha256=pool_sha,
        sha256=sha,
        n_prompts=len(prompts),
        n_examples=len(rows),
        n_dropped=dropped,
        built=True,
        n_wrong=wrong,
        counts=counts,
        verify=replay.verify,
    )


def _answer(
    base: str, prompts: Sequence[PoolPrompt], max_new_tokens: int, cache: Path
) -> list[tuple[str, str]]:
    """Greedy base answers through the response cache: ``[(text, finish_reason)]`` in pool order."""
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.generation import generate_cached
    from tunegate.harness.models import BACKENDS, GenerationParams, GenerationRequest, ModelSpec
    from tunegate.harness.models.hf import clear_engines

    spec = ModelSpec(base=base, dtype=GENERATION_DTYPE)
    backend = BACKENDS.get("hf")(spec, cache_dir=str(cache))
    params = GenerationParams(max_new_tokens=max_new_tokens)
    requests = [GenerationRequest(id=p.id, messages=p.messages, params=params) for p in prompts]
    responses = ResponseCache(cache)
    try:
        outs = generate_cached(backend, requests, responses, label=f"{base} (replay)", suite="replay pool")
    finally:
        responses.close()
        clear_engines()  # the trainer loads its own copy; do not hold two
    return [(c.text, c.finish_reason) for c in outs]


def draw(replay_chats: Sequence[Chat], n_task: int, replay: ReplayConfig) -> list[Chat]:
    """``round(ratio * n_task)`` replay examples, a seeded sample without repeats."""
    n = round(replay.ratio * n_task)
    if n > len(replay_chats):
        raise ConfigError(
            f"replay.ratio {replay.ratio} x {n_task} task examples needs {n} replay examples, but the replay "
            f"file has {len(replay_chats)} (from {replay.pool}); lower replay.ratio or add prompts to the pool"
        )
    rng = random.Random(replay.seed)
    return [replay_chats[i] for i in sorted(rng.sample(range(len(replay_chats)), n))]


def manifest_record(data: ReplayData, replay: ReplayConfig, *, n_used: int, n_task: int) -> dict[str, Any]:
    """The ``replay`` entry of ``tunegate.json``: pool and file by path and sha256, ratio, counts."""
    from tunegate.harness.fingerprint import path_in_project, project_root

    root = project_root()
    return {
        "pool": {
            "path": str(replay.pool),
            "project_path": path_in_project(Path(replay.pool), root),
            "sha256": data.pool_sha256,
        },
        "file": {
            "path": str(data.path),
            "absolute": str(data.path.resolve()),
            "project_path": path_in_project(data.path, root),
            "sha256": data.sha256,
        },
        "fingerprint": data.fingerprint,
        "ratio": replay.ratio,
        "seed": replay.seed,
        "max_new_tokens": replay.max_new_tokens,
        "count": n_used,
        "task_examples": n_task,
        "available": data.n_examples,
        "dropped_cut_or_empty": data.n_dropped,
        "dropped_wrong": data.n_wrong,
        "verify": data.verify,
        "per_kind": {kind: dict(c) for kind, c in data.counts.items()},
        "pool_prompts": data.n_prompts,
        "version": REPLAY_VERSION,
    }


def check_replay_leakage(path: str | Path, suites: Sequence[Any]) -> Any:
    """The leakage engine's report for a replay file against ``suites`` (``tunegate.harness.leakage``)."""
    from tunegate.harness.leakage import LeakageConfig, check_leakage

    return check_leakage([Path(path)], list(suites), config=LeakageConfig())


__all__ = [
    "COUNT_KEYS",
    "REPLAY_VERSION",
    "PoolPrompt",
    "ReplayData",
    "answer_is_right",
    "build_replay",
    "check_replay_leakage",
    "current",
    "draw",
    "manifest_record",
    "read_pool",
    "replay_fingerprint",
    "replay_path",
]
