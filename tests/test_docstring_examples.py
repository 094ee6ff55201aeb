"""Every ``>>>`` example in tunegate's docstrings runs, so the examples stay true to the code.

Examples that need files or models say ``# doctest: +SKIP``; all others are executed here, as
part of the fast suite (``make test``).
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
PROMPT = re.compile(r"^\s*>>> ", re.MULTILINE)  # an example line, not a fence's "<<<END X>>>"

# Examples in files another change owns; strict, so the mark goes as soon as the example is fixed.
KNOWN_WRONG: dict[str, str] = {}


def _modules_with_examples() -> list[str]:
    out = []
    for path in sorted((ROOT / "tunegate").rglob("*.py")):
        if PROMPT.search(path.read_text(encoding="utf-8")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    assert len(MODULES) >= 20, MODULES


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(m, marks=pytest.mark.xfail(reason=KNOWN_WRONG[m], strict=True)) if m in KNOWN_WRONG else m
        for m in MODULES
    ],
)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    tests = [t for t in doctest.DocTestFinder().find(module, name) if t.examples]
    for test in tests:
        runner.run(test, out=report.append)
    assert tests, f"{name}: no examples found although the file has '>>>'"
    assert runner.failures == 0, "".join(report)
