"""Replay (rehearsal) data: the base model's own answers to a general prompt pool.

Fine-tuning a small model on one task makes it forget general skills (the forgetting gates
see it). Mixing general examples into training slows that down; when the base's original
instruction data is not available, the base writes its own (self-distilled replay, after
Self-Synthesized Rehearsal, Huang et al. 2024): it answers every prompt of a pool greedily,
and those (prompt, answer) pairs are mixed into training at ``replay.ratio`` per task example.

The replay file is a chat JSONL like any training file, built once and reused:

- answers come from the ``hf`` backend through the response cache
  (``harness.generation.generate_cached``), so a rebuild costs nothing for prompts already
  answered by the same base fingerprint;
- the file is identified by ``replay_fingerprint`` = base content fingerprint + pool sha256 +
  ``max_new_tokens`` + generation dtype + ``REPLAY_VERSION``, stored in ``FILE.meta.json``
  beside it; a file whose meta or content does not match is stale and rebuilt;
- answers cut at ``max_new_tokens`` (``finish_reason == "length"``) and empty answers are dropped:
  the trainer appends the end-of-turn token to every answer, so a cut answer would teach the model
  to stop mid-sentence.

The pool must be disjoint from every eval suite; ``check_replay_leakage`` runs the leakage
engine on a replay file (``tests/trainers/test_replay_leakage.py`` shows zero overlap for the
shipped pool). ``tunegate replay build CONFIG.yaml`` builds it by hand.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data import Message, parse_jsonl
from harness.errors import ConfigError, DataError
from harness.fingerprint import digest, sha256_file
from trainers.config import ReplayConfig, TrainConfig

REPLAY_VERSION = "1"
"""Bump when the way replay files are built changes (drop rule, row shape)."""
GENERATION_DTYPE = "auto"
"""The base answers in the dtype the harness gates it in by default (bf16 where supported)."""

Chat = list[dict[str, str]]


@dataclass(frozen=True)
class PoolPrompt:
    id: str
    line: int
    messages: tuple[Message, ...]


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
    built: bool
    """True when answers were (re)written in this call; False when a current file was reused."""

    def chats(self) -> list[Chat]:
        from trainers.data import read_chats

        return read_chats(self.path)


def read_pool(path: str | Path) -> list[PoolPrompt]:
    """The pool's prompts: chat lines ending with a user turn; every problem as ``path:line``."""
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
        pid = obj.get("id") if isinstance(obj.get("id"), str) else f"pool-{lineno}"
        out.append(PoolPrompt(pid, lineno, tuple(Message(m["role"], m["content"]) for m in msgs)))  # type: ignore[union-attr]
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
    )


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build_replay(
    cfg: TrainConfig,
    *,
    cache_dir: str | Path | None = None,
    force: bool = False,
    model_dir: Path | None = None,
) -> ReplayData:
    """The replay file for ``cfg`` (built, or reused when current); ConfigError without a replay section."""
    from harness.models.resolve import default_cache_dir, resolve_base
    from trainers.manifest import base_fingerprint

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
    dropped = 0
    for p, (text, finish) in zip(prompts, outputs, strict=True):
        answer = text.strip()
        if finish != "stop" or not answer:
            dropped += 1
            continue
        chat = [m.to_dict() for m in p.messages] + [{"role": "assistant", "content": answer}]
        rows.append(json.dumps({"id": p.id, "messages": chat}, ensure_ascii=False) + "\n")
    if not rows:
        raise DataError(
            str(replay.pool),
            [
                f"{replay.pool}:1: the base answered none of the {len(prompts)} prompts within "
                f"max_new_tokens={replay.max_new_tokens}; raise replay.max_new_tokens"
            ],
        )
    text = "".join(rows)
    _write_atomic(path, text)
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
    }
    _write_atomic(meta_path(path), json.dumps(meta, indent=1) + "\n")
    return ReplayData(path, fp, Path(replay.pool), pool_sha, sha, len(prompts), len(rows), dropped, True)


def _answer(
    base: str, prompts: Sequence[PoolPrompt], max_new_tokens: int, cache: Path
) -> list[tuple[str, str]]:
    """Greedy base answers through the response cache: ``[(text, finish_reason)]`` in pool order."""
    from harness.cache import ResponseCache
    from harness.generation import generate_cached
    from harness.models import BACKENDS, GenerationParams, GenerationRequest, ModelSpec
    from harness.models.hf import clear_engines

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
    from harness.fingerprint import path_in_project, project_root

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
        "pool_prompts": data.n_prompts,
        "version": REPLAY_VERSION,
    }


def check_replay_leakage(path: str | Path, suites: Sequence[Any]) -> Any:
    """The leakage engine's report for a replay file against ``suites`` (``harness.leakage``)."""
    from harness.leakage import LeakageConfig, check_leakage

    return check_leakage([Path(path)], list(suites), config=LeakageConfig())


__all__ = [
    "REPLAY_VERSION",
    "PoolPrompt",
    "ReplayData",
    "build_replay",
    "check_replay_leakage",
    "current",
    "draw",
    "manifest_record",
    "read_pool",
    "replay_fingerprint",
    "replay_path",
]
