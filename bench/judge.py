"""Judge throughput: N judgments against a local API server with fixed latency, sequential vs concurrent.

    python bench/judge.py                      # 200 judgments, 200 ms latency, openai wire format
    python bench/judge.py --provider anthropic --concurrency 32 --fault-rate 0.3

Prints one JSON object. The server is tests/fakeserver.py (the real SDK speaks to it over HTTP);
the cache is off so every judgment is a request. The speedup comes from the per-provider
asyncio semaphore: with latency L, sequential time is about N * L and concurrent time about
N * L / concurrency.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.fakeserver import FakeServer, Faults  # noqa: E402
from tests.judges.routes import anthropic_judge, openai_judge  # noqa: E402
from tunegate.harness.data import EvalItem, Message  # noqa: E402
from tunegate.harness.retry import RetryPolicy  # noqa: E402
from tunegate.judges import Judge  # noqa: E402

KEY_ENV = "TUNEGATE_BENCH_FAKE_KEY"  # the fake server accepts any key; no real key is read


def run_once(provider: str, n: int, concurrency: int, faults: Faults) -> dict[str, Any]:
    path, route = (
        ("/v1/messages", anthropic_judge())
        if provider == "anthropic"
        else ("/v1/chat/completions", openai_judge())
    )
    items = [
        EvalItem(id=f"b-{i}", messages=(Message("user", f"Billing email {i}: I was charged twice."),))
        for i in range(n)
    ]
    outputs = [
        f"Hello,\n\nWe refunded charge {i}. You will see it within 5 days.\n\n— The Billing Team"
        for i in range(n)
    ]
    with FakeServer({path: route}, faults=faults) as server, tempfile.TemporaryDirectory() as cache:
        base_url = server.url if provider == "anthropic" else server.url + "/v1"
        judge = Judge(
            provider,
            "bench-model",
            cache_dir=cache,
            use_cache=False,
            concurrency=concurrency,
            retry=RetryPolicy(max_retries=10, base_delay=0.01, max_delay=0.1),
            options={"base_url": base_url, "api_key_env": KEY_ENV, "timeout": 5.0},
        )
        t0 = time.perf_counter()
        scores = judge.rubric("support_style").score(items, outputs)
        wall = time.perf_counter() - t0
        return {
            "wall_s": round(wall, 3),
            "failed": sum(f is not None for f in scores.failures),
            "requests": server.counts.total(),
            "peak_in_flight": max(server.peak_in_flight.values(), default=0),
            "retries": judge.stats()["retry"]["retries"],
            "values": scores.values.tolist(),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=["openai", "anthropic"], default="openai")
    parser.add_argument("--n", type=int, default=200, help="judgments")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency per request, seconds")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--target", type=float, default=8.0, help="speedup the bench expects")
    args = parser.parse_args(argv)
    os.environ[KEY_ENV] = "bench-not-a-real-key"
    faults = Faults(rate=args.fault_rate, seed=3, latency_s=args.latency, retry_after=0.05, timeout_s=10.0)
    sequential = run_once(args.provider, args.n, 1, faults)
    concurrent = run_once(args.provider, args.n, args.concurrency, faults)
    speedup = sequential["wall_s"] / concurrent["wall_s"]
    result = {
        "bench": "judge_concurrency",
        "provider": args.provider,
        "judgments": args.n,
        "latency_s": args.latency,
        "fault_rate": args.fault_rate,
        "concurrency": args.concurrency,
        "sequential_s": sequential["wall_s"],
        "concurrent_s": concurrent["wall_s"],
        "speedup": round(speedup, 2),
        "target_speedup": args.target,
        "met_target": speedup >= args.target,
        "identical_results": sequential["values"] == concurrent["values"],
        "failed": {"sequential": sequential["failed"], "concurrent": concurrent["failed"]},
        "requests": {"sequential": sequential["requests"], "concurrent": concurrent["requests"]},
        "peak_in_flight": {
            "sequential": sequential["peak_in_flight"],
            "concurrent": concurrent["peak_in_flight"],
        },
        "retries": {"sequential": sequential["retries"], "concurrent": concurrent["retries"]},
    }
    print(json.dumps(result, indent=2))
    return 0 if result["met_target"] and result["identical_results"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
