"""What, besides the model and the prompt, decides the bits a local model computes.

Greedy decoding is deterministic on one machine, but two machines can round differently: the
kernels torch dispatches to depend on the CPU's instruction set (AVX2, AVX512, AVX512-BF16, AMX:
bf16 matmuls run natively on the last two and are emulated through float32 on the others), on
the BLAS and oneDNN builds inside torch, and on the torch and transformers versions (kernels,
modeling code). A near-tie in greedy argmax then breaks the other way and a text differs.

:func:`numerics_tag` names all of that in one line. It is part of the hf backend's fingerprint
(so a response cached on one kind of machine is never served on another), printed in the run
header and recorded in results.json (``run.numerics``). Not in it, because it does not change
a text: the thread count, the batch size, the other prompts of the call (see
:mod:`tunegate.harness.models.attention`).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

# CPU flags that select different matmul kernels (and so different roundings) in torch/oneDNN.
KERNEL_FLAGS = ("avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni")


def cpu_flags() -> list[str]:
    """Those of :data:`KERNEL_FLAGS` this CPU reports in /proc/cpuinfo (empty off Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    present = set(line.split())
    return [f for f in KERNEL_FLAGS if f in present]


def _build(config: str) -> list[str]:
    """The BLAS and oneDNN versions in torch's build description."""
    out = []
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", config)
    if mkl:
        out.append(f"mkl {mkl.group(1)}")
    dnn = re.search(r"MKL-DNN v([\w.]+)", config)
    if dnn:
        out.append(f"onednn {dnn.group(1)}")
    return out


@cache
def numerics_tag(device: str = "cpu") -> str:
    """E.g. ``cpu AVX2 [] · torch 2.13.0+cpu · transformers 5.24.0 · mkl 2024.2 · onednn 3.12.0``."""
    import torch
    import transformers

    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        head = f"cuda {props.name} sm{props.major}{props.minor} cuda {torch.version.cuda}"
    else:
        head = f"cpu {torch.backends.cpu.get_cpu_capability()} [{' '.join(cpu_flags())}]"
    parts = [head, f"torch {torch.__version__}", f"transformers {transformers.__version__}"]
    return " · ".join(parts + _build(torch.__config__.show()))
