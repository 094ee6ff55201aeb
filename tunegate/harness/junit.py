"""junit.xml says what the exit code says: one ``tunegate::verdict[<candidate>]`` case per candidate,
and a test whose improvement Holm's correction took shown failed.

CI systems read junit.xml, not the exit code's reasons. pytest's junitxml plugin records each
test's own outcome; a candidate can fail on evidence no single test failed on (a no-op adapter,
a claim lost after Holm's correction across the run), so the run's decision is added here, to the
file pytest is about to write (``pytest_sessionfinish`` runs before junitxml's).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tunegate.harness.compare.decision import blocks
from tunegate.harness.record import CandidateVerdict, ComparisonRecord, RunRecord


def _xml(config: pytest.Config) -> Any:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest without junitxml
        return None
    return config.stash.get(xml_key, None)


def add_verdicts(config: pytest.Config, record: RunRecord) -> None:
    """Add the run's per-candidate verdicts to junit.xml (when ``--junitxml`` is on)."""
    xml = _xml(config)
    if xml is None:
        return
    verdict = record.verdict
    lost = set(verdict.lost_after_holm)
    by_case: dict[tuple[str, str], list[ComparisonRecord]] = {}
    for c in record.comparisons:
        if c.id in lost and c.nodeid:
            by_case.setdefault(_case(c.nodeid, xml), []).append(c)
    for reporter in list(getattr(xml, "node_reporters_ordered", [])):
        el = reporter.to_xml()
        comps = by_case.get((el.get("classname", ""), el.get("name", "")))
        if comps:
            _fail_existing(xml, el, comps)
    for label, cv in verdict.candidates.items():
        _add_case(xml, label, cv)


def _case(nodeid: str, xml: Any) -> tuple[str, str]:
    """(classname, name) of a node id, as junitxml writes them."""
    from _pytest.junitxml import mangle_test_address

    names = mangle_test_address(nodeid)
    classnames = names[:-1]
    prefix = getattr(xml, "prefix", None)
    if prefix:
        classnames.insert(0, prefix)
    return ".".join(classnames), names[-1]


def _fail_existing(xml: Any, el: ET.Element, comps: list[ComparisonRecord]) -> None:
    """A test that passed at its own time but whose improvement claim Holm's correction took."""
    if el.find("failure") is not None or el.find("error") is not None:
        return
    message = " ".join(c.message for c in comps)
    node = ET.SubElement(el, "failure", message=f"{comps[0].verdict} after Holm's correction")
    node.text = message
    if xml.stats.get("passed", 0) > 0:
        xml.stats["passed"] -= 1
    xml.stats["failure"] = xml.stats.get("failure", 0) + 1


def _add_case(xml: Any, label: str, cv: CandidateVerdict) -> None:
    from _pytest.reports import TestReport

    failing = blocks(cv.status)
    nodeid = f"tunegate::verdict[{label}]"
    text = f"{cv.status}: {cv.reason}"
    common: dict[str, Any] = {"nodeid": nodeid, "location": ("tunegate", None, f"verdict[{label}]"), "keywords": {}}
    xml.pytest_runtest_logreport(
        TestReport(**common, outcome="failed" if failing else "passed", longrepr=text if failing else None, when="call")
    )
    xml.pytest_runtest_logreport(TestReport(**common, outcome="passed", longrepr=None, when="teardown"))
