"""The training loop: read it top to bottom (after nanoGPT's train.py).

Load the base (4-bit NF4 for QLoRA, or bf16/fp32 for LoRA) -> seed -> attach a peft LoRA adapter
-> loop over micro-batches with gradient accumulation, a warm-up + cosine schedule and periodic
dev loss -> write the adapter and its provenance manifest atomically.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tunegate.harness import progress
from tunegate.harness.atomic import plain_modes
from tunegate.harness.errors import ConfigError, TrainingDiverged
from tunegate.harness.manifest import write_manifest
from tunegate.harness.models.quiet import quiet
from tunegate.harness.models.resolve import resolve_base
from tunegate.harness.models.runtime import (
    MIN_SHARED_PREFIX,
    broadcast_cache,
    cache_kwarg,
    decoder,
    load,
    prefix_cache,
    resolve_dtype,
    shared_prefix_length,
)
from tunegate.harness.models.threads import apply_threads, usable_cpus
from tunegate.trainers.config import TrainConfig, refuse_unsafe_output
from tunegate.trainers.data import IGNORE, Example, batches, collate, read_chats, tokenize
from tunegate.trainers.distributed import (
    World,
    barrier,
    join,
    leave,
    sum_gradients,
    sum_scalar,
    world_from_env,
)
from tunegate.trainers.manifest import build_manifest, inputs_fingerprint
from tunegate.trainers.publish import portable_card


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def load_base(cfg: TrainConfig, model_dir: Path, device: str, dtype: str) -> tuple[Any, Any]:
    """(model, tokenizer): ``cfg.quantization`` NF4 weights for QLoRA, or ``dtype`` for LoRA."""
    return load(model_dir, dtype=dtype, quantization=cfg.quantization, device=device, padding_side=None)


def check_target_modules(cfg: TrainConfig, model: Any, config_path: str) -> None:
    """Every name in ``target_modules`` must be a module of the base: peft stops with a traceback
    when none is, and skips a misspelled one without a word when another one matches."""
    names = cfg.modules()
    if isinstance(names, str):  # "all-linear": peft picks the layers
        return
    modules = [n for n, _ in model.named_modules()]
    missing = [t for t in names if not any(n == t or n.endswith("." + t) for n in modules)]
    if missing:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if "Linear" in type(m).__name__})
        raise ConfigError(
            f"{config_path or 'the trainer config'}: target_modules {missing} not found in the base "
            f"{cfg.base}; its linear layers are {linear}: name some of them, or write 'attention' or 'all-linear'"
        )


def attach_lora(cfg: TrainConfig, model: Any) -> Any:
    # peft imports bitsandbytes and calls deprecated transformers API: noise that is not the user's
    with quiet():
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        if cfg.quantization == "nf4":
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
        elif cfg.gradient_checkpointing:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()
        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,  # type: ignore[arg-type]
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.modules(),
            bias="none",
            task_type="CAUSAL_LM",
        )
        return get_peft_model(model, lora)


def make_optimizer(cfg: TrainConfig, params: list[Any], device: str) -> Any:
    import torch

    if device.startswith("cuda"):
        # Paged 8-bit AdamW keeps optimizer state small and spills to host memory under pressure.
        import bitsandbytes as bnb

        return bnb.optim.PagedAdamW8bit(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    # On CPU there is no GPU memory to page from and LoRA state is tiny: plain AdamW is fastest.
    return torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    warm = int(total * cfg.warmup_ratio)
    if step < warm:
        return cfg.learning_rate * (step + 1) / warm
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    progress = (step - warm) / max(1, total - warm)
    if cfg.lr_schedule == "linear":
        return cfg.learning_rate * (1.0 - progress)
    return cfg.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))


def shared_prefix(batch: Sequence[Example]) -> int:
    """Leading tokens every example of ``batch`` has in common, all of them prompt (no loss).

    Stops one token before the first target of any example, so every target is predicted from
    a position after the prefix; 0 when the share is too small to be worth a separate pass.
    """
    if len(batch) < 2:
        return 0
    limit = min(next((k for k, y in enumerate(e.labels) if y != IGNORE), len(e.labels)) for e in batch) - 1
    return shared_prefix_length([e.input_ids for e in batch], limit=limit, min_length=MIN_SHARED_PREFIX)


def batch_loss(model: Any, batch: list[Example], pad_id: int, device: str) -> tuple[Any, int]:
    """Summed token loss of a micro-batch and its number of target tokens.

    When the examples share a prompt prefix (the same system prompt), the prefix goes through
    the model once and its keys/values are broadcast to every row: the loss and gradients are
    those of the full batch (the broadcast sums the rows' gradients back into the one pass),
    at the cost of the distinct tokens only.
    """
    import torch

    enc = {k: v.to(device) for k, v in collate(batch, pad_id).items()}
    labels = enc.pop("labels")
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    n_prefix = 0 if _checkpointing(causal_lm) and model.training else shared_prefix(batch)
    if n_prefix:
        hidden = _hidden_after_prefix(causal_lm, enc, n_prefix)
        target = labels[:, n_prefix + 1 :]
    else:
        hidden = causal_lm.model(**enc).last_hidden_state[:, :-1, :]
        target = labels[:, 1:]
    keep = target != IGNORE
    # The vocabulary projection is ~20% of a small model's compute and its fp32 logits dominate
    # memory: apply it only where the loss is taken (the assistant reply), not on the prompt.
    logits = causal_lm.lm_head(hidden[keep]).float()
    loss = torch.nn.functional.cross_entropy(logits, target[keep], reduction="sum")
    return loss, int(keep.sum())


def _checkpointing(causal_lm: Any) -> bool:
    """Activation checkpointing recomputes without a cache, so the prefix cannot be shared."""
    flag = getattr(causal_lm, "is_activation_checkpointing", None)
    return bool(causal_lm.is_gradient_checkpointing if flag is None else flag)


def _hidden_after_prefix(causal_lm: Any, enc: dict[str, Any], n_prefix: int) -> Any:
    """Hidden states of positions ``n_prefix .. width-2``, the prefix run once for the batch."""
    import torch

    ids, mask = enc["input_ids"], enc["attention_mask"]
    rows = ids.shape[0]
    cache = broadcast_cache(prefix_cache(causal_lm, ids[:1, :n_prefix]), rows)
    tail = ids[:, n_prefix:-1]
    positions = torch.arange(n_prefix, ids.shape[1] - 1, device=ids.device).expand(rows, -1)
    out = decoder(causal_lm)(
        input_ids=tail,
        attention_mask=mask[:, :-1],
        position_ids=positions,
        use_cache=True,
        **{cache_kwarg(causal_lm): cache},
    )
    return out.last_hidden_state


def dev_loss(model: Any, examples: list[Example], pad_id: int, device: str, micro: int) -> float:
    import torch

    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), micro):
            loss, k = batch_loss(model, examples[start : start + micro], pad_id, device)
            total, n = total + float(loss), n + k
    model.train()
    return total / max(n, 1)


def train(cfg: TrainConfig, *, config_path: str = "", quiet: bool = False, threads: int = 0) -> Path:
    """Train the adapter ``cfg`` describes; on CPU with ``threads`` torch threads (0: chosen from
    the usable CPUs, :mod:`tunegate.harness.models.threads`)."""
    import torch

    refuse_unsafe_output(cfg.output, f"{config_path or 'train'}: output")
    world = world_from_env()
    if not torch.cuda.is_available():
        if not threads and world.size > 1 and not os.environ.get("OMP_NUM_THREADS"):
            threads = max(1, int(usable_cpus()) // world.size)  # the processes share the CPUs
        choice = apply_threads(threads)
        if not quiet and world.main:
            print(f"threads: {choice.describe()}", flush=True)
    try:
        with torch.enable_grad():  # a caller (e.g. an eval run in the same process) may have disabled it
            return _train(cfg, world, config_path=config_path, quiet=quiet or not world.main)
    finally:
        leave(world)


def _train(cfg: TrainConfig, world: World, *, config_path: str, quiet: bool) -> Path:
    import torch

    started = time.time()
    accum = cfg.batch_size // cfg.micro_batch_size
    if accum % world.size:
        raise ConfigError(
            f"batch_size / micro_batch_size = {accum} micro-batches per step cannot be split evenly over "
            f"{world.size} processes; make it a multiple of {world.size}"
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = resolve_dtype(cfg.dtype, device)
    if cfg.quantization == "nf4" and dtype == "fp32":
        dtype = "bf16" if device == "cpu" else dtype
    torch.use_deterministic_algorithms(True, warn_only=True)

    # Data first: every problem is reported before a model is loaded.
    train_chats = read_chats(cfg.train)
    dev_chats = read_chats(cfg.dev) if cfg.dev else []
    model_dir = resolve_base(cfg.base)
    device = join(world, device)
    model, tok = load_base(cfg, model_dir, device, dtype)
    check_target_modules(cfg, model, config_path)  # before the replay set is built: that takes minutes
    rng = random.Random(cfg.seed)
    if cfg.max_train_examples and cfg.max_train_examples < len(train_chats):
        train_chats = [
            train_chats[i] for i in sorted(rng.sample(range(len(train_chats)), cfg.max_train_examples))
        ]
    replay_record = None
    if cfg.replay is not None:  # the base's own answers to general prompts (tunegate/trainers/replay.py)
        from tunegate.trainers.replay import build_replay, draw, manifest_record

        if world.main:
            build_replay(cfg, model_dir=model_dir)  # reused when current; other ranks wait, then read it
        barrier(world)
        replay_data = build_replay(cfg, model_dir=model_dir)
        extra = draw(replay_data.chats(), len(train_chats), cfg.replay)
        replay_record = manifest_record(replay_data, cfg.replay, n_used=len(extra), n_task=len(train_chats))
        train_chats = train_chats + extra
    train_ex, skipped = tokenize(tok, train_chats, cfg.max_length)
    dev_ex, _ = tokenize(
        tok, dev_chats[: cfg.max_dev_examples] if cfg.max_dev_examples else dev_chats, cfg.max_length
    )
    if not train_ex:
        raise ConfigError(f"no training example fits max_length={cfg.max_length}; raise it")

    seed_everything(cfg.seed)  # before the adapter is created: LoRA init depends on it
    model = attach_lora(cfg, model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(cfg, params, device)
    steps_per_epoch = max(1, math.ceil(len(train_ex) / cfg.batch_size))
    total_steps = cfg.max_steps or max(1, math.ceil(steps_per_epoch * cfg.epochs))
    pad_id = tok.pad_token_id

    curve: list[dict[str, float]] = []
    dev_curve: list[dict[str, float]] = []
    n_tokens = 0
    step = 0
    loop_start = time.time()
    # no heartbeat thread: a line after a step at most, and nothing left running if a step raises
    bar = progress.track("train", Path(cfg.output).name, total_steps, "steps", heartbeat=None)
    bar = progress.Silent() if quiet else bar
    micro_iter: Iterator[list[Example]] = iter(())
    while step < total_steps:
        lr = lr_at(step, total_steps, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        micro_batches: list[list[Example]] = []
        while len(micro_batches) < accum:
            try:
                micro_batches.append(next(micro_iter))
            except StopIteration:
                micro_iter = batches(train_ex, cfg.micro_batch_size, rng)
        n_target = sum(e.n_target for b in micro_batches for e in b)
        step_loss = 0.0
        for b in micro_batches[world.rank :: world.size]:
            loss, _ = batch_loss(model, b, pad_id, device)
            (loss / n_target).backward()
            step_loss += float(loss.detach())
        n_tokens += sum(len(e.input_ids) for b in micro_batches for e in b)
        sum_gradients(params, world)
        step_loss = sum_scalar(step_loss, world)
        if not math.isfinite(step_loss):
            bar.close()
            raise TrainingDiverged(diverged_text(cfg, f"the loss is {step_loss} at step {step + 1} of {total_steps}", curve))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        curve.append({"step": step, "loss": step_loss / n_target, "lr": lr})
        tps = n_tokens / max(time.time() - loop_start, 1e-9)
        bar.advance(1, tokens=n_tokens - bar.tokens, loss=f"{step_loss / n_target:.3f}")
        if dev_ex and world.main and (step % cfg.eval_every == 0 or step == total_steps):
            dev_curve.append(
                {"step": step, "loss": dev_loss(model, dev_ex, pad_id, device, cfg.micro_batch_size)}
            )
            bar.note(  # a line of its own: never mixed into the in-place progress line
                f"step {step}/{total_steps}: train loss {curve[-1]['loss']:.4f}, dev loss {dev_curve[-1]['loss']:.4f}, {tps:.0f} tok/s"
            )
    bar.close()
    bad = [n for n, p in model.named_parameters() if p.requires_grad and not bool(torch.isfinite(p).all())]
    if bad:  # the last update overflowed: an adapter of NaN weights would only write garbage
        what = f"after the last update (step {total_steps}) {len(bad)} adapter tensor(s) hold NaN or infinite values, e.g. {bad[0]}"
        raise TrainingDiverged(diverged_text(cfg, what, curve))
    train_s = time.time() - loop_start

    stats = {
        "n_train_examples": len(train_ex),
        "n_skipped_too_long": skipped,
        "n_dev_examples": len(dev_ex),
        "n_train_tokens": n_tokens,
        "steps": total_steps,
        "tokens_per_s": round(n_tokens / train_s, 1),
        "train_s": round(train_s, 2),
        "wall_s": round(time.time() - started, 2),
        "device": device,
        "processes": world.size,
        "dtype": dtype,
        "loss_curve": curve,
        "dev_loss_curve": dev_curve,
    }
    if replay_record is not None:
        stats["replay"] = replay_record  # tunegate.json "replay": pool, file, sha256s, ratio, count
    out = save_adapter(model, cfg, model_dir, stats, config_path) if world.main else Path(cfg.output)
    barrier(world)
    return out


def diverged_text(cfg: TrainConfig, what: str, curve: list[dict[str, float]]) -> str:
    """Why training stopped on a loss or weights that are no longer finite numbers (``what``), and
    what to change."""
    if not curve:
        return (
            f"train: {what}, before any update: the base gives non-finite outputs on this data at dtype "
            f"{cfg.dtype!r} (fp16 overflows on many models: use bf16 or fp32), or its weights are damaged; "
            "nothing was saved"
        )
    last = next((f"{c['loss']:.4g} at step {int(c['step'])}" for c in reversed(curve) if math.isfinite(c["loss"])), "none")
    return (
        f"train: {what} (last finite loss: {last}): the training diverged and nothing was saved; lower "
        f"learning_rate (now {cfg.learning_rate:g}) or train in bf16 or fp32 rather than fp16"
    )


def save_adapter(
    model: Any, cfg: TrainConfig, model_dir: Path, stats: dict[str, Any], config_path: str
) -> Path:
    """Write adapter + manifest into a temp dir, then swap it into place in one rename."""
    out = Path(cfg.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        manifest = build_manifest(cfg, model_dir, stats, config_path)

        write_manifest(tmp, manifest)
        portable_card(tmp / "README.md", cfg.base)
        plain_modes(tmp)  # mkdtemp made it 0700: the adapter is meant to be shared
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


__all__ = ["inputs_fingerprint", "train"]
