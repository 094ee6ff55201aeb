"""Benchmark of the paired statistics at scale, and of scoring with every registered metric.

    python bench/stats.py                         # 10,000 resamples x 10,000 items
    python bench/stats.py --items 2000 --resamples 2000 --score-items 200
    python bench/stats.py --runs 1000             # and the calibration table, 1000 runs each

Times (best of ``--repeat``) the paired bootstrap of binary and continuous scores, the corpus
bootstrap and approximate randomization on BLEU-like statistics (9 per item: reference length,
matched and total n-grams for n = 1..4), the sign-flip test, and scoring ``--score-items``
synthetic items with each metric in ``tunegate.harness.metrics.base.METRICS``. Factories that need
arguments without defaults are skipped and named. ``paired_test_n500`` times one gate's
statistics (test + interval + shifted-null p) at n = 500 on each path (paired t, bootstrap-t
with sign flips, clustered t, group jackknife). With ``--runs R`` (R > 0) it adds the
calibration table of ``tunegate.harness.stats.calibration``: per scenario, the false IMPROVED and false
REGRESSED rates at true delta 0 and the false NON_INFERIOR rate at true delta -margin over R
simulated comparisons, the Monte-Carlo bound alpha + 3 sqrt(alpha (1 - alpha) / R) and ``ok``.
With ``--edges R`` it adds the edge cells (``tunegate.harness.stats.edge_cases``):
unequal, geometric and skewed groups, heavy-tailed and sparse deltas, R simulated runs each
through ``compare_scores`` and the gates; binary margins at n = 41-300 and sparse Likert
deltas by exact enumeration; and the power table (R runs per cell) beside the textbook test.
Prints one JSON object (and, with ``--edges``, each edge row on stderr as it is done).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tunegate.harness.data import EvalItem, Message  # noqa: E402
from tunegate.harness.stats import (  # noqa: E402
    approximate_randomization,
    corpus_bootstrap,
    paired_bootstrap,
    paired_test,
    sign_flip_test,
)
from tunegate.harness.stats.calibration import calibrate, ratio, scenarios  # noqa: E402
from tunegate.harness.stats.edge_cases import (  # noqa: E402
    binary_exact_size,
    calibrate_cell,
    cells,
    likert_exact_size,
    power_cell,
    power_cells,
)


def bleu_like(sums: np.ndarray) -> np.ndarray:
    """BLEU from summed stats [ref_len, match_1..4, total_1..4] (hypothesis length = total_1)."""
    sums = np.asarray(sums, dtype=float)
    ref_len, match, total = sums[..., 0], sums[..., 1:5], sums[..., 5:9]
    hyp_len = total[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_prec = np.log(np.maximum(match, 0.5) / np.maximum(total, 1.0)).mean(axis=-1)
        brevity = np.where(hyp_len < ref_len, 1.0 - ref_len / np.maximum(hyp_len, 1.0), 0.0)
    return 100.0 * np.exp(log_prec + brevity)


def _best(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Best wall and process-CPU seconds of ``repeat`` runs (CPU time is steadier on a shared machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"wall_s": round(min(wall), 4), "cpu_s": round(min(cpu), 4)}


def bench_gate_stats(repeat: int, n: int = 500) -> dict[str, Any]:
    """One gate's statistics at n items: the test, the 90% interval and a shifted-null p."""
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.8, n)
    groups = [f"g{i // 10}" for i in range(n)]
    total = rng.integers(5, 30, n)
    sb = np.c_[rng.binomial(total, 0.6), total].astype(float)
    sc = np.c_[rng.binomial(total, 0.62), total].astype(float)
    cases: dict[str, dict[str, Any]] = {
        "paired_t": {"kind": "continuous", "candidate": base + rng.normal(0.01, 0.2, n)},
        "bootstrap_t_skewed": {
            "kind": "continuous",
            "candidate": base + np.where(rng.random(n) < 0.1, -0.9, 0.1),
        },
        "bootstrap_t_continuous_skewed": {
            "kind": "continuous",
            "candidate": base + rng.lognormal(-3, 1.5, n),
        },
        "clustered_t": {"kind": "continuous", "candidate": base + rng.normal(0, 0.2, n), "groups": groups},
        "group_jackknife_corpus": {
            "kind": "corpus",
            "candidate": sc[:, 0] / total,
            "base": sb[:, 0] / total,
            "base_stats": sb,
            "cand_stats": sc,
            "corpus": ratio,
            "groups": groups,
        },
    }
    out: dict[str, Any] = {}
    for name, case in cases.items():
        kind, cand = case.pop("kind"), case.pop("candidate")
        b = case.pop("base", base)

        def one(kind: Any = kind, b: Any = b, cand: Any = cand, case: dict[str, Any] = case) -> None:
            res = paired_test(kind, b, cand, n_resamples=10_000, rng=0, **case)
            res.confidence_interval(0.9, "two-sided")
            res.pvalue_at(-0.05, "greater")

        res = paired_test(kind, b, cand, n_resamples=10_000, rng=0, **case)
        out[name] = {"test": res.test, **_best(one, repeat)}
    return out


