"""Data-parallel training across processes started by ``accelerate launch`` or ``torchrun``.

Both launchers set ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
with ``WORLD_SIZE`` > 1 the trainer joins a process group (NCCL on CUDA, Gloo on CPU), each
process takes every ``world``-th micro-batch of an optimizer step, and the LoRA gradients are
summed across processes before the step, so every process holds the same adapter and the
result is the one-process result with the micro-batches computed in parallel. Only rank 0
evaluates the dev loss, prints and writes the adapter. Without a launcher nothing changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class World:
    size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return World(
        size=size, rank=int(os.environ.get("RANK", "0")), local_rank=int(os.environ.get("LOCAL_RANK", "0"))
    )


def join(world: World, device: str) -> str:
    """Join the process group; return this process's device (``cuda:<local rank>`` on GPUs)."""
    if not world.parallel:
        return device
    import torch
    import torch.distributed as dist

    if device == "cuda":
        torch.cuda.set_device(world.local_rank)
        device = f"cuda:{world.local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return device


def sum_gradients(params: list[Any], world: World) -> None:
    """Sum each trainable parameter's gradient over all processes (in place)."""
    if not world.parallel:
        return
    import torch
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    at = 0
    for p, g in zip(params, grads, strict=True):
        n = g.numel()
        p.grad = flat[at : at + n].view_as(p).to(p.dtype)
        at += n


def sum_scalar(value: float, world: World) -> float:
    if not world.parallel:
        return value
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item())


def barrier(world: World) -> None:
    if world.parallel:
        import torch.distributed as dist

        dist.barrier()


def leave(world: World) -> None:
    if world.parallel:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
