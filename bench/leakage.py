"""Benchmark of the leakage check at scale: synthetic training JSONL streamed to a temp file.

    python bench/leakage.py                      # 1,000,000 training lines x 10,000 eval items
    python bench/leakage.py --train-lines 100000 --eval-items 2000

Training lines are chat examples of about 40 words (a system turn, a user e-mail opening with
one of a few stock phrases, a reply); 30% of e-mails close with the same 15-word sign-off, so
the boilerplate rule is exercised at scale. Eval items come from the same generator. Leaks are
planted at random lines: exact copies (case and punctuation changed), near duplicates (one word
changed), edited copies (three words changed and two swapped), 13-gram overlaps (a run of an eval prompt inside a reply), containment (an eval prompt
with one word changed inside a long document) and short items (the PaLM rule). Prints one JSON
object: timings, peak RSS, throughput, and planted vs found per kind.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tunegate.harness.data import EvalItem, Message, Suite  # noqa: E402
from tunegate.harness.leakage import LeakageConfig, check_leakage  # noqa: E402

OPENERS = [
    "hello i have a question about my bill",
    "hi there i was charged twice this month",
    "good morning my invoice looks wrong",
    "dear support team please help me with",
    "i would like to cancel my subscription because",
    "my account was locked after i tried",
    "can you explain why my payment failed",
    "i never received the refund you promised for",
]
SIGN_OFF = "thank you for your help i look forward to hearing from you soon best regards"
SYSTEM = "You are a helpful support agent. Answer politely and follow the style guide."
KINDS = ("exact", "near_duplicate", "edited", "ngram", "containment", "short")


def vocabulary(rng: np.random.Generator, size: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 10, size)
    words = np.array(["".join(rng.choice(letters, n)) for n in lengths], dtype=object)
    weights = 1.0 / np.arange(1, size + 1) ** 1.05  # Zipf-like, as natural text
    return words, weights / weights.sum()


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.words, self.p = vocabulary(self.rng)

    def phrases(self, count: int, length: int) -> list[str]:
        idx = self.rng.choice(len(self.words), size=(count, length), p=self.p)
        return [" ".join(row) for row in self.words[idx]]

    def emails(self, count: int, length: int = 20) -> list[str]:
        bodies = self.phrases(count, length)
        openers = self.rng.integers(0, len(OPENERS), count)
        signed = self.rng.random(count) < 0.3
        return [
            f"{OPENERS[o].capitalize()}, {b}." + (f" {SIGN_OFF.capitalize()}." if s else "")
            for o, b, s in zip(openers.tolist(), bodies, signed.tolist(), strict=True)
        ]


def chat_line(prompt: str, answer: str) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": answer},
            ]
        }
    )


def change_one_word(text: str, rng: np.random.Generator, *, at_end: bool) -> str:
    words = text.split()
    k = len(words) - 1 if at_end else int(rng.integers(len(words) // 3, 2 * len(words) // 3))
    words[k] = "zzqx"
    return " ".join(words)


def edit_words(text: str) -> str:
    """Three words changed, at a quarter, a half and three quarters, and two neighbours swapped."""
    words = text.split()
    n = len(words)
    for j, k in enumerate((n // 4, n // 2, 3 * n // 4)):
        words[k] = f"zzqx{j}"
    words[2], words[3] = words[3], words[2]
    return " ".join(words)


def build_eval(gen: Generator, n_items: int, n_short: int) -> Suite:
    prompts = gen.emails(n_items - n_short) + [p.capitalize() + "?" for p in gen.phrases(n_short, 10)]
    items = tuple(
        EvalItem(id=f"eval-{i:05d}", messages=(Message("user", p),), reference=f"reply {i}")
        for i, p in enumerate(prompts)
    )
    return Suite("bench/eval", items)


def plant(gen: Generator, suite: Suite, per_kind: int, n_short: int) -> dict[str, dict[str, str]]:
    """Leaked training texts per kind: {kind: {eval id: training line}}."""
    rng = gen.rng
    long_items = [it for it in suite.items[: len(suite) - n_short]]
    short_items = list(suite.items[len(suite) - n_short :])
    chosen = rng.choice(len(long_items), size=5 * per_kind, replace=False).tolist()
    groups = [chosen[k * per_kind : (k + 1) * per_kind] for k in range(5)]
    filler = gen.phrases(8 * per_kind, 20)
    out: dict[str, dict[str, str]] = {k: {} for k in KINDS}
    for i in groups[0]:
        it = long_items[i]
        out["exact"][it.id] = chat_line(it.prompt.upper().replace(",", " ;"), "Sure, I can help with that.")
    for i in groups[1]:
        it = long_items[i]
        out["near_duplicate"][it.id] = chat_line(change_one_word(it.prompt, rng, at_end=True), filler.pop())
    for i in groups[2]:
        it = long_items[i]
        run = " ".join(it.prompt.split()[5:19])
        out["ngram"][it.id] = chat_line(gen.emails(1)[0], f"{filler.pop()} you wrote: {run} {filler.pop()}")
    for i in groups[3]:
        it = long_items[i]
        inner = change_one_word(it.prompt, rng, at_end=False)
        out["containment"][it.id] = chat_line(f"{filler.pop()} forwarded message {inner} end", filler.pop())
    for i in groups[4]:
        it = long_items[i]
        out["edited"][it.id] = chat_line(edit_words(it.prompt), filler.pop())
    for it in short_items[: min(per_kind, len(short_items))]:
        out["short"][it.id] = chat_line(f"{it.prompt} {filler.pop()}", "ok")
    return out


def write_training(gen: Generator, path: Path, n_lines: int, leaks: list[str], chunk: int = 20_000) -> None:
    positions = set(gen.rng.choice(n_lines, size=len(leaks), replace=False).tolist())
    pending = list(leaks)
    with path.open("w", encoding="utf-8") as fh:
        for lo in range(0, n_lines, chunk):
            count = min(chunk, n_lines - lo)
            prompts = gen.emails(count)
            answers = gen.phrases(count, 18)
            lines = []
            for k, (p, a) in enumerate(zip(prompts, answers, strict=True)):
                lines.append(
                    pending.pop() if lo + k in positions and pending else chat_line(p, a.capitalize() + ".")
                )
            fh.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train-lines", type=int, default=1_000_000)
    ap.add_argument("--eval-items", type=int, default=10_000)
    ap.add_argument("--per-kind", type=int, default=10, help="planted leaks per kind")
    ap.add_argument("--batch-lines", type=int, default=LeakageConfig().batch_lines)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="write the training file here and keep it")
    args = ap.parse_args(argv)

    gen = Generator(args.seed)
    n_short = max(args.per_kind, args.eval_items // 20)
    suite = build_eval(gen, args.eval_items, n_short)
    planted = plant(gen, suite, args.per_kind, n_short)
    leaks = [line for per_id in planted.values() for line in per_id.values()]
    tmpdir = tempfile.TemporaryDirectory(prefix="tunegate-bench-")
    path = args.keep or Path(tmpdir.name) / "train.jsonl"
    t0 = time.perf_counter()
    write_training(gen, path, args.train_lines, leaks)
    generate_s = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    report = check_leakage([path], [suite], config=LeakageConfig(batch_lines=args.batch_lines))
    check_s = time.perf_counter() - t0
    check_cpu_s = time.process_time() - cpu0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    flags = report.flags(suite)
    planted_ids = {i for per_id in planted.values() for i in per_id}
    found = {
        kind: {"planted": len(ids), "found": sum(flags[i].leaked for i in ids), "flags": _tally(flags, ids)}
        for kind, ids in planted.items()
    }
    false_pos = sorted((it for it in report.flagged() if it.id not in planted_ids), key=lambda it: it.id)
    print(
        json.dumps(
            {
                "train_lines": args.train_lines,
                "eval_items": args.eval_items,
                "train_file_mb": round(os.path.getsize(path) / 2**20, 1),
                "generate_s": round(generate_s, 1),
                "check_s": round(check_s, 1),
                "check_cpu_s": round(check_cpu_s, 1),
                "lines_per_s": round(args.train_lines / check_s),
                "lines_per_cpu_s": round(args.train_lines / check_cpu_s),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "rss_before_check_mb": round(rss_before / 1024, 1),
                "planted": sum(len(v) for v in planted.values()),
                "found_planted": sum(v["found"] for v in found.values()),
                "false_positives": len(false_pos),
                "false_positive_examples": [
                    {"id": it.id, "flag": it.flag, "reason": it.reason, "excerpt": it.excerpt}
                    for it in false_pos[:5]
                ],
                "by_kind": found,
                "counts": report.counts(),
                "passed": report.passed,
            },
            indent=2,
        )
    )
    tmpdir.cleanup()
    return 0


def _tally(flags: dict, ids: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in ids:
        out[flags[i].flag] = out.get(flags[i].flag, 0) + 1
    return out


if __name__ == "__main__":
    raise SystemExit(main())