def bench_calibration(runs: int) -> dict[str, Any]:
    start = time.perf_counter()
    table = [calibrate(s, runs) for s in scenarios()]
    return {
        "runs": runs,
        "all_ok": all(row["ok"] for row in table),
        "seconds": round(time.perf_counter() - start, 1),
        "table": table,
    }


BINARY_EXACT_N = (41, 60, 100, 200, 300)
LIKERT_EXACT_N = (10, 30)


def _progress(row: dict[str, Any]) -> dict[str, Any]:
    """Each row on stderr as it is done: a long run keeps its figures if it is stopped."""
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def bench_edges(runs: int) -> dict[str, Any]:
    """Issue 22's cells: simulated (``runs`` each), exact by enumeration, and power."""
    start = time.perf_counter()
    simulated = [_progress(calibrate_cell(c, runs)) for c in cells()]
    exact = [_progress(binary_exact_size(n, null)) for n in BINARY_EXACT_N for null in (0.05, -0.05)]
    exact += [_progress(likert_exact_size(n)) for n in LIKERT_EXACT_N]
    power = [_progress(power_cell(c, effect, runs)) for c, effect in power_cells()]
    return {
        "runs": runs,
        "all_ok": all(r["ok"] for r in simulated + exact),
        "seconds": round(time.perf_counter() - start, 1),
        "simulated": simulated,
        "exact": exact,
        "power": power,
    }


