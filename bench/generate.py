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
    from tunegate.harness.data import load_suite

    chats: list[list[dict[str, str]]] = []
    # The general suites ship as package data of tunegate.harness.general.
    files = [
        ROOT / "suites" / "data" / "support" / "eval.jsonl",
        ROOT / "tunegate" / "harness" / "general" / "factual_qa.jsonl",
        ROOT / "tunegate" / "harness" / "general" / "reading.jsonl",
        ROOT / "tunegate" / "harness" / "general" / "instructions.jsonl",
    ]
    per_file = -(-n // len(files))
    for path in files:
        suite = load_suite(path)
        chats += [it.chat() for it in suite.items[:per_file]]
    return chats[:n]


# -- a prompt-heavy workload: classification prompts of ~120 tokens, answers of ~10 --------------

CATEGORIES = ("billing", "shipping", "returns", "account", "technical", "other")
CLASSIFY_SYSTEM = (
    "You sort customer messages for a support team. Categories: " + ", ".join(CATEGORIES) + ". "
    "If a message fits two categories, pick the one the customer most wants solved. "
    "Reply on one line as: category - reason in at most six words."
)
_OPENERS = ("Hi,", "Hello team,", "Good morning,", "Hey there,", "Dear support,", "Hi all,")
_ISSUES = (
    "I was charged twice for my March invoice and the second payment is still pending on my card",
    "my parcel has shown 'in transit' for nine days and the tracking link no longer loads",
    "the blender I ordered arrived with a cracked jug and I would like to send it back",
    "I cannot log in since I changed my email address and the reset link never arrives",
    "the app crashes every time I open the settings page on my phone after the last update",
    "I would like to know whether you have a shop in Lyon where I could pick things up",
    "my discount code was not applied at checkout although it was still valid that day",
    "the courier left my order at the wrong address and the neighbour says it is not there",
    "I returned two shirts three weeks ago and still have not received any refund",
    "my account shows an old phone number and the form will not let me change it",
    "the export to CSV button produces an empty file for every report I try",
    "I want to cancel my subscription before the next renewal date next Tuesday",
)
_DETAILS = (
    "My order number is {n}.",
    "This is the third time I write about it.",
    "I attached a screenshot of the error.",
    "I have been a customer for {y} years.",
    "Please answer soon, it is urgent.",
    "Nobody replied to my earlier email.",
    "I tried on two different computers.",
    "The amount was {n} cents more than shown.",
)
_CLOSERS = ("Thanks.", "Best regards, Sam", "Thank you in advance.", "Cheers, Alex", "Kind regards.", "Thanks, Priya")


def prompt_heavy_workload(n: int, seed: int = 16) -> list[list[dict[str, str]]]:
    """``n`` seeded classification chats of about 120 prompt tokens (SmolLM2's template) whose
    answers are about 10 tokens (one line: ``category - reason``); stop on a newline."""
    import random

    rng = random.Random(seed)
    chats: list[list[dict[str, str]]] = []
    for _ in range(n):
        details = rng.sample(_DETAILS, 3)
        body = " ".join(
            [
                rng.choice(_OPENERS),
                rng.choice(_ISSUES) + ".",
                *(d.format(n=rng.randint(10000, 99999), y=rng.randint(2, 12)) for d in details),
                rng.choice(_CLOSERS),
            ]
        )
        chats.append([{"role": "system", "content": CLASSIFY_SYSTEM}, {"role": "user", "content": body}])
    return chats


WORKLOADS = {
    # name: (chats(n), max_new_tokens, stop strings)
    "decode-heavy": (workload, 64, ()),
    "prompt-heavy": (prompt_heavy_workload, 16, ("\n",)),
}


def plain_generate(model, tok, prompts, batch_size: int, max_new_tokens: int) -> tuple[list[str], int, float]:
    import torch

    from tunegate.harness.models.decode import eos_ids

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

    from tunegate.harness.data import Message
    from tunegate.harness.models.base import GenerationParams, GenerationRequest, ModelSpec
    from tunegate.harness.models.hf import HFBackend, resolve_dtype
    from tunegate.harness.models.resolve import resolve_base

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
