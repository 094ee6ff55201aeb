"""Leakage and forgetting as run features, in a project that is not this repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TOY = [
    {"id": f"q{i}", "messages": [{"role": "user", "content": f"Name the colour number {i} of the rainbow."}],
     "reference": "red"}
    for i in range(10)
]
SUITE = '''
from pathlib import Path
from tunegate.harness import metrics
from tunegate.harness.data import load_suite

SUITE = load_suite(Path(__file__).parent / "toy.jsonl", name="toy", max_new_tokens=6)

def test_toy(compare):
    compare(SUITE, metrics.exact_match()).assert_no_regression(margin=0.5)
'''


@pytest.mark.slow
def test_train_data_and_forgetting_switch_fill_both_sections(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    (pytester.path / "toy.jsonl").write_text("\n".join(json.dumps(x) for x in TOY) + "\n")
    pytester.makepyfile(test_own_suite=SUITE)
    pytester.makepyprojecttoml("[tool.tunegate]\nseed = 0\n")
    # The candidate's training data holds one of the suite's items verbatim: a planted leak.
    train = tmp_path / "train.jsonl"
    leaked = {"messages": [*TOY[3]["messages"], {"role": "assistant", "content": "red"}]}
    clean = [{"messages": [{"role": "user", "content": f"Spell the word number {i} backwards."},
                           {"role": "assistant", "content": "drow"}]} for i in range(30)]
    train.write_text("\n".join(json.dumps(x) for x in [leaked, *clean]) + "\n")
    report = tmp_path / "report"
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--base", str(tiny_model_dir), "--candidate", str(tiny_adapter_dir),
        "--dtype", "fp32", "--cache-dir", str(tmp_path / "cache"), "--train-data", str(train),
        "--forgetting", "--sample", "6", "--report", str(report),
    )
    out = res.stdout.str()
    results = json.loads((report / "results.json").read_text())
    assert results["leakage"] is not None and results["leakage"]["passed"] is False
    assert any(t["nodeid"].startswith("tunegate::leakage") and t["outcome"] == "failed" for t in results["tests"])
    assert results["forgetting"] is not None and results["forgetting"]["suites"]
    assert any(k.startswith("kl_gate[") for k in results["forgetting"])
    assert results["verdict"]["status"] == "FAIL" and "leakage" in results["verdict"]["reason"]
    assert res.ret == 1 and "Traceback" not in out
