"""Run assembly: Holm across every claim, one decision function, per-candidate verdicts, the typed record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunegate.harness.compare import compare_scores
from tunegate.harness.errors import DataError, GateFailure
from tunegate.harness.metrics.base import MetricScores
from tunegate.harness.partial import merge_partials
from tunegate.harness.record import SCHEMA_VERSION, RunRecord
from tunegate.harness.results import build_results, write_json_atomic


def _comparison(suite: str, base: np.ndarray, cand: np.ndarray, gates: list[tuple[str, float]], *,
                label: str = "candidate", advisory: bool = False, kind: str = "binary") -> dict[str, Any]:
    comp = compare_scores(suite=suite, metric_name="m", kind=kind, ids=[f"{suite}-{i}" for i in range(len(base))],  # type: ignore[arg-type]
                          base=MetricScores(base), candidate=MetricScores(cand), candidate_label=label,
                          advisory=advisory)
    for gate, size in gates:
        try:
            if gate == "improves":
                comp.assert_improves(size)
            else:
                comp.assert_no_regression(size)
        except GateFailure:
            pass
    return {**comp.to_dict(), "nodeid": f"suite::{suite}"}


def _claim(suite: str, discordant_wins: int, *, n: int = 200, label: str = "candidate",
           gates: list[tuple[str, float]] | None = None, losses: int = 0) -> dict[str, Any]:
    """A binary comparison where the candidate wins ``discordant_wins`` items and loses ``losses``."""
    base = np.zeros(n)
    base[n - losses:] = 1.0
    cand = np.zeros(n)
    cand[:discordant_wins] = 1.0
    return _comparison(suite, base, cand, gates or [("improves", 0.0)], label=label)


def _partial(comps: list[dict[str, Any]], tests: list[dict[str, Any]] | None = None,
             labels: tuple[str, ...] = ("candidate",), no_effect: tuple[str, ...] = ()) -> dict[str, Any]:
    models = {"base": {"label": "base", "spec": {}}}
    models.update({lab: {"label": lab, "spec": {"adapter": f"/a/{lab}"}} for lab in labels})
    return {"comparisons": comps, "items": {}, "models": models, "suites": {}, "sections": {}, "judges": [],
            "adapter_checks": {lab: {"no_effect": True} for lab in no_effect}, "tests": tests or [], "cache": {}}


def _build(part: dict[str, Any], exitstatus: int = 0, **options: Any) -> dict[str, Any]:
    """results.json as written (the record's JSON form)."""
    return build_results(merge_partials([part]), options={"seed": 0, "alpha": 0.05, **options}, started=0.0,
                         exitstatus=exitstatus, command="pytest").to_json()


def test_holm_covers_every_claim_whatever_the_call_order() -> None:
    # Two suites whose improvement claims (6 wins, 1 loss of 200) have the exact unconditional
    # McNemar p = 0.0355 each: significant alone, not after Holm (0.0711).
    order_a = [_claim("s1", 6, losses=1, gates=[("improves", 0.0), ("no_regression", 0.05)]),
               _claim("s2", 6, losses=1, gates=[("improves", 0.0), ("no_regression", 0.05)])]
    order_b = [_claim("s1", 6, losses=1, gates=[("no_regression", 0.05), ("improves", 0.0)]),
               _claim("s2", 6, losses=1, gates=[("no_regression", 0.05), ("improves", 0.0)])]
    verdicts = []
    for comps in (order_a, order_b):
        r = _build(_partial(comps), exitstatus=0)
        claims = [g for c in r["comparisons"] for g in c["gates"] if g["type"] == "improves"]
        assert [round(g["p_adjusted"], 5) for g in claims] == [0.07107, 0.07107]
        assert all(g["verdict"] != "IMPROVED" and g["holm_family"] == 2 for g in claims)
        assert all("Holm" in g["message"] for g in claims)
        verdicts.append(r["verdict"]["status"])
    assert verdicts == ["FAIL", "FAIL"]


def test_strong_claim_survives_holm_and_run_passes() -> None:
    r = _build(_partial([_claim("s1", 40), _claim("s2", 30)]))
    assert r["verdict"]["status"] == "PASS"
    assert all(c["verdict"] == "IMPROVED" and c["p_adjusted"] is not None for c in r["comparisons"])
    assert all("Holm" in c["p_claim"] for c in r["comparisons"])


def test_regressed_row_shows_the_p_of_the_drop() -> None:
    base = np.ones(200)
    cand = base.copy()
    cand[:40] = 0.0
    r = _build(_partial([_comparison("s", base, cand, [("no_regression", 0.05)])]), exitstatus=1)
    c = r["comparisons"][0]
    assert c["verdict"] == "REGRESSED" and c["p_claim"].startswith("drop")
    assert c["p_value"] < 1e-10  # 40 losses, no wins: the drop is certain
    assert r["verdict"]["status"] == "FAIL" and "REGRESSED" in r["verdict"]["reason"]


def test_all_advisory_run_is_not_a_pass_unless_allowed() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(1, 6, 100).astype(float)
    comp = _comparison("s", base, base + 1, [("no_regression", 0.25)], advisory=True, kind="continuous")
    r = _build(_partial([comp]))
    assert r["verdict"]["status"] == "NO_BINDING_GATES" and "advisory" in r["verdict"]["reason"]
    assert _build(_partial([comp]), allow_advisory=True)["verdict"]["status"] == "PASS"


def test_advisory_failure_does_not_fail_a_run_with_binding_gates() -> None:
    rng = np.random.default_rng(2)
    base = rng.integers(1, 6, 100).astype(float)
    bad = _comparison("j", base, base - 1, [("no_regression", 0.25)], advisory=True, kind="continuous")
    r = _build(_partial([_claim("s", 40), bad]))
    assert r["verdict"]["status"] == "PASS" and "advisory" in r["verdict"]["reason"]


def test_failed_check_that_is_not_a_gate_fails_the_run() -> None:
    tests = [{"nodeid": "suites/test_leakage.py::test_leak", "outcome": "error", "message": "moved train file",
              "candidate": None, "gate_failure": False, "kind": "leakage"}]
    r = _build(_partial([_claim("s", 40)], tests), exitstatus=1)
    assert r["verdict"]["status"] == "FAIL" and "test_leak" in r["verdict"]["reason"]
    assert r["tests"][0]["outcome"] == "error"


def test_checks_alone_still_give_a_verdict() -> None:
    tests = [{"nodeid": "t::leak", "outcome": "passed", "message": "", "candidate": None, "gate_failure": False,
              "kind": "leakage"}]
    assert _build(_partial([], tests))["verdict"]["status"] == "PASS"


def test_verdict_per_candidate() -> None:
    comps = [_claim("s", 40, label="good"), _claim("s", 0, label="bad")]
    r = _build(_partial(comps, labels=("good", "bad")), exitstatus=1)
    per = r["verdict"]["candidates"]
    assert per["good"]["status"] == "PASS" and per["bad"]["status"] == "FAIL"
    assert r["verdict"]["status"] == "FAIL" and r["verdict"]["reason"].startswith("bad:")


def test_no_effect_adapter_leads_the_reason() -> None:
    r = _build(_partial([_claim("s", 0)], no_effect=("candidate",)), exitstatus=1)
    assert r["verdict"]["reason"].startswith("ADAPTER HAS NO EFFECT")


def _test(nodeid: str, outcome: str, candidate: str | None, **kw: Any) -> dict[str, Any]:
    return {"nodeid": nodeid, "outcome": outcome, "message": kw.pop("message", "it broke"), "candidate": candidate,
            "gate_failure": False, "kind": "custom", **kw}


def test_no_effect_adapter_is_its_own_failing_verdict_whatever_its_gates_say() -> None:
    r = _build(_partial([_claim("s", 40, label="noop", gates=[("no_regression", 0.05)]),
                         _claim("s", 40, label="clean", gates=[("no_regression", 0.05)])],
                        labels=("noop", "clean"), no_effect=("noop",)))
    per = {k: v["status"] for k, v in r["verdict"]["candidates"].items()}
    assert per == {"noop": "NO_EFFECT", "clean": "PASS"}
    assert r["verdict"]["status"] == "NO_EFFECT" and r["verdict"]["reason"].startswith("noop: ADAPTER HAS NO EFFECT")


@pytest.mark.parametrize("kind", ["leakage", "drift", "custom"])
@pytest.mark.parametrize("outcome", ["failed", "error"])
def test_a_failed_check_fails_its_candidate_only(kind: str, outcome: str) -> None:
    # A leakage or drift assertion raises GateFailure too: with no failing comparison of that
    # test behind it, it is a failed check of its candidate, never hidden as "a gate's".
    tests = [_test("t::check[bad]", outcome, "bad", kind=kind, gate_failure=True), _test("t::check[good]", "passed", "good")]
    comps = [_claim("s", 40, label="good"), _claim("s", 40, label="bad")]
    r = _build(_partial(comps, tests, labels=("good", "bad")), exitstatus=1)
    per = r["verdict"]["candidates"]
    assert per["good"]["status"] == "PASS" and per["bad"]["status"] == "FAIL"
    assert "t::check[bad]" in per["bad"]["reason"] and per["bad"]["failed"] == ["t::check[bad]"]
    assert r["verdict"]["status"] == "FAIL"


def test_advisory_collapse_is_not_hidden_by_allow_advisory() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(2, 6, 100).astype(float)
    collapsed = _comparison("j", base, base - 2, [("no_regression", 0.25)], advisory=True, kind="continuous")
    r = _build(_partial([collapsed]), allow_advisory=True)
    assert r["verdict"]["status"] == "FAIL" and "REGRESSED" in r["verdict"]["reason"]
    assert "advisory" in r["verdict"]["reason"] and r["verdict"]["failed"] == [collapsed["id"]]


def test_a_setup_error_that_stopped_the_run_is_error_not_fail() -> None:
    tests = [_test("t::test_rouge", "error", None, stopped=True, message="unknown metric 'rougeL'")]
    r = _build(_partial([_claim("s", 40)], tests), exitstatus=4)
    assert r["verdict"]["status"] == "ERROR" and "the run stopped in" in r["verdict"]["reason"]
    assert "check(s) failed" not in r["verdict"]["reason"]


def test_holm_loss_is_listed_for_junit() -> None:
    r = _build(_partial([_claim("s1", 6, losses=1), _claim("s2", 6, losses=1)]))
    assert r["verdict"]["lost_after_holm"] == ["s1::m::candidate", "s2::m::candidate"]


def test_merge_partials_from_workers_and_write(tmp_path: Path) -> None:
    item = {"id": "q1", "messages": [], "reference": "x", "tags": {}, "group": None}
    w1 = {**_partial([_claim("a", 40)]), "cache": {"hits": 2, "misses": 1},
          "items": {"s": {"q1": {**item, "outputs": {"base": "x"}, "scores": {"m": {"base": 1.0}}}}}}
    w2 = {**_partial([_claim("b", 40)]), "cache": {"hits": 1, "misses": 0},
          "items": {"s": {"q1": {**item, "outputs": {"candidate": "y"}, "scores": {"m": {"candidate": 0.0}}}}}}
    results = build_results(merge_partials([w1, w2]), options={"seed": 0, "alpha": 0.05}, started=0.0,
                            exitstatus=0, command="pytest")
    assert isinstance(results, RunRecord)  # the one carrier, validated where it was built
    row = results.items["s"][0]
    assert row.outputs == {"base": "x", "candidate": "y"}
    assert row.scores["m"] == {"base": 1.0, "candidate": 0.0}
    assert results.cache.hits == 3 and abs(results.cache.hit_rate - 0.75) < 1e-12
    assert [c.suite for c in results.comparisons] == ["a", "b"]
    assert results.verdict.status == "PASS"
    write_json_atomic(tmp_path / "results.json", results.to_json())
    loaded = json.loads((tmp_path / "results.json").read_text())
    assert loaded["schema_version"] == SCHEMA_VERSION
    assert RunRecord.from_json(loaded).to_json() == loaded  # round trip through the typed record
    assert not list(tmp_path.glob(".results.json.*"))


def test_record_refuses_newer_and_malformed() -> None:
    with pytest.raises(DataError, match="newer"):
        RunRecord.from_json({"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(DataError, match="verdict"):
        RunRecord.from_json({"schema_version": SCHEMA_VERSION, "tool": {}, "run": {"started_at": "", "finished_at": "",
                                                                              "duration_s": 0}, "models": {"base": {"label": "b"}}})


def test_credentials_are_redacted_from_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-planted-secret-123456")
    r = build_results(merge_partials([_partial([_claim("s", 40)])]),
                      options={"seed": 0, "alpha": 0.05, "base_url": "http://user:hunter2pw@host/v1"}, started=0.0,
                      exitstatus=0, command="pytest --base-url http://user:hunter2pw@host/v1 sk-planted-secret-123456")
    text = json.dumps(r.to_json())
    assert "hunter2pw" not in text and "sk-planted-secret-123456" not in text


def _scenarios() -> dict[str, dict[str, Any]]:
    """Runs of every verdict kind, as build_results writes them."""
    rng = np.random.default_rng(4)
    grades = rng.integers(2, 6, 100).astype(float)
    advisory = _comparison("j", grades, grades + 1, [("no_regression", 0.25)], advisory=True, kind="continuous")
    collapsed = _comparison("j", grades, grades - 2, [("no_regression", 0.25)], advisory=True, kind="continuous")
    regressed = _claim("s", 0, losses=40, gates=[("no_regression", 0.05)])
    leak = [_test("t::leak", "passed", None, kind="leakage", message="")]
    stopped = [_test("t::test_rouge", "error", None, stopped=True)]
    two = ("good", "bad")
    return {
        "pass": _build(_partial([_claim("s1", 40), _claim("s2", 30)])),
        "pass, advisory failing": _build(_partial([_claim("s", 40), collapsed])),
        "regressed": _build(_partial([regressed]), exitstatus=1),
        "advisory only": _build(_partial([advisory])),
        "advisory allowed": _build(_partial([advisory]), allow_advisory=True),
        "advisory collapse allowed": _build(_partial([collapsed]), allow_advisory=True),
        "checks alone": _build(_partial([], leak)),
        "no evidence": _build(_partial([])),
        "two candidates": _build(_partial([_claim("s", 40, label="good"), _claim("s", 0, label="bad")], labels=two), exitstatus=1),
        "no effect": _build(_partial([_claim("s", 40)], no_effect=("candidate",))),
        "stopped": _build(_partial([_claim("s", 40)], stopped), exitstatus=4),
        "pytest exit 1": _build(_partial([_claim("s", 40)]), exitstatus=1),
        "interrupted": _build(_partial([_claim("s", 40)]), exitstatus=2),
        "lost after holm": _build(_partial([_claim("s1", 6, losses=1), _claim("s2", 6, losses=1)])),
    }


def test_every_verdict_a_run_writes_agrees_with_its_evidence() -> None:
    from tunegate.harness.results import verdict_disagreement

    for name, results in _scenarios().items():
        assert verdict_disagreement(RunRecord.from_json(results)) == "", name


def test_a_verdict_that_its_evidence_does_not_give_is_named() -> None:
    from tunegate.harness.results import verdict_disagreement

    r = _build(_partial([_claim("s", 0, losses=40, gates=[("no_regression", 0.05)])]), exitstatus=1)
    r["verdict"]["status"] = "PASS"
    assert verdict_disagreement(RunRecord.from_json(r)) == (
        "the verdict is PASS but gate 's::m::candidate' is REGRESSED (binding)"
    )
    r["verdict"]["candidates"]["candidate"]["status"] = "PASS"
    assert verdict_disagreement(RunRecord.from_json(r)) == (
        "the verdict of candidate 'candidate' is PASS but gate 's::m::candidate' is REGRESSED (binding)"
    )
