"""Training and generation throughput with and without one competing CPU-bound process.

Each measurement runs in a fresh process (torch's thread pool is set once per process): the demo
trainer for a few optimizer steps (input tokens/s) and the hf slot loop on the bench's
decode-heavy prompts (generated tokens/s). Three conditions, one after the other:

- ``idle``: nothing started by this bench (read ``loadavg``: the machine may be shared);
- ``busy, N threads``: one ``while True: pass`` process running, torch at ``--before-threads``
  (2 = torch's old default on a 2-core machine);
- ``busy, chosen``: the same competitor, threads chosen by tunegate (``--threads 0``).

Prints one JSON object; ``ratio_*`` are busy / idle throughput.

    python bench/contention.py [--steps 4] [--n 32] [--before-threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tunegate" / "trainers" / "configs" / "support-demo.yaml"

CHILD = r"""
import json, sys, tempfile, time
sys.path.insert(0, {root!r})
what, threads, steps, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
from tunegate.harness.models.threads import apply_threads
if what == "train":
    from tunegate.trainers.config import load_config
    from tunegate.trainers.train import train
    from tunegate.harness.manifest import read_manifest
    out = tempfile.mkdtemp()
    cfg = load_config({config!r}, output=out, seed=0, max_steps=steps)
    train(cfg, quiet=True, threads=threads)
    stats = read_manifest(out).to_json()
    stats = stats.get("training", stats)
    print(json.dumps({{"tokens_per_s": stats.get("tokens_per_s"), "threads": apply_threads(threads).describe()}}))
else:
    import torch
    from bench.generate import workload
    from tunegate.harness.models.chat import render_prompt
    from tunegate.harness.models.decode import greedy_generate
    from tunegate.harness.models.resolve import resolve_base
    from tunegate.harness.models.runtime import load, resolve_dtype
    choice = apply_threads(threads)
    model, tok = load(resolve_base("smollm2-135m-instruct"), dtype=resolve_dtype("auto", "cpu"), quantization="none", device="cpu")
    prompts = [render_prompt(tok, chat) for chat in workload(n)]
    greedy_generate(model, tok, prompts[:2], max_new_tokens=4, batch_size=64)
    t = time.perf_counter()
    out = greedy_generate(model, tok, prompts, max_new_tokens=32, batch_size=64)
    s = time.perf_counter() - t
    print(json.dumps({{"tokens_per_s": round(sum(c.n_tokens for c in out) / s, 1), "threads": choice.describe()}}))
"""


def child(what: str, threads: int, steps: int, n: int) -> dict[str, object]:
    code = CHILD.format(root=str(ROOT), config=str(CONFIG))
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.setdefault("HF_HUB_OFFLINE", "1")
    done = subprocess.run(
        [sys.executable, "-c", code, what, str(threads), str(steps), str(n)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{what} child failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps of the demo trainer (4)")
    ap.add_argument("--n", type=int, default=32, help="prompts generated (32)")
    ap.add_argument("--before-threads", type=int, default=2, help="threads of the 'before' condition (2)")
    args = ap.parse_args()
    out: dict[str, object] = {"loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}
    for what in ("train", "generate"):
        row: dict[str, object] = {"idle": child(what, 0, args.steps, args.n)}
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(2)
            row[f"busy_{args.before_threads}_threads"] = child(what, args.before_threads, args.steps, args.n)
            row["busy_chosen"] = child(what, 0, args.steps, args.n)
        finally:
            hog.kill()
            hog.wait()
        idle = float(row["idle"]["tokens_per_s"])  # type: ignore[index]
        for key in (f"busy_{args.before_threads}_threads", "busy_chosen"):
            row[f"ratio_{key}"] = round(float(row[key]["tokens_per_s"]) / idle, 3)  # type: ignore[index]
        out[what] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
