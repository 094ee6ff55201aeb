"""Generation speed of the hf backend against plain transformers ``generate`` on the same work.

Workload: 200 fixed prompts (the first items of the support eval and general suites, in file
order), greedy, the same model and dtype, the same batch size. The baseline is what a user
writes by hand: batches in the given order, left padding, ``model.generate``. Prints one JSON
object: tokens/s of each, the ratio, and how many outputs are identical.

    python bench/generate.py [--n 200] [--batch-size 64] [--max-new-tokens 64] [--dtype auto]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def workload(n: int) -> list[list[dict[str, str]]]:
    from harness.data import load_suite

    chats: list[list[dict[str, str]]] = []
    files = ["support/eval.jsonl", "general/factual_qa.jsonl", "general/reading.jsonl", "general/instructions.jsonl"]
    per_file = -(-n // len(files))
    for name in files:
        suite = load_suite(ROOT / "suites" / "data" / name)
        chats += [it.chat() for it in suite.items[:per_file]]
    return chats[:n]


def plain_generate(model, tok, prompts, batch_size: int, max_new_tokens: int) -> tuple[list[str], int, float]:
    import torch

    from harness.models.decode import eos_ids

    eos = eos_ids(model, tok)
    texts: list[str] = []
    n_tokens = 0
    start = time.perf_counter()
    for i in range(0, len(prompts), batch_size):
        enc = tok(prompts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos, pad_token_id=tok.pad_token_id)
        for row in out[:, enc["input_ids"].shape[1] :].tolist():
            n = next((k for k, t in enumerate(row) if t in eos), len(row))
            n_tokens += n + (1 if n < len(row) else 0)
            texts.append(tok.decode(row[:n], skip_special_tokens=True))
    return texts, n_tokens, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--base", default="smollm2-135m-instruct")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.data import Message
    from harness.models.base import GenerationParams, GenerationRequest, ModelSpec
    from harness.models.hf import HFBackend, resolve_dtype
    from harness.models.resolve import resolve_base

    chats = workload(args.n)
    backend = HFBackend(ModelSpec(args.base, dtype=args.dtype, options={"batch_size": args.batch_size}), cache_dir=str(Path.home() / ".cache" / "tunegate"))
    dtype = resolve_dtype(args.dtype, "cpu")
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    reqs = [GenerationRequest(str(i), tuple(Message(m["role"], m["content"]) for m in c), params) for i, c in enumerate(chats)]

    start = time.perf_counter()
    ours = backend.generate(reqs)
    ours_s = time.perf_counter() - start
    ours_tokens = sum(c.n_tokens for c in ours)

    path = resolve_base(args.base)
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype={"bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}[dtype]).eval()
    prompts = [backend.render(r.messages) for r in reqs]
    plain, plain_tokens, plain_s = plain_generate(model, tok, prompts, args.batch_size, args.max_new_tokens)

    same = sum(a.text == b for a, b in zip(ours, plain, strict=True))
    print(
        json.dumps(
            {
                "workload": {"prompts": len(reqs), "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size, "dtype": dtype, "model": args.base},
                "tunegate": {"seconds": round(ours_s, 2), "tokens": ours_tokens, "tokens_per_s": round(ours_tokens / ours_s, 1)},
                "transformers_generate": {"seconds": round(plain_s, 2), "tokens": plain_tokens, "tokens_per_s": round(plain_tokens / plain_s, 1)},
                "speedup": round(plain_s / ours_s, 2),
                "identical_outputs": same,
                "identical_fraction": round(same / len(reqs), 3),
                "threads": torch.get_num_threads(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
