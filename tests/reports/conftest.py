from __future__ import annotations

import os
from typing import Any

import pytest

from tests.reports.browser import find_chromium
from tests.reports.fixtures import make_results

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def results() -> dict[str, Any]:
    """A failing run: exact_match[category] REGRESSED, driven by the refund slice (300 items)."""
    return make_results(300)


@pytest.fixture
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no headless Chromium found (install it with `apt-get install -y chromium`, "
            "or point TUNEGATE_CHROMIUM at a chromium/chrome binary)"
        )
    return path
