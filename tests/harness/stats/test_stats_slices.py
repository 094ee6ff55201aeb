from __future__ import annotations

import os

import numpy as np
import pytest

from tunegate.harness.stats import SliceResult, flips, order_slices, slice_tests

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _slice(name: str, delta: float, verdict: str = "INCONCLUSIVE") -> SliceResult:
    return SliceResult(name, 10, 0.5, 0.5 + delta, delta, delta - 0.1, delta + 0.1, 0.5, 0.5, verdict, ())


def test_order_puts_significant_regressions_then_large_drops_first() -> None:
    slices = [_slice("a", -0.01), _slice("b", -0.04), _slice("c", -0.02, "REGRESSED"), _slice("d", 0.2)]
    assert [s.slice for s in order_slices(slices, margin=0.03)] == ["c", "b", "a", "d"]
    # Lower-is-better metrics: a positive delta is the drop.
    assert [s.slice for s in order_slices(slices[:2] + slices[3:], sign=-1.0)] == ["d", "a", "b"]


def test_slices_are_holm_adjusted_and_list_failing_ids() -> None:
    n = 120
    ids = [f"i{k}" for k in range(n)]
    base = np.ones(n)
    cand = base.copy()
    cand[:30:2] = 0.0  # 15 losses, all tagged lang=de
    tags = [{"lang": "de" if k < 30 else "en", "len": "short" if k % 3 else "long"} for k in range(n)]
    out = {s.slice: s for s in slice_tests("binary", base, cand, ids, tags)}
    assert set(out) == {"lang=de", "lang=en", "len=long", "len=short"}
    de = out["lang=de"]
    assert de.verdict == "REGRESSED" and de.failing_ids[:2] == ("i0", "i2") and len(de.failing_ids) == 15
    assert de.p_adjusted == pytest.approx(min(1.0, 4 * de.p_value))
    assert out["lang=en"].verdict == "INCONCLUSIVE" and out["lang=en"].failing_ids == ()
    assert out["lang=en"].to_dict()["delta"] == 0.0


def test_flips_follow_the_metric_direction() -> None:
    base = np.array([1.0, 0.0, 1.0, 0.0])
    cand = np.array([0.0, 1.0, 1.0, 0.0])
    assert flips(base, cand, list("abcd")) == {"base_only": ["a"], "candidate_only": ["b"]}
    assert flips(base, cand, list("abcd"), higher_is_better=False) == {
        "base_only": ["b"],
        "candidate_only": ["a"],
    }
