"""results.json loading: any input either loads or raises the project's own error type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunegate.harness.errors import TunegateError
from tunegate.reports import render_html, render_markdown
from tunegate.reports.files import load_results, parse_results

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
KEYS = st.sampled_from(
    ["schema_version", "verdict", "comparisons", "items", "models", "tests", "suites", "judges", "run", "leakage"]
)
RECORDS = st.dictionaries(KEYS, JSON, max_size=8).map(lambda d: {"schema_version": 1, **d})


def _load_or_own_error(text: str) -> dict[str, Any] | None:
    try:
        return parse_results(text, "results.json")
    except TunegateError as exc:
        assert str(exc).startswith("results.json"), str(exc)
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200) | JSON.map(lambda v: json.dumps(v)) | RECORDS.map(lambda v: json.dumps(v)))
def test_any_text_loads_or_raises_a_tunegate_error(text: str) -> None:
    _load_or_own_error(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_whatever_loads_renders(record: dict[str, Any]) -> None:
    """Anything load accepts renders (both outputs) or is refused with a TunegateError."""
    loaded = _load_or_own_error(json.dumps(record))
    if loaded is None:
        return
    try:
        render_html(loaded)
        render_markdown(loaded)
    except TunegateError:
        pass


def test_edge_inputs(tmp_path: Path) -> None:
    for text in ("[" * 100_000, '{"schema_version": NaN}', '{"schema_version": 1, "x": Infinity}', "9" * 5000, "\ufeff{}", ""):
        assert _load_or_own_error(text) is None, text[:40]
    path = tmp_path / "r.json"
    path.write_bytes(b"\xff\xfe")
    try:
        load_results(path)
    except TunegateError as exc:
        assert "not UTF-8" in str(exc)
    else:
        raise AssertionError("bytes that are not UTF-8 loaded")
    try:
        load_results(tmp_path)
    except TunegateError as exc:
        assert "directory" in str(exc)
