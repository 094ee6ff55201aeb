"""Start-up time of a gating run: from launching ``pytest`` on a suite to the first generated token.

A throwaway project in a temp dir holds one suite file with one item (``max_new_tokens=1``) and one
test that gates it with the ``compare`` fixture and a character-count metric; the candidate is a
LoRA adapter for the base made there with peft (not timed). The bench runs

    python -m pytest <project> -p no:cacheprovider --base <base> --candidate <adapter> --no-cache -q

as a subprocess. The project's ``conftest.py`` notes the wall-clock time when the first
``generate`` call of the hf backend returns (the base's one token) and whether peft was imported
by then; ``pytest_first_token_s`` is that time minus the launch, ``pytest_wall_s`` the whole
process (which also has the candidate's token, teardown and the report). Then, in a fresh
subprocess, the phases one by one: ``import harness`` + the plugin module, torch/transformers
import, model load (``HFBackend`` construction, which resolves the base, loads the weights and the
tokenizer, + the first tokenisation), the first ``generate`` call (one prompt, one token), and
peft's import (what the candidate needs next; not part of the base's first token). The model's
GGUF materialisation is cached in the default cache dir, as on a second run on a developer's
machine. Prints one JSON object with each figure, the 5 s target and ``meets_target`` (on
``pytest_first_token_s``); run it twice and read the second (warm) figures.

    python bench/startup.py [--base smollm2-135m-instruct] [--dtype auto]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S = 5.0

QUESTION = "What is the capital of France?"
SUITE_ITEM: dict[str, object] = {
    "id": "q0",
    "messages": [{"role": "user", "content": QUESTION}],
    "reference": "Paris",
}

TEST_FILE = '''
from pathlib import Path

from tunegate.harness import metrics
from tunegate.harness.data import load_suite

SUITE = load_suite(Path(__file__).parent / "data" / "one.jsonl", max_new_tokens=1)


def test_first_token(compare):
    assert compare(SUITE, metrics.exact_match()).n == 1
'''

CONFTEST = '''
import json, os, sys, time

from tunegate.harness.models.hf import HFBackend

_generate = HFBackend.generate


def _noted(self, requests):
    out = _generate(self, requests)
    path = os.environ["TUNEGATE_BENCH_FIRST_TOKEN"]
    if not os.path.exists(path):
        with open(path, "w") as f:
            json.dump({"time": time.time(), "peft_imported": "peft" in sys.modules}, f)
    return out


HFBackend.generate = _noted
'''

PHASES = '''
import json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import tunegate.harness
import tunegate.shell.plugin
t1 = time.perf_counter()
import torch, transformers
t2 = time.perf_counter()
from tunegate.harness.data import Message
from tunegate.harness.models.base import GenerationParams, GenerationRequest, ModelSpec
from tunegate.harness.models.hf import HFBackend
from tunegate.harness.models.resolve import default_cache_dir
backend = HFBackend(ModelSpec({base!r}, dtype={dtype!r}), cache_dir=str(default_cache_dir()))
req = GenerationRequest("q0", (Message("user", {question!r}),), GenerationParams(max_new_tokens=1))
backend.engine.tokenizer(backend.render(req.messages), add_special_tokens=False)
t3 = time.perf_counter()
peft_before = "peft" in sys.modules
out = backend.generate([req])
t4 = time.perf_counter()
import peft
t5 = time.perf_counter()
print(json.dumps({{"import_harness_and_plugin_s": t1 - t0, "import_torch_transformers_s": t2 - t1,
                  "model_load_s": t3 - t2, "first_generate_s": t4 - t3, "dtype": backend.engine.dtype,
                  "tokens": out[0].n_tokens, "peft_imported_before_first_token": peft_before,
                  "then_import_peft": t5 - t4}}))
'''


def make_project(root: Path, base: str) -> tuple[Path, Path]:
    """The throwaway project (suite + test file) and a LoRA adapter for ``base``."""
    from bench.memory import make_adapter
    from tunegate.harness.models.resolve import resolve_base

    project = root / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "one.jsonl").write_text(json.dumps(SUITE_ITEM) + "\n")
    (project / "test_startup.py").write_text(TEST_FILE)
    (project / "conftest.py").write_text(CONFTEST)
    adapter = make_adapter(resolve_base(base), root / "adapter")
    return project, adapter


def time_pytest(project: Path, adapter: Path, base: str, dtype: str) -> tuple[float, dict[str, Any], int, str]:
    """The pytest process's wall time and, from its conftest, when its first token came back."""
    cmd = [sys.executable, "-m", "pytest", str(project), "-p", "no:cacheprovider", "--base", base,
           "--candidate", str(adapter), "--dtype", dtype, "--no-cache", "-q"]
    note = project / "first_token.json"
    env = {**os.environ, "TUNEGATE_BENCH_FIRST_TOKEN": str(note)}
    launched = time.time()
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=project, env=env)
    wall = time.perf_counter() - start
    first: dict[str, Any] = json.loads(note.read_text()) if note.exists() else {}
    if first:
        first["time"] = round(first["time"] - launched, 2)
    return wall, first, done.returncode, done.stdout[-2000:] + done.stderr[-2000:]


def time_phases(base: str, dtype: str) -> dict[str, Any]:
    code = PHASES.format(root=str(ROOT), base=base, dtype=dtype, question=QUESTION)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    phases: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in phases.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="smollm2-135m-instruct")
    ap.add_argument("--dtype", default="auto")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="tunegate-bench-startup-") as tmp:
        project, adapter = make_project(Path(tmp), args.base)
        wall, first, rc, tail = time_pytest(project, adapter, args.base, args.dtype)
        if rc != 0 or not first:
            sys.exit(f"pytest exited {rc} (first token noted: {bool(first)}):\n{tail}")
    phases = time_phases(args.base, args.dtype)
    in_process = sum(v for k, v in phases.items() if k.endswith("_s"))
    print(
        json.dumps(
            {
                "base": args.base,
                "pytest_first_token_s": first["time"],
                "pytest_peft_imported_before_first_token": first["peft_imported"],
                "pytest_wall_s": round(wall, 2),
                "phases_s": phases,
                "phases_total_to_first_token_s": round(in_process, 2),
                "target_s": TARGET_S,
                "meets_target": first["time"] <= TARGET_S,
                "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
