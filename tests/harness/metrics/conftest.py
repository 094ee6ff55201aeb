from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tunegate.harness.data import EvalItem, Message  # noqa: E402

MakeItems = Callable[[Sequence[Any]], list[EvalItem]]


def build_items(references: Sequence[Any]) -> list[EvalItem]:
    """One item per reference, ids it-000, it-001, ... and line numbers from 1."""
    return [
        EvalItem(id=f"it-{i:03d}", messages=(Message("user", f"question {i}"),), reference=ref, line=i + 1)
        for i, ref in enumerate(references)
    ]


@pytest.fixture
def make_items() -> MakeItems:
    return build_items
