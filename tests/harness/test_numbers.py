"""tunegate.harness.numbers: the one number/p-value formatter."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tunegate.harness.numbers import fmt_ci, fmt_num, fmt_p, fmt_pct, fmt_signed


def test_p_never_zero_in_e_notation() -> None:
    assert fmt_p(0.0) == "< 1e-16"
    assert fmt_p(1e-300) == "< 1e-16"
    assert fmt_p(5e-17) == "< 1e-16"
    assert fmt_p(-1e-18) == "< 1e-16"  # rounding noise below zero


def test_p_tiny_three_significant_and_missing() -> None:
    assert fmt_p(3.2e-7) == "3.2e-07"
    assert fmt_p(0.00099) == "9.9e-04"
    assert fmt_p(0.001) == "0.00100"
    assert fmt_p(0.0318) == "0.0318"
    assert fmt_p(0.5) == "0.500"
    assert fmt_p(0.921) == "0.921"
    assert fmt_p(1.0) == "1.00"
    assert fmt_p(1.0000000002) == "1.00"
    for missing in (None, math.nan, math.inf, True, "0.3", [0.1]):
        assert fmt_p(missing) == "n/a"
    assert fmt_p(None, missing="—") == "—"


@given(st.floats(allow_nan=True, allow_infinity=True) | st.none() | st.integers())
def test_p_always_a_short_readable_string(p: object) -> None:
    text = fmt_p(p)
    assert text and "e+00" not in text and "0.0e" not in text and len(text) <= 8


def test_num_signed_ci_pct() -> None:
    assert fmt_num(0.81234) == "0.812"
    assert fmt_num(54.3217, 1) == "54.3"
    assert fmt_num(12345.678, 0) == "12,346"
    assert fmt_num(None) == "n/a"
    assert fmt_num(math.nan, missing="—") == "—"
    assert fmt_signed(0.69) == "+0.690"
    assert fmt_signed(-0.08) == "-0.080"
    assert fmt_signed(None) == "n/a"
    assert fmt_ci(-0.005, 0.205) == "[-0.005, +0.205]"
    assert fmt_ci(-0.12, -0.04, 2) == "[-0.12, -0.04]"
    assert fmt_ci(None, 0.2) == "n/a"
    assert fmt_pct(0.953) == "95.3%"
    assert fmt_pct(None) == "n/a"


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_signed_round_trips_value(x: float) -> None:
    text = fmt_signed(x)
    assert text[0] in "+-"
    assert abs(float(text.replace(",", "")) - x) <= 0.0005 + 1e-9
