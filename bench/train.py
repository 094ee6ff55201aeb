"""Training throughput of ``tunegate train`` against a plain transformers Trainer + peft loop.

Same data (the support training split), same model, same LoRA config, same micro/effective batch
size, a fixed number of optimizer steps. Also compares QLoRA (nf4) with LoRA (bf16) in our
trainer. Prints one JSON object with tokens/s (input tokens processed per second) and ratios.

    python bench/train.py [--steps 6] [--base smollm2-135m-instruct] [--skip-hf]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TRAIN = ROOT / "suites" / "data" / "support" / "train.jsonl"


def ours(base: str, steps: int, quantization: str, out: Path) -> dict[str, float]:
    from tunegate.harness.manifest import manifest_path
    from tunegate.trainers.config import TrainConfig
    from tunegate.trainers.train import train

    cfg = TrainConfig(
        base=base,
        train=str(TRAIN),
        output=str(out),
        quantization=quantization,
        max_steps=steps,
        micro_batch_size=8,
        batch_size=16,
        lora_r=16,
        lora_alpha=32,
        target_modules="attention",
        seed=0,
    )
    train(cfg, quiet=True)
    m = json.loads(manifest_path(out).read_text())
    return {"tokens": m["n_train_tokens"], "seconds": m["train_s"], "tokens_per_s": m["tokens_per_s"]}


def plain_trainer(base: str, steps: int, out: Path) -> dict[str, float]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Trainer,
        TrainingArguments,
    )

    from tunegate.harness.models.resolve import resolve_base
    from tunegate.trainers.data import read_chats, tokenize

    path = resolve_base(base)
    tok = AutoTokenizer.from_pretrained(path)
    examples, _ = tokenize(tok, read_chats(TRAIN), 384)
    data = [
        {"input_ids": list(e.input_ids), "labels": list(e.labels), "attention_mask": [1] * len(e.input_ids)}
        for e in examples
    ]
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    torch.manual_seed(0)
    model = get_peft_model(
        model,
        LoraConfig(
            r=16,
            lora_alpha=32,
            lora_dropout=0.05,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            task_type="CAUSAL_LM",
        ),
    )
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=8,
        gradient_accumulation_steps=2,
        max_steps=steps,
        learning_rate=2e-4,
        bf16=True,
        use_cpu=not torch.cuda.is_available(),
        report_to=[],
        save_strategy="no",
        logging_steps=steps,
        seed=0,
        dataloader_num_workers=0,
    )
    collator = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=collator)
    counted = {"tokens": 0}
    orig = trainer.training_step

    def step(model, inputs, *a, **k):  # type: ignore[no-untyped-def]
        counted["tokens"] += int(inputs["attention_mask"].sum())
        return orig(model, inputs, *a, **k)

    trainer.training_step = step  # type: ignore[method-assign]
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    return {
        "tokens": counted["tokens"],
        "seconds": round(seconds, 2),
        "tokens_per_s": round(counted["tokens"] / seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--base", default="smollm2-135m-instruct")
    ap.add_argument("--skip-hf", action="store_true")
    args = ap.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        result: dict[str, object] = {
            "steps": args.steps,
            "micro_batch": 8,
            "batch": 16,
            "threads": torch.get_num_threads(),
            "load_avg": os.getloadavg(),
        }
        result["tunegate_lora_bf16"] = ours(args.base, args.steps, "none", t / "a")
        result["tunegate_qlora_nf4"] = ours(args.base, args.steps, "nf4", t / "b")
        if not args.skip_hf:
            result["transformers_trainer_lora_bf16"] = plain_trainer(args.base, args.steps, t / "c")
            result["ratio_vs_transformers_trainer"] = round(
                result["tunegate_lora_bf16"]["tokens_per_s"]
                / result["transformers_trainer_lora_bf16"]["tokens_per_s"],
                2,  # type: ignore[index]
            )
        result["ratio_qlora_vs_lora"] = round(
            result["tunegate_qlora_nf4"]["tokens_per_s"] / result["tunegate_lora_bf16"]["tokens_per_s"],
            2,  # type: ignore[index]
        )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
