"""tunegate's hf backend against lm-evaluation-harness (``lm_eval``, its ``hf`` model) on one workload.

Both sides get the same 200 chats (``workload`` of bench/generate.py), the same local checkpoint,
dtype, greedy decoding, ``max_new_tokens`` and torch thread count, and the same prompt text:
``render_prompt`` renders the chat once and lm-eval receives that text as a ``generate_until``
context with its own chat template off, so both tokenise to identical ids (checked and reported).
lm-eval stops on the end-of-turn string ``<|im_end|>`` (plus the model's EOS, which transformers
adds); tunegate stops on the EOS ids and strips them, so the texts can be compared one to one.

lm-eval runs in a process of its own, as its command does (glibc's default allocator, not the
one tunegate's hf backend sets for itself), with tunegate's batch size and, unless skipped, with
its default batch size (1, what ``lm_eval --model hf`` does unless told); the headline ``ratio``
(lm-eval wall / tunegate wall) is the same-batch one. A second lm-eval process with tunegate's
allocator settings gives ``ratio_same_allocator``. Then tunegate runs again through
``generate_cached`` on an empty cache (cold) and once more on the filled cache (warm). Prints one
JSON object.

    python bench/peer.py [--workload decode-heavy|prompt-heavy] [--n 200] [--max-new-tokens N]
                         [--batch-size 64] [--dtype auto] [--skip-batch1] [--invariance-n N]
                         [--skip-cached] [--skip-same-allocator]

Workloads (bench/generate.py ``WORKLOADS``): ``decode-heavy`` (the default: suite chats, 64 new
tokens, stop at end of turn) and ``prompt-heavy`` (seeded ~120-token classification prompts,
~10-token answers, stop at a newline). Both sides get the same stop strings; tokens are counted
alike on both sides: up to and including the token where a stop string (or EOS) completes.
The JSON also reports the bf16/fp32 matmul peak measured in the same run and the share of the
compute limit reached, batch invariance (texts identical across batch sizes 1, 8 and the main
run, and against one-prompt-at-a-time generation), and tunegate's peak RSS.

Needs lm-evaluation-harness (the ``peer`` extra): pip install 'lm-eval>=0.4.8'
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.generate import WORKLOADS  # noqa: E402
from tunegate.harness.data import Message  # noqa: E402
from tunegate.harness.models.base import Completion, GenerationParams, GenerationRequest, ModelSpec  # noqa: E402

END_OF_TURN = "<|im_end|>"
LM_EVAL_DTYPES = {"bf16": "bfloat16", "fp32": "float32", "fp16": "float16"}


def require_lm_eval() -> str:
    try:
        import lm_eval
    except ImportError:
        sys.exit(
            "bench/peer.py needs lm-evaluation-harness, which is not installed; "
            "install it with: pip install 'lm-eval>=0.4.8'"
        )
    return str(getattr(lm_eval, "__version__", "unknown"))


def counting_hflm(**kwargs: Any) -> Any:
    """An lm-eval ``HFLM`` that also counts what its ``model.generate`` calls compute.

    ``useful`` is the tokens each row really produced (up to and including its first EOS, as
    tunegate's ``Completion.n_tokens``); ``computed`` is rows x decode steps, which includes the
    steps a finished row keeps riding along until the whole batch stops.
    """
    from lm_eval.models.huggingface import HFLM

    class CountingHFLM(HFLM):  # type: ignore[misc]
        def reset_counts(self) -> None:
            self.counts = {"generate_calls": 0, "useful": 0, "computed": 0}
            self.by_context: dict[tuple[int, ...], int] = {}  # prompt ids (padding stripped) -> tokens

        def _model_generate(self, context: Any, max_length: int, stop: list[str], **kw: Any) -> Any:
            out = super()._model_generate(context, max_length, stop, **kw)
            new = out[:, context.shape[1] :].tolist()
            mask = kw.get("attention_mask")
            eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
            self.counts["generate_calls"] += 1
            self.counts["computed"] += len(new) * (len(new[0]) if new else 0)
            for r, row in enumerate(new):
                n = tokens_until_stop(self.tokenizer, row, eos, stop)
                self.counts["useful"] += n
                ids = context[r] if mask is None else context[r][mask[r].bool()]
                self.by_context[tuple(ids.tolist())] = n
            return out

    lm = CountingHFLM(**kwargs)
    lm.reset_counts()
    return lm


def tokens_until_stop(tokenizer: Any, row: Sequence[int], eos: set[int], stop: Sequence[str]) -> int:
    """Tokens a row really produced: up to and including its first EOS, or the token where a stop
    string first appears in the decoded text (tunegate's ``Completion.n_tokens``)."""
    for k, t in enumerate(row):
        if t in eos:
            return k + 1
        text = tokenizer.decode(row[max(0, k - 15) : k + 1], skip_special_tokens=False)
        if any(s and s in text for s in stop):
            return k + 1
    return len(row)


def lm_eval_instances(contexts: Sequence[str], max_new_tokens: int, stop: Sequence[str] = ()) -> list[Any]:
    """What a ``generate_until`` task hands the model, minus the task bookkeeping."""
    from lm_eval.api.instance import Instance

    gen = {"until": [*stop, END_OF_TURN], "max_gen_toks": max_new_tokens, "do_sample": False}
    return [
        Instance(request_type="generate_until", doc={"i": i}, arguments=(c, dict(gen)), idx=i)
        for i, c in enumerate(contexts)
    ]


def run_lm_eval(
    lm: Any, contexts: Sequence[str], max_new_tokens: int, stop: Sequence[str] = ()
) -> tuple[list[str], dict[str, Any]]:
    lm.reset_counts()
    instances = lm_eval_instances(contexts, max_new_tokens, stop)
    start = time.perf_counter()
    texts = [str(t) for t in lm.generate_until(instances, disable_tqdm=True)]
    seconds = time.perf_counter() - start
    c = lm.counts
    return texts, {
        "batch_size": lm.batch_size,
        "seconds": round(seconds, 2),
        "tokens": c["useful"],
        "tokens_per_s": round(c["useful"] / seconds, 1),
        "generate_calls": c["generate_calls"],
        "rows_x_steps": c["computed"],
        # Share of the decode work spent on rows that had already finished (batch padding).
        "finished_row_waste": round(1 - c["useful"] / c["computed"], 3) if c["computed"] else 0.0,
    }


def run_tunegate(
    backend: Any, requests: Sequence[GenerationRequest]
) -> tuple[list[Completion], dict[str, Any]]:
    start = time.perf_counter()
    outs = list(backend.generate(requests))
    seconds = time.perf_counter() - start
    tokens = sum(c.n_tokens for c in outs)
    return outs, {
        "batch_size": backend.batch_size,
        "seconds": round(seconds, 2),
        "tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 1),
    }


def cached_rerun(
    spec: ModelSpec, requests: Sequence[GenerationRequest], model_cache: str
) -> tuple[list[Completion], dict[str, Any]]:
    """tunegate through its response cache: once on an empty cache, once on the filled one.

    Each pass gets a fresh backend view and a fresh cache connection, as a new run would (the
    fingerprint is recomputed); the loaded weights are shared, so model loading is not timed.
    """
    from tunegate.harness.cache import ResponseCache
    from tunegate.harness.generation import generate_cached
    from tunegate.harness.models.hf import HFBackend

    timings: dict[str, float] = {}
    outs: dict[str, list[Completion]] = {}
    with tempfile.TemporaryDirectory(prefix="tunegate-peer-cache-") as tmp:
        for label in ("cold", "warm"):
            start = time.perf_counter()
            backend = HFBackend(spec, cache_dir=model_cache)
            cache = ResponseCache(tmp)
            try:
                outs[label] = generate_cached(backend, requests, cache)
            finally:
                cache.close()
            timings[label] = time.perf_counter() - start
    hits = sum(c.cached for c in outs["warm"])
    same = sum(a.text == b.text for a, b in zip(outs["cold"], outs["warm"], strict=True))
    pct = 100 * timings["warm"] / timings["cold"]
    return outs["cold"], {
        "cold_s": round(timings["cold"], 3),
        "warm_s": round(timings["warm"], 4),
        "warm_pct_of_cold": round(pct, 3),
        "target_pct": 5.0,
        "meets_target": pct < 5.0,
        "warm_hits": hits,
        "warm_identical_to_cold": same,
    }


def lm_eval_child(job_path: str) -> None:
    """The lm-eval side, in a process of its own (``--lm-eval-child JOB``): reads the job, prints
    one JSON object. Its allocator is glibc's default unless the job asks for tunegate's."""
    job = json.loads(Path(job_path).read_text())
    tuned = False
    if job["allocator"] == "tunegate":
        from tunegate.harness.models.runtime import keep_freed_memory

        tuned = keep_freed_memory()  # False where the user's MALLOC_* settings stand
    import torch

    torch.set_num_threads(job["threads"])
    contexts, stop, max_new = job["contexts"], job["stop"], job["max_new_tokens"]
    common = {"pretrained": job["pretrained"], "device": "cpu", "dtype": job["dtype"], "add_bos_token": False}
    out: dict[str, Any] = {}
    lm = counting_hflm(**common, batch_size=job["batch_size"])
    out["identical_input_ids"] = sum(
        lm.tok_batch_encode([c])[0][0].tolist() == ids for c, ids in zip(contexts, job["ids"], strict=True)
    )
    lm.generate_until(lm_eval_instances(contexts[:2], 4, stop), disable_tqdm=True)
    out["texts"], out["row"] = run_lm_eval(lm, contexts, max_new, stop)
    out["row"]["allocator"] = "tunegate's (keep_freed_memory)" if tuned else "glibc default (own process)"
    out["by_context"] = [[list(ids), n] for ids, n in lm.by_context.items()]
    if job["batch1"]:
        del lm
        lm1 = counting_hflm(**common)  # lm-eval's own default batch size
        lm1.generate_until(lm_eval_instances(contexts[:1], 4, stop), disable_tqdm=True)
        out["texts_batch1"], out["row_batch1"] = run_lm_eval(lm1, contexts, max_new, stop)
    print(json.dumps(out))


def run_lm_eval_process(job: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`lm_eval_child` in a fresh interpreter, as the ``lm_eval`` command runs."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="tunegate-peer-") as tmp:
        path = Path(tmp) / "job.json"
        path.write_text(json.dumps(job))
        proc = subprocess.run(
            [sys.executable, __file__, "--lm-eval-child", str(path)], capture_output=True, text=True
        )
    if proc.returncode != 0:
        sys.exit(f"the lm-eval process failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def matmul_peak(dtype: Any, size: int = 1024, seconds: float = 1.0) -> float:
    """GFLOP/s of a square matmul in ``dtype`` on this machine now (best of repeated runs)."""
    import torch

    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == float("inf"):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def invariance(
    backend: Any, requests: Sequence[GenerationRequest], main: Sequence[Completion], k: int
) -> dict[str, Any]:
    """Texts of the first ``k`` requests at batch sizes 1 and 8 and one request per call, against
    the main run (its own batch size, all requests)."""
    main_texts = [c.text for c in main[:k]]
    saved = backend.batch_size
    row: dict[str, Any] = {"prompts": k, "main_batch_size": saved}
    try:
        for bs in (8, 1):
            backend.batch_size = bs
            start = time.perf_counter()
            texts = [c.text for c in backend.generate(requests[:k])]
            row[f"batch_{bs}_identical"] = sum(a == b for a, b in zip(texts, main_texts, strict=True))
            row[f"batch_{bs}_seconds"] = round(time.perf_counter() - start, 2)
        per_item = [backend.generate([r])[0].text for r in requests[:k]]
        row["per_item_identical"] = sum(a == b for a, b in zip(per_item, main_texts, strict=True))
    finally:
        backend.batch_size = saved
    row["all_identical"] = all(
        row[key] == k for key in ("batch_8_identical", "batch_1_identical", "per_item_identical")
    )
    return row


def token_counts(
    ours: Sequence[Completion],
    theirs: Sequence[str],
    ours_ids: Sequence[Sequence[int]],
    by_context: dict[tuple[int, ...], int],
) -> dict[str, Any]:
    """Per item, tunegate's ``n_tokens`` against the tokens lm-eval's rows produced up to the stop
    (same rule, ``tokens_until_stop``). Where the two texts are identical the counts must be equal;
    where the texts differ (a bf16 near-tie broken the other way by lm-eval's kernels) they may not."""
    theirs_n = [by_context.get(tuple(ids)) for ids in ours_ids]
    same_text = [k for k, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a.text == b]
    unequal = [k for k in same_text if theirs_n[k] != ours[k].n_tokens]
    return {
        "tunegate": sum(c.n_tokens for c in ours),
        "lm_eval": sum(n or 0 for n in theirs_n),
        "items_matched_to_lm_eval_rows": sum(n is not None for n in theirs_n),
        "items_with_identical_text": len(same_text),
        "identical_text_and_equal_count": len(same_text) - len(unequal),
        "on_identical_texts": {
            "tunegate": sum(ours[k].n_tokens for k in same_text),
            "lm_eval": sum(theirs_n[k] or 0 for k in same_text),
        },
        "unequal_counts_on_identical_texts": [
            {"item": k, "tunegate": ours[k].n_tokens, "lm_eval": theirs_n[k]} for k in unequal[:10]
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="decode-heavy", choices=sorted(WORKLOADS))
    ap.add_argument("--n", type=int, default=200, help="prompts in the workload")
    ap.add_argument("--max-new-tokens", type=int, default=0, help="0: the workload's own (64 / 16)")
    ap.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="tunegate's batch size (decode slots) and lm-eval's (its batch-1 run aside)",
    )
    ap.add_argument("--skip-batch1", action="store_true", help="skip lm-eval at its default batch size 1")
    ap.add_argument(
        "--invariance-n",
        type=int,
        default=-1,
        help="prompts checked at batch 1, 8 and per item (-1: all, 0: skip)",
    )
    ap.add_argument("--skip-cached", action="store_true", help="skip the response-cache cold/warm passes")
    ap.add_argument(
        "--skip-same-allocator",
        action="store_true",
        help="skip lm-eval's second run with tunegate's allocator settings",
    )
    ap.add_argument("--lm-eval-child", metavar="JOB", help=argparse.SUPPRESS)
    ap.add_argument("--base", default="smollm2-135m-instruct")
    ap.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "bf16", "fp32"],
        help="both sides' dtype (auto: bf16 where the CPU has it)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads for both sides (0: the count the hf backend chooses from the usable, unbusy CPUs)",
    )
    args = ap.parse_args()
    if args.lm_eval_child:
        return lm_eval_child(args.lm_eval_child)
    lm_eval_version = require_lm_eval()
    load_before = os.getloadavg()

    import resource

    import torch
    import transformers

    from tunegate.harness.models.hf import HFBackend, _torch_dtype, resolve_dtype
    from tunegate.harness.models.resolve import default_cache_dir, resolve_base

    make_chats, default_new, stop = WORKLOADS[args.workload]
    max_new = args.max_new_tokens or default_new
    model_cache = str(default_cache_dir())
    model_dir = resolve_base(args.base, model_cache)
    dtype = resolve_dtype(args.dtype, "cpu")
    params = GenerationParams(max_new_tokens=max_new, stop=tuple(stop))
    requests = [
        GenerationRequest(str(i), tuple(Message(m["role"], m["content"]) for m in chat), params)
        for i, chat in enumerate(make_chats(args.n))
    ]
    # the hf backend applies the thread count (``--threads``, else its own choice from the usable,
    # unbusy CPUs); lm-eval then runs with the same count
    options: dict[str, Any] = {"batch_size": args.batch_size, "device": "cpu"}
    if args.threads:
        options["threads"] = args.threads
    spec = ModelSpec(args.base, dtype=args.dtype, options=options)
    backend = HFBackend(spec, cache_dir=model_cache)
    contexts = [backend.render(r.messages) for r in requests]
    ours_ids = [backend.engine.tokenizer(c, add_special_tokens=False)["input_ids"] for c in contexts]
    n_params = sum(p.numel() for p in backend.engine.model.parameters())

    # tunegate first, alone in the process: its peak RSS is its own.
    small = GenerationParams(max_new_tokens=4, stop=tuple(stop))
    backend.generate([GenerationRequest(r.id, r.messages, small) for r in requests[:2]])
    ours, ours_row = run_tunegate(backend, requests)
    ours_row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    inv_n = len(requests) if args.invariance_n < 0 else min(args.invariance_n, len(requests))
    invariance_row = invariance(backend, requests, ours, inv_n) if inv_n else None

    # lm-eval in a process of its own, as its command runs: its allocator is glibc's default,
    # not the one tunegate's hf backend sets for itself (keep_freed_memory). A second run gives
    # it tunegate's allocator settings too, so the JSON shows the ratio both ways.
    job: dict[str, Any] = {
        "pretrained": str(model_dir),
        "dtype": LM_EVAL_DTYPES[dtype],
        "batch_size": args.batch_size,
        "contexts": contexts,
        "ids": ours_ids,
        "stop": list(stop),
        "max_new_tokens": max_new,
        "threads": torch.get_num_threads(),
        "allocator": "default",
        "batch1": not args.skip_batch1,
    }
    lm_run = run_lm_eval_process(job)
    same_ids = lm_run["identical_input_ids"]
    theirs, theirs_row = lm_run["texts"], lm_run["row"]
    theirs_by_context = {tuple(ids): n for ids, n in lm_run["by_context"]}
    batch1_row: dict[str, Any] | None = lm_run.get("row_batch1")
    same_batch1: int | None = None
    if batch1_row is not None:
        same_batch1 = sum(a.text == b for a, b in zip(ours, lm_run["texts_batch1"], strict=True))
    same_alloc_row: dict[str, Any] | None = None
    if not args.skip_same_allocator:
        same_alloc_row = run_lm_eval_process({**job, "allocator": "tunegate", "batch1": False})["row"]
    cached_row: dict[str, Any] | None = None
    cold: list[Completion] | None = None
    if not args.skip_cached:
        cold, cached_row = cached_rerun(spec, requests, model_cache)

    peak = matmul_peak(_torch_dtype(dtype))
    prompt_tokens = sum(len(ids) for ids in ours_ids)
    flops = 2 * n_params * (prompt_tokens + ours_row["tokens"])
    limit_s = flops / (peak * 1e9)
    same = sum(a.text == b for a, b in zip(ours, theirs, strict=True))
    report: dict[str, Any] = {
        "workload": {
            "name": args.workload,
            "prompts": len(requests),
            "prompt_tokens": prompt_tokens,
            "max_new_tokens": max_new,
            "stop": list(stop),
            "batch_size": args.batch_size,
            "dtype": dtype,
            "model": args.base,
            "model_dir": str(model_dir),
            "identical_input_ids": same_ids,
        },
        "tunegate": ours_row,
        "lm_eval": theirs_row,
        "lm_eval_default_batch": batch1_row,
        "lm_eval_same_allocator": same_alloc_row,
        "ratio": round(theirs_row["seconds"] / ours_row["seconds"], 2),
        "ratio_same_allocator": round(same_alloc_row["seconds"] / ours_row["seconds"], 2)
        if same_alloc_row
        else None,
        "ratio_default_batch": round(batch1_row["seconds"] / ours_row["seconds"], 2) if batch1_row else None,
        "tokens": token_counts(ours, theirs, ours_ids, theirs_by_context),
        "identical_outputs": same,
        "identical_fraction": round(same / len(requests), 3),
        "identical_outputs_default_batch": same_batch1,
        "invariance": invariance_row,
        "compute_limit": {
            "matmul_peak_gflops": round(peak, 1),
            "parameters": n_params,
            "flops": flops,
            "limit_s": round(limit_s, 2),
            "tunegate_pct_of_limit": round(100 * limit_s / ours_row["seconds"], 1),
            "lm_eval_pct_of_limit": round(100 * limit_s / theirs_row["seconds"], 1),
        },
        "cached": cached_row,
        "cached_cold_identical_to_uncached": sum(a.text == b.text for a, b in zip(ours, cold, strict=True))
        if cold
        else None,
        "threads": torch.get_num_threads(),
        "loadavg": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "lm_eval": lm_eval_version,
        },
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
