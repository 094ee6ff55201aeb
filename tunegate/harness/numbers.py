"""The one formatter for numbers and p-values shown to a person (terminal, summary, reports).

Every renderer goes through these so the same value reads the same everywhere:

>>> fmt_p(0.0318), fmt_p(3.2e-7), fmt_p(0.0), fmt_p(None)
('0.0318', '3.2e-07', '< 1e-16', 'n/a')
>>> fmt_num(0.8123), fmt_signed(-0.08), fmt_ci(-0.005, 0.205)
('0.812', '-0.080', '[-0.005, +0.205]')

A p-value is never printed as ``0.0e+00``: below ``P_FLOOR`` (about the resolution of a double
near 1, so nothing smaller is meaningful) it is written ``< 1e-16``. Missing values (None, NaN,
infinities, booleans, non-numbers) are ``missing`` (``"n/a"`` unless the caller passes another
placeholder, such as the reports' em dash). Nothing here raises on a display value.
"""

from __future__ import annotations

import math

MISSING = "n/a"
P_FLOOR = 1e-16
P_SMALL = 1e-3


def as_finite(value: object) -> float | None:
    """``value`` as a finite float, or None for None/NaN/inf/bool/non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    x = float(value)
    return x if math.isfinite(x) else None


def fmt_p(p: object, *, missing: str = MISSING) -> str:
    """A p-value: ``0.0318`` (3 significant), ``3.2e-07`` below 0.001, ``< 1e-16`` below that.

    Values a hair outside [0, 1] from floating-point error (a Holm-adjusted 1.0000000002) are
    clamped; anything else that is not a finite number is ``missing``.
    """
    x = as_finite(p)
    if x is None:
        return missing
    x = min(max(x, 0.0), 1.0)
    if x < P_FLOOR:
        return "< 1e-16"
    if x < P_SMALL:
        return f"{x:.1e}"
    return f"{x:#.3g}"


def fmt_num(x: object, digits: int = 3, *, missing: str = MISSING) -> str:
    """``x`` with ``digits`` decimals (thousands separated from 1,000 up); ``missing`` if absent."""
    v = as_finite(x)
    if v is None:
        return missing
    d = max(0, digits)
    return f"{v:,.{d}f}" if abs(v) >= 1000 else f"{v:.{d}f}"


def fmt_signed(x: object, digits: int = 3, *, missing: str = MISSING) -> str:
    """``+0.690`` / ``-0.080``: always a sign (ASCII minus, so it pastes into anything)."""
    text = fmt_num(x, digits, missing=missing)
    if text == missing or text.startswith("-"):
        return text
    return "+" + text


def fmt_ci(low: object, high: object, digits: int = 3, *, missing: str = MISSING) -> str:
    """``[-0.005, +0.205]``; ``missing`` if either bound is absent."""
    if as_finite(low) is None or as_finite(high) is None:
        return missing
    return f"[{fmt_signed(low, digits)}, {fmt_signed(high, digits)}]"


def fmt_pct(x: object, digits: int = 1, *, missing: str = MISSING) -> str:
    """A proportion as a percentage: ``0.953`` -> ``95.3%``."""
    v = as_finite(x)
    return missing if v is None else f"{100 * v:.{max(0, digits)}f}%"


__all__ = ["MISSING", "P_FLOOR", "as_finite", "fmt_ci", "fmt_num", "fmt_p", "fmt_pct", "fmt_signed"]
