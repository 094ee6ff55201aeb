"""Peak memory of a gating run's generation: the base and one LoRA candidate, per dtype.

Each dtype runs in its own fresh subprocess (``ru_maxrss`` is a per-process high-water mark).
The subprocess builds the hf backends the way the pytest plugin's model handles do
(``BACKENDS.get("hf")(ModelSpec(...), cache_dir=...)``: one engine, the adapter loaded onto it
through peft, unmerged), generates for the first ``--n`` prompts of bench/generate.py's workload
on the base, runs the plugin's adapter probe, then generates on the candidate. The candidate is a
LoRA adapter for the base made here in a temp dir with peft (r=16 on every linear layer,
``init_lora_weights=False`` so it changes outputs). Prints one JSON object: per dtype the RSS
after imports, after each load and each generation, the peak (MB), the weights' bytes in memory;
the model and adapter sizes on disk; and ``fp32_peak / bf16_peak`` against the target
``bf16 <= fp32 / 1.5``.

    python bench/memory.py [--n 64] [--max-new-tokens 32] [--batch-size 64] [--dtypes bf16,fp32]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
TARGET_RATIO = 1.5


def rss_mb() -> float:
    """The current resident set size of this process (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_mb() -> float:
    """This process's peak resident set size so far (``ru_maxrss`` is in KB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def dir_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / MB, 1)


def make_adapter(base_dir: Path, out: Path, *, r: int = 16, seed: int = 0) -> Path:
    """A LoRA adapter for ``base_dir`` on every linear layer, with non-zero B (it changes outputs)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    cfg = LoraConfig(
        r=r,
        lora_alpha=2 * r,
        target_modules="all-linear",
        lora_dropout=0.0,
        init_lora_weights=False,
        task_type="CAUSAL_LM",
    )
    get_peft_model(base, cfg).save_pretrained(str(out), safe_serialization=True)
    return out


def child(dtype: str, adapter: str, args: argparse.Namespace) -> dict[str, Any]:
    """One dtype in this process: load base + candidate as the plugin does, generate, measure."""
    import peft  # noqa: F401  (the libraries' own footprint: the floor under every figure)
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from bench.generate import workload
    from tunegate.harness.data import Message
    from tunegate.harness.models.base import BACKENDS, GenerationParams, GenerationRequest, ModelSpec
    from tunegate.harness.models.resolve import default_cache_dir

    phases: dict[str, float] = {"imports_torch_transformers_peft": rss_mb()}
    cache_dir = str(args.cache_dir or default_cache_dir())
    factory = BACKENDS.get("hf")
    options = {"batch_size": args.batch_size}
    chats = workload(args.n)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    reqs = [GenerationRequest(str(i), tuple(Message(m["role"], m["content"]) for m in c), params) for i, c in enumerate(chats)]

    t0 = time.perf_counter()
    base = factory(ModelSpec(args.base, None, "hf", dtype, "none", "base", options), cache_dir=cache_dir)
    phases["base_loaded"] = rss_mb()
    phases["peak_after_base_load"] = peak_mb()
    base_out = base.generate(reqs)
    phases["base_generated"] = rss_mb()
    phases["peak_after_base_generate"] = peak_mb()
    cand = factory(ModelSpec(args.base, adapter, "hf", dtype, "none", "candidate", options), cache_dir=cache_dir)
    phases["candidate_loaded"] = rss_mb()
    probe = cand.adapter_effect([r.messages for r in reqs[:4]])  # type: ignore[attr-defined]
    cand_out = cand.generate(reqs)
    phases["candidate_generated"] = rss_mb()
    seconds = time.perf_counter() - t0

    engine = base.engine  # type: ignore[attr-defined]
    weights = sum(p.numel() * p.element_size() for p in engine.model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in engine.model.buffers())
    return {
        "dtype": engine.dtype,
        "peak_rss_mb": peak_mb(),
        "rss_mb": phases,
        "weights_in_memory_mb": round(weights / MB, 1),
        "buffers_in_memory_mb": round(buffers / MB, 1),
        "shared_engine": base.engine is cand.engine,  # type: ignore[attr-defined]
        "tokens": {"base": sum(c.n_tokens for c in base_out), "candidate": sum(c.n_tokens for c in cand_out)},
        "outputs_differ": sum(a.text != b.text for a, b in zip(base_out, cand_out, strict=True)),
        "adapter_probe_max_abs_logit_diff": round(float(probe.get("max_abs_logit_diff", 0.0)), 3),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--dtypes", default="bf16,fp32")
    ap.add_argument("--base", default="smollm2-135m-instruct")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)  # internal: one dtype
    ap.add_argument("--adapter", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(child(args.child, args.adapter, args)))
        return

    from tunegate.harness.models.resolve import resolve_base

    base_dir = resolve_base(args.base, args.cache_dir)
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tunegate-bench-memory-") as tmp:
        # Made in a subprocess too, so that no process measured below has loaded anything before.
        adapter = Path(tmp) / "adapter"
        subprocess.run(
            [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench.memory import make_adapter; "
             f"from pathlib import Path; make_adapter(Path({str(base_dir)!r}), Path({str(adapter)!r}))"],
            check=True,
        )
        for dtype in [d.strip() for d in args.dtypes.split(",") if d.strip()]:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", dtype, "--adapter", str(adapter),
                   "--n", str(args.n), "--max-new-tokens", str(args.max_new_tokens),
                   "--batch-size", str(args.batch_size), "--base", args.base]
            if args.cache_dir:
                cmd += ["--cache-dir", args.cache_dir]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            runs[dtype] = json.loads(done.stdout.strip().splitlines()[-1])
        adapter_mb = dir_mb(adapter)

    out: dict[str, Any] = {
        "workload": {"prompts": args.n, "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size, "model": args.base},
        "model_dir": str(base_dir),
        "model_on_disk_mb": dir_mb(base_dir),
        "adapter": {"r": 16, "target_modules": "all-linear", "on_disk_mb": adapter_mb},
        "runs": runs,
    }
    if "bf16" in runs and "fp32" in runs:
        ratio = runs["fp32"]["peak_rss_mb"] / runs["bf16"]["peak_rss_mb"]
        out["fp32_over_bf16_peak"] = round(ratio, 2)
        out["target"] = f"bf16 peak <= fp32 peak / {TARGET_RATIO}"
        out["meets_target"] = ratio >= TARGET_RATIO
    out["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
