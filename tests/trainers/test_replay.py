"""Replay (rehearsal) data: the pool, the cached build, the mix and the manifest record."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.cache import ResponseCache, cache_key
from harness.errors import ConfigError, DataError
from harness.models import BACKENDS, GenerationParams, ModelSpec
from harness.models.base import Completion
from harness.models.hf import clear_engines
from trainers.config import load_config
from trainers.manifest import inputs_fingerprint
from trainers.replay import GENERATION_DTYPE, build_replay, draw, meta_path, read_pool
from trainers.train import train

ROOT = Path(__file__).resolve().parents[2]
POOL = ROOT / "trainers" / "replay_pool" / "general_prompts.jsonl"
SUPPORT_TRAIN = ROOT / "suites" / "data" / "support" / "train.jsonl"


def _pool(path: Path, prompts: list[str]) -> Path:
    rows = [{"id": f"p{i}", "messages": [{"role": "user", "content": p}]} for i, p in enumerate(prompts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _config(tmp_path: Path, base: Path, **replay: object) -> Path:
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(SUPPORT_TRAIN.read_text(encoding="utf-8").splitlines()[:8]) + "\n")
    body = {
        "base": str(base),
        "train": str(train),
        "output": str(tmp_path / "adapter"),
        "quantization": "none",
        "dtype": "fp32",
        "max_steps": 1,
        "micro_batch_size": 4,
        "batch_size": 4,
        "lora_r": 2,
        "lora_alpha": 4,
    }
    lines = [f"{k}: {json.dumps(v)}" for k, v in body.items()]
    lines.append("replay:")
    lines += [f"  {k}: {json.dumps(v)}" for k, v in replay.items()]
    path = tmp_path / "cfg.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _seed_cache(
    cache_dir: Path, base: Path, pool: Path, answers: list[Completion], max_new_tokens: int
) -> None:
    """Put the base's 'answers' for the pool into the response cache under the backend's real key."""
    backend = BACKENDS.get("hf")(ModelSpec(base=str(base), dtype=GENERATION_DTYPE), cache_dir=str(cache_dir))
    params = GenerationParams(max_new_tokens=max_new_tokens)
    prompts = read_pool(pool)
    entries = [
        (cache_key(backend.fingerprint, backend.render(p.messages), params.key()), c)
        for p, c in zip(prompts, answers, strict=True)
    ]
    cache = ResponseCache(cache_dir)
    cache.put_many(backend.fingerprint, entries)
    cache.close()
    clear_engines()


def test_shipped_pool_is_what_its_generator_writes() -> None:
    res = subprocess.run(
        [sys.executable, str(POOL.parent / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    kinds = Counter(json.loads(line)["tags"]["task"] for line in POOL.read_text().splitlines())
    assert kinds == {"factual": 60, "arithmetic": 60, "instructions": 60, "reading": 60}
    prompts = read_pool(POOL)
    assert len({p.messages[-1].content for p in prompts}) == len(prompts) == 240


def test_a_bad_pool_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "pool.jsonl"
    bad.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}]})
        + "\n"
        + json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
        + "\n"
    )
    with pytest.raises(DataError, match=r"pool.jsonl:2: a pool line needs"):
        read_pool(bad)


def test_replay_section_is_strict(tmp_path: Path, tiny_model_dir: Path) -> None:
    pool = _pool(tmp_path / "pool.jsonl", ["Name a colour."])
    with pytest.raises(
        ConfigError, match=r"unknown key 'replay.ratoi'; valid keys: \['file', 'max_new_tokens'"
    ):
        load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), ratoi=0.5))
    with pytest.raises(ConfigError, match=r"replay.ratio = 0: Input should be greater than 0"):
        load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), ratio=0))
    with pytest.raises(ConfigError, match=r"replay.pool file .*missing.jsonl not found"):
        load_config(_config(tmp_path, tiny_model_dir, pool=str(tmp_path / "missing.jsonl")))


def test_build_goes_through_the_cache_drops_cut_answers_and_detects_staleness(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    cache_dir = tmp_path / "cache"
    pool = _pool(
        tmp_path / "pool.jsonl", ["Name a colour.", "What is 3 and 4 added?", "Say hello.", "Count."]
    )
    answers = [
        Completion("Blue.", 2, "stop"),
        Completion(" 7 ", 1, "stop"),
        Completion("Hello there, how are", 8, "length"),  # cut at max_new_tokens: dropped
        Completion("   ", 1, "stop"),  # empty: dropped
    ]
    _seed_cache(cache_dir, tiny_model_dir, pool, answers, max_new_tokens=8)
    out = tmp_path / "replay.jsonl"
    cfg = load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=8, file=str(out)))

    data = build_replay(cfg, cache_dir=cache_dir)
    assert data.built and data.path == out
    assert (data.n_prompts, data.n_examples, data.n_dropped) == (4, 2, 2)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["messages"][-1] for r in rows] == [
        {"role": "assistant", "content": "Blue."},
        {"role": "assistant", "content": "7"},
    ]
    assert [r["messages"][0]["content"] for r in rows] == ["Name a colour.", "What is 3 and 4 added?"]
    meta = json.loads(meta_path(out).read_text())
    assert meta["fingerprint"] == data.fingerprint and meta["n_dropped"] == 2

    again = build_replay(cfg, cache_dir=cache_dir)
    assert not again.built and again.sha256 == data.sha256

    out.write_text(out.read_text().replace("Blue.", "Red."))  # edited by hand: stale, rebuilt
    rebuilt = build_replay(cfg, cache_dir=cache_dir)
    assert rebuilt.built and rebuilt.sha256 == data.sha256

    # Other generation settings miss the cache: the (random, tiny) base really answers, runs into
    # max_new_tokens on every prompt, and the build says so instead of writing an empty file.
    cfg_longer = load_config(
        _config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=9, file=str(out))
    )
    with pytest.raises(DataError, match=r"answered none of the 4 prompts within max_new_tokens=9"):
        build_replay(cfg_longer, cache_dir=cache_dir)
    assert not build_replay(cfg, cache_dir=cache_dir).built  # the failed build left the current file alone


def test_draw_is_seeded_and_refuses_more_than_the_file_has(tmp_path: Path, tiny_model_dir: Path) -> None:
    pool = _pool(tmp_path / "pool.jsonl", ["x"])
    chats = [
        [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}] for i in range(40)
    ]
    cfg = load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), ratio=0.25, seed=3))
    assert cfg.replay is not None
    first = draw(chats, 100, cfg.replay)
    assert len(first) == 25 and first == draw(chats, 100, cfg.replay)
    other = draw(chats, 100, cfg.replay.model_copy(update={"seed": 4}))
    assert other != first
    with pytest.raises(ConfigError, match=r"needs 50 replay examples, but the replay file has 40"):
        draw(chats, 200, cfg.replay)


def test_training_with_replay_records_it_and_the_pool_is_in_the_inputs_fingerprint(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("TUNEGATE_CACHE_DIR", str(cache_dir))
    pool = _pool(tmp_path / "pool.jsonl", [f"Name thing number {i}." for i in range(6)])
    _seed_cache(cache_dir, tiny_model_dir, pool, [Completion(f"Thing {i}.", 3, "stop") for i in range(6)], 16)
    cfg = load_config(_config(tmp_path, tiny_model_dir, pool=str(pool), ratio=0.5, max_new_tokens=16))
    before = inputs_fingerprint(cfg)

    out = train(cfg, quiet=True)

    manifest = json.loads((out / "tunegate.json").read_text())
    rec = manifest["replay"]
    assert (rec["count"], rec["task_examples"], rec["available"], rec["ratio"]) == (4, 8, 6, 0.5)
    replay_file = Path(rec["file"]["absolute"])
    assert replay_file.parent == cache_dir / "replay" and replay_file.is_file()
    assert rec["file"]["sha256"] == meta_path_sha(replay_file)
    assert rec["pool"]["sha256"] == read_sha(pool)
    assert manifest["n_train_examples"] == 12
    assert manifest["inputs_fingerprint"] == before

    _pool(pool, [f"Name thing number {i}!" for i in range(6)])  # new pool content, same path
    assert inputs_fingerprint(cfg) != before


def meta_path_sha(path: Path) -> str:
    return str(json.loads(meta_path(path).read_text())["sha256"])


def read_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_eval_suites_and_a_missing_replay_do_not_change_a_plain_fingerprint(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    path = _config(tmp_path, tiny_model_dir, pool=str(POOL))
    plain = tmp_path / "plain.yaml"
    plain.write_text(path.read_text().split("replay:")[0])
    a = load_config(plain)
    b = a.model_copy(update={"eval_suites": [str(tmp_path)]})
    assert a.replay is None and inputs_fingerprint(a) == inputs_fingerprint(b)
    assert inputs_fingerprint(load_config(path)) != inputs_fingerprint(a)


def test_replay_build_command_builds_then_reuses_and_checks_leakage(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainers.replay_cli import main

    cache_dir = tmp_path / "cache"
    pool = _pool(
        tmp_path / "pool.jsonl",
        ["Name a colour.", "What is the capital of France? Answer with just the city name."],
    )
    _seed_cache(
        cache_dir, tiny_model_dir, pool, [Completion("Blue.", 2, "stop"), Completion("Paris.", 2, "stop")], 8
    )
    cfg = _config(tmp_path, tiny_model_dir, pool=str(pool), max_new_tokens=8, file=str(tmp_path / "r.jsonl"))

    assert main(["build", str(cfg), "--cache-dir", str(cache_dir)]) == 0
    assert "replay file built" in capsys.readouterr().out
    # the second prompt is a general/factual_qa item verbatim: the leakage check names it, exit 1
    assert main(["build", str(cfg), "--cache-dir", str(cache_dir), "--check-leakage"]) == 1
    out = capsys.readouterr().out
    assert "replay file up to date" in out
    assert re.search(r"leakage check: 1 of \d+ eval items overlap the replay file", out)
    assert "general/factual_qa/factual_qa-001: exact" in out

    plain = tmp_path / "plain.yaml"
    plain.write_text(cfg.read_text().split("replay:")[0])
    assert main(["build", str(plain)]) == 2
    assert "has no replay section" in capsys.readouterr().err