def bench_resampling(n: int, resamples: int, repeat: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    b_bin = (rng.random(n) < 0.7).astype(float)
    c_bin = np.where(rng.random(n) < 0.1, 1.0 - b_bin, b_bin)
    b_cont = rng.random(n)
    c_cont = np.clip(b_cont + rng.normal(0.01, 0.1, n), 0, 1)
    ref_len = rng.integers(5, 40, n)
    hyp_len = np.maximum(ref_len + rng.integers(-5, 6, n), 4)
    totals = np.stack([np.maximum(hyp_len - k, 0) for k in range(4)], axis=1)

    def stats(p: float) -> np.ndarray:
        match = rng.binomial(totals, p ** (1 + np.arange(4) / 2))
        return np.column_stack([ref_len, match, totals]).astype(float)

    s_base, s_cand = stats(0.55), stats(0.57)
    kw: dict[str, Any] = {"n_resamples": resamples, "rng": 0}
    return {
        "paired_bootstrap_binary": _best(lambda: paired_bootstrap(b_bin, c_bin, **kw), repeat),
        "paired_bootstrap_continuous": _best(lambda: paired_bootstrap(b_cont, c_cont, **kw), repeat),
        "sign_flip_continuous": _best(lambda: sign_flip_test(b_cont, c_cont, **kw), repeat),
        "corpus_bootstrap_bleu9": _best(lambda: corpus_bootstrap(s_base, s_cand, bleu_like, **kw), repeat),
        "approx_randomization_bleu9": _best(
            lambda: approximate_randomization(s_base, s_cand, bleu_like, n_ci_resamples=0, **kw), repeat
        ),
        "bleu9_delta": round(float(bleu_like(s_cand.sum(0)) - bleu_like(s_base.sum(0))), 4),
    }


CATEGORIES = ("billing", "refund", "cancellation", "technical")
WORDS: tuple[str, ...] = (
    "thank",
    "you",
    "for",
    "writing",
    "we",
    "have",
    "checked",
    "your",
    "account",
    "and",
    "the",
)
WORDS += ("charge", "will", "be", "refunded", "within", "days", "please", "reply", "to", "this", "mail")


def synthetic_items(n: int, seed: int = 0) -> tuple[list[EvalItem], list[str]]:
    """Support-style items with a plain-text reply as reference; outputs change ~20% of its words."""
    rng = np.random.default_rng(seed)
    items, outputs = [], []
    for i in range(n):
        cat = CATEGORIES[i % len(CATEGORIES)]
        reply = " ".join(rng.choice(WORDS, size=int(rng.integers(8, 20))))
        items.append(
            EvalItem(
                id=f"s-{i:05d}",
                messages=(Message("user", f"Customer e-mail number {i} about {cat}."),),
                reference=reply,
                tags={"category": cat},
            )
        )
        words = reply.split()
        outputs.append(" ".join(w if rng.random() < 0.8 else str(rng.choice(WORDS)) for w in words))
    return items, outputs


def bench_metrics(n: int) -> dict[str, Any]:
    try:
        import tunegate.harness.metrics  # noqa: F401  (registers the built-in metrics)
        from tunegate.harness.metrics.base import METRICS
    except Exception as exc:  # a metric module under construction must not hide the stats figures
        return {"error": f"{type(exc).__name__}: {exc}"}
    items, outputs = synthetic_items(n)
    timed: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in METRICS.names():
        factory = METRICS.get(name)
        required = [
            p.name
            for p in inspect.signature(factory).parameters.values()
            if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if required:
            skipped[name] = f"needs argument(s) {required}"
            continue
        try:
            metric = factory()
            start = time.perf_counter()
            scores = metric.score(items, outputs)
            elapsed = time.perf_counter() - start
        except Exception as exc:
            skipped[name] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        values = np.asarray(scores.values, dtype=float)
        timed[name] = {
            "kind": metric.kind,
            "first_call_s": round(elapsed, 4),  # includes loading any model the metric needs
            "items_per_s": round(n / elapsed, 1) if elapsed > 0 else None,
            "mean": round(float(np.nanmean(values)), 4) if np.isfinite(values).any() else None,
            "failed": int((~np.isfinite(values)).sum()),
        }
    return {"items": n, "timed": timed, "skipped": skipped}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--score-items", type=int, default=1_000)
    ap.add_argument("--no-metrics", action="store_true", help="skip the metric scoring section")
    ap.add_argument("--runs", type=int, default=0, help="calibration table with this many runs per scenario")
    ap.add_argument(
        "--edges",
        type=int,
        default=0,
        help="the edge cells (unequal and skewed groups, heavy tails, sparse scales, binary margins) and power table, this many runs each",
    )
    ap.add_argument("--only-edges", action="store_true", help="print only the edge cells (no timings)")
    args = ap.parse_args(argv)
    if args.only_edges:
        print(json.dumps({"edges": bench_edges(args.edges or 1000)}, indent=2))
        return 0
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "items": args.items,
        "resamples": args.resamples,
        "resampling": bench_resampling(args.items, args.resamples, args.repeat),
        "paired_test_n500": bench_gate_stats(args.repeat),
    }
    if not args.no_metrics:
        report["metrics"] = bench_metrics(args.score_items)
    if args.runs > 0:
        report["calibration"] = bench_calibration(args.runs)
    if args.edges > 0:
        report["edges"] = bench_edges(args.edges)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
