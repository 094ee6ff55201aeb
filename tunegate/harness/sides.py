"""Which system's outputs are being scored now (``base``, a candidate's label), for progress lines.

The session scores base and candidate outputs with the same metric, one after the other; a judge
deep inside the metric has no other way to know whose outputs it judges. ``scoring(side)`` sets
it for the block (a context variable: each thread and asyncio task sees its own), ``current()``
reads it (``''`` outside any block)::

    with scoring("base"):
        base_scores = metric.score(items, base_outputs)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_side: ContextVar[str] = ContextVar("tunegate_scoring_side", default="")


@contextmanager
def scoring(side: str) -> Iterator[None]:
    token = _side.set(side)
    try:
        yield
    finally:
        _side.reset(token)


def current() -> str:
    return _side.get()
