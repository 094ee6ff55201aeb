#!/usr/bin/env python3
"""Measure how the default base model does on a seeded sample of each general suite.

    HF_HUB_OFFLINE=1 .venv/bin/python suites/data/general/measure.py [--per-file 40] [--dump out.jsonl]

Greedy decoding, bf16, batches of 16 with left padding, the model's chat template with the
generation prompt, 24 new tokens; scored with ``checks.is_correct`` (and its strict variant). It exists to keep the
suites at a difficulty where SmolLM2-135M-Instruct gets a meaningful share right (README.md
records the last measurement); it is slow on a small CPU, so it is not a test.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tunegate.harness.general import DATA  # noqa: E402
from tunegate.harness.general.checks import is_correct  # noqa: E402

FILES = ("factual_qa", "arithmetic", "instructions", "reading")


def generate(
    model_dir: Path, prompts: list[list[dict[str, str]]], *, batch_size: int, max_new_tokens: int
) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).eval()
    outputs: list[str] = []
    for start in range(0, len(prompts), batch_size):
        texts = [
            tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
            for p in prompts[start : start + batch_size]
        ]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(
                **enc, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id
            )
        new = out[:, enc["input_ids"].shape[1] :]
        outputs += [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]
        print(f"  {min(start + batch_size, len(prompts))}/{len(prompts)}", file=sys.stderr)
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accuracy of the default base model on the general suites.")
    parser.add_argument("--per-file", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", nargs="*", default=list(FILES))
    parser.add_argument("--dump", type=Path, help="write every prompt, reference, output and verdict here")
    args = parser.parse_args(argv)

    from tunegate.harness.models.resolve import DEFAULT_ALIAS, resolve_base

    sample: list[dict[str, Any]] = []
    for name in args.files:
        rows = [
            json.loads(line) for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        sample += random.Random(f"{args.seed}:{name}").sample(rows, min(args.per_file, len(rows)))
    outputs = generate(
        resolve_base(DEFAULT_ALIAS), [r["messages"] for r in sample], batch_size=16, max_new_tokens=24
    )
    by_file: dict[str, list[tuple[bool, bool]]] = {}
    dump = []
    for r, out in zip(sample, outputs, strict=True):
        ok, strict = is_correct(r, out), is_correct(r, out, strict=True)
        by_file.setdefault(r["tags"]["task"], []).append((ok, strict))
        dump.append(
            {"id": r["id"], "reference": r["reference"], "output": out, "correct": ok, "strict": strict}
        )
    if args.dump:
        args.dump.write_text(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dump), encoding="utf-8"
        )
    summary = {
        k: {
            "n": len(v),
            "accuracy": round(sum(ok for ok, _ in v) / len(v), 3),
            "strict_exact_match": round(sum(s for _, s in v) / len(v), 3),
        }
        for k, v in by_file.items()
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
