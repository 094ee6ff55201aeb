"""The checks one by one: PII precision, duplicates across JSON key order, the review sheet in Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from tests.harness.datacheck.planted import build
from tests.reports.browser import find_chromium, parse_dom, run_chromium
from tunegate.harness.datacheck import check_data
from tunegate.harness.datacheck.pii import find_pii


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("write to jane.doe@example.com today", ["email"]),
        ("not an address: jane@localhost or @handle", []),
        ("card 4111-1111-1111-1111 please", ["card"]),
        ("card 4111 1111 1111 1112 fails Luhn", []),
        ("order 1234567890123 (no issuer prefix)", []),
        ("IBAN DE89 3704 0044 0532 0130 00 here", ["iban"]),
        ("IBAN DE89 3704 0044 0532 0130 01 has a bad mod-97", []),
        ("call +44 20 7946 0958", ["phone"]),
        ("invoice 2024-05-01, VAT DE123456789, amount 249,00", []),
    ],
)
def test_pii_finds_checksummed_values_only(text: str, kinds: list[str]) -> None:
    assert [m.kind for m in find_pii(text)] == kinds


def test_duplicates_ignore_json_key_order_and_case(tmp_path: Path) -> None:
    def line(prompt: str, answer: str) -> str:
        return json.dumps(
            {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}
        )

    rows = [line(f"question number {k} about topic {k * 7}", f'{{"a": {k}, "b": "x"}}') for k in range(60)]
    rows.append(line("QUESTION number 3 about topic 21!", '{"b": "x", "a": 3}'))  # line 61 = line 4
    rows.append(line("question number 5 about topic 35", '{"a": 99, "b": "y"}'))  # line 62: same prompt as 6
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(rows) + "\n")
    report, _ = check_data(path)
    found = {f.code: f.locations for f in report.findings if f.check == "duplicates"}
    assert found["exact_duplicate"] == (f"{path}:61", f"{path}:4")
    assert found["conflicting_answers"] == (f"{path}:62", f"{path}:6")


def test_review_sheet_runs_in_chromium_and_exports_marks(tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("no headless Chromium found (apt-get install -y chromium)")
    planted = build(tmp_path)
    report, page = check_data(planted.train, sample=10, seed=3)
    # drive the page as a reviewer would: mark two samples, press export; the test's own script is
    # allowed by adding its hash to the page's policy (the page's script stays pinned)
    driver = (
        "document.querySelectorAll('input[value=right]')[0].click();"
        "document.querySelectorAll('input[value=wrong]')[1].click();"
        "document.querySelectorAll('.sample input[type=text]')[1].value='bad label';"
        "document.getElementById('export').click();"
        "document.title=document.getElementById('json').value;"
    )
    digest = base64.b64encode(hashlib.sha256(driver.encode()).digest()).decode()
    page = page.replace("script-src ", f"script-src 'sha256-{digest}' ", 1)
    page = page.replace("</body>", f"<script>{driver}</script></body>")
    (tmp_path / "review.html").write_text(page)
    dom_text, _ = run_chromium((tmp_path / "review.html").as_uri())
    dom = parse_dom(dom_text)
    assert dom.root_attrs.get("data-ready") == "1", "the page's own script did not run"
    assert "2 of 10 marked, 1 wrong (50.0% of marked)" in dom.all_text
    exported = json.loads(dom.title)
    assert exported["seed"] == 3 and exported["source"] == str(planted.train)
    marks = exported["marks"]
    assert [m["mark"] for m in marks[:3]] == ["right", "wrong", None]
    assert marks[1]["note"] == "bad label"
    assert [f"{m['path']}:{m['line']}" for m in marks] == list(report.sample)
    assert not re.search(r"<script>alert", dom_text)
