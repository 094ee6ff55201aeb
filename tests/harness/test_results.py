from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.results import apply_holm_dicts, build_results, merge_partials, run_verdict, write_json_atomic


def _comp(cid: str, p: float, verdict: str = "IMPROVED", gate: str = "improves", passed: bool = True, **kw: Any) -> dict[str, Any]:
    return {"id": cid, "suite": "s", "metric": cid, "candidate": "candidate", "p_value": p, "verdict": verdict,
            "passed": passed, "gate": {"type": gate, "alpha": 0.05}, "delta": 0.1, "ci_low": 0.0, "ci_high": 0.2, **kw}


def test_holm_revokes_claims_that_do_not_survive() -> None:
    comps = [_comp("a", 0.001), _comp("b", 0.04), _comp("c", 0.03), _comp("d", 0.5, gate="no_regression")]
    lost = apply_holm_dicts(comps)
    assert lost == ["b", "c"]  # 3 claims: 0.04*2=0.08 and 0.03*2=0.06 are >= 0.05 after Holm
    assert comps[0]["verdict"] == "IMPROVED" and abs(comps[0]["p_adjusted"] - 0.003) < 1e-12
    assert comps[1]["verdict"] == "INCONCLUSIVE" and not comps[1]["passed"]
    assert "Holm" in comps[1]["message"]
    assert "p_adjusted" not in comps[3]


def test_run_verdict_vocabulary() -> None:
    ok = [_comp("a", 0.001)]
    assert run_verdict(ok, 0, [])["status"] == "PASS"
    bad = [_comp("a", 0.5, verdict="REGRESSED", passed=False)]
    v = run_verdict(bad, 1, [])
    assert v["status"] == "FAIL" and v["failed"] == ["a"] and "REGRESSED" in v["reason"]
    advisory = [_comp("a", 0.001), _comp("j", 0.5, verdict="REGRESSED", passed=False, advisory=True)]
    assert run_verdict(advisory, 0, [])["status"] == "ADVISORY"
    assert run_verdict(ok, 3, [])["status"] == "ERROR"
    assert run_verdict([], 0, [])["status"] == "ERROR"


def test_merge_partials_from_workers_and_write(tmp_path: Path) -> None:
    item = {"id": "q1", "messages": [], "reference": "x", "tags": {}, "group": None}
    w1 = {"comparisons": [_comp("a", 0.001)], "items": {"s": {"q1": {**item, "outputs": {"base": "x"}, "scores": {"m": {"base": 1.0}}}}},
          "models": {"base": {"label": "base", "fingerprint": "f"}}, "cache": {"hits": 2, "misses": 1}}
    w2 = {"comparisons": [_comp("b", 0.002)], "items": {"s": {"q1": {**item, "outputs": {"candidate": "y"}, "scores": {"m": {"candidate": 0.0}}}}},
          "models": {"candidate": {"label": "candidate", "fingerprint": "g"}}, "cache": {"hits": 1, "misses": 0}}
    merged = merge_partials([w1, w2])
    results = build_results(merged, options={"seed": 0, "alpha": 0.05}, started=0.0, exitstatus=0, command="pytest")
    row = results["items"]["s"][0]
    assert row["outputs"] == {"base": "x", "candidate": "y"}
    assert row["scores"]["m"] == {"base": 1.0, "candidate": 0.0}
    assert results["cache"]["hits"] == 3 and abs(results["cache"]["hit_rate"] - 0.75) < 1e-12
    assert [c["id"] for c in results["comparisons"]] == ["a", "b"]
    assert results["verdict"]["status"] == "PASS"
    write_json_atomic(tmp_path / "results.json", results)
    assert json.loads((tmp_path / "results.json").read_text())["schema_version"] == 1
    assert not list(tmp_path.glob(".results.json.*"))
