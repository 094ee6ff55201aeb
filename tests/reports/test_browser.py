"""The report in a real headless Chromium: screenshot, 10,000 items, pagination, search, diffs."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reports.browser import parse_dom, run_chromium
from tests.reports.fixtures import as_record, make_results
from tunegate.reports import render_html, write_reports
from tunegate.reports.items import page_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_screenshot(chromium: str, tmp_path: Path) -> None:
    paths = write_reports(as_record(make_results(300)), tmp_path)
    png = tmp_path / "report.png"
    run_chromium(paths["html"].as_uri(), screenshot=png, window=(1400, 2600))
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 2600)
    assert len(data) > 50_000, "a blank page compresses to a few KB"
    target = os.environ.get("TUNEGATE_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(target) / "report.png")


@pytest.mark.slow
def test_ten_thousand_items_render_paginated(
    chromium: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    results = make_results(10_000)
    start = time.perf_counter()
    paths = write_reports(as_record(results), tmp_path)
    python_s = time.perf_counter() - start

    out, wall_s = run_chromium(paths["html"].as_uri())
    dom = parse_dom(out)

    assert dom.root_attrs.get("data-rendered") == "1", dom.root_attrs
    assert dom.count("tr", "item-row") == 50, "one page of items, not 10,000 rows"
    figures = {
        "items": 10_000,
        "html_mb": round(paths["html"].stat().st_size / 1e6, 2),
        "python_render_s": round(python_s, 2),
        "page_script_ms": float(dom.root_attrs["data-render-ms"]),
        "page_ready_ms": float(dom.root_attrs["data-ready-ms"]),
        "chromium_wall_s": round(wall_s, 2),
    }
    for key, value in figures.items():
        record_property(key, value)
    print(f"\n10k-item report figures: {figures}")
    assert wall_s < 30 and python_s < 30, figures  # catches hangs, not a benchmark


def _pager_text(texts: list[str]) -> list[str]:
    return [t for t in texts if " items · page " in t]


@pytest.mark.slow
def test_hash_state_pages_and_filters_items(chromium: str, tmp_path: Path) -> None:
    results = make_results(400)
    path = tmp_path / "report.html"
    path.write_text(render_html(as_record(results)), encoding="utf-8")

    dom = parse_dom(run_chromium(path.as_uri() + "#items?page=3")[0])
    assert _pager_text(dom.text) == ["101–150 of 400 items · page 3 of 8"] * 2
    assert dom.count("tr", "item-row") == 50

    data = page_data(as_record(results))
    support = data["suites"][0]["items"]
    expected = [it for it in support if "s-0012" in it["i"].lower()]
    dom = parse_dom(run_chromium(path.as_uri() + "#items?q=S-0012")[0])
    assert dom.count("tr", "item-row") == len(expected) == 10
    assert _pager_text(dom.text)[0].startswith("1–10 of 10 items")

    worse = sum(it["w"] for it in support)
    dom = parse_dom(run_chromium(path.as_uri() + "#items?worse=1")[0])
    assert _pager_text(dom.text)[0].startswith(f"1–50 of {worse} items")


@pytest.mark.slow
def test_flip_rows_show_a_word_diff(chromium: str, tmp_path: Path) -> None:
    results = make_results(120)
    path = tmp_path / "report.html"
    path.write_text(render_html(as_record(results)), encoding="utf-8")
    out = run_chromium(path.as_uri())[0]
    dom = parse_dom(out)
    regressed = results["comparisons"][0]
    first = regressed["flips"]["base_only"][0]
    item = next(it for it in results["items"]["support/eval"] if it["id"] == first)
    assert dom.count("tr", "flip-row") >= 10
    # The candidate's wrong category is highlighted as inserted, the base's text as deleted.
    row = out.split(f'<div class="cell-text">{first}</div>', 1)[1].split("</tr>", 1)[0]
    assert "<del>" in row and "<ins>" in row
    cand_category = item["outputs"]["candidate"].split('"category": "', 1)[1].split('"', 1)[0]
    assert cand_category in row


@pytest.mark.slow
def test_demo_results_screenshot(chromium: str, tmp_path: Path) -> None:
    """The demo's own results.json (``make demo`` writes reports/out/results.json), rendered and shot."""
    from tunegate.reports import load_results

    source = Path(os.environ.get("TUNEGATE_RESULTS", Path(__file__).resolve().parents[2] / "reports/out/results.json"))
    if not source.exists():
        pytest.skip(f"{source} not found: run `make demo` first (or set TUNEGATE_RESULTS)")
    paths = write_reports(as_record(load_results(source)), tmp_path)
    png = tmp_path / "demo-report.png"
    run_chromium(paths["html"].as_uri(), screenshot=png, window=(1400, 3000))
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 50_000
    target = os.environ.get("TUNEGATE_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(target) / "demo-report.png")
