"""Token and cost budgets for judges: stop cleanly, keep what finished.

A request is sent only when its worst case (estimated prompt tokens plus the provider's
max_tokens) still fits under both limits, counting what is in flight, so concurrency never
overshoots a budget. Once a request does not fit, no further request is sent: the judgments
still pending are recorded as failures "budget exhausted", the finished ones stay cached.

Prices are USD per million tokens (input, output); each provider declares those of its models
(``register_provider(..., prices=...)``, as published when its table was written) and a free one
(``local``) costs nothing. Prices change, so pass your own with ``Budget(prices={...})`` (or the
CLI's ``--prices FILE``). Matching is by exact model name, then by the longest known prefix
(``claude-sonnet-4-5-20250929`` uses ``claude-sonnet-4-5``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from tunegate.harness.errors import ConfigError, JudgeError
from tunegate.judges.providers.base import PROVIDERS

CHARS_PER_TOKEN = 3.0  # conservative for English prose: over-estimates tokens, never under


@dataclass(frozen=True)
class Budget:
    """Limits for one Judge. None means unlimited. ``prices`` override or extend the provider's own."""

    max_tokens_total: int | None = None
    max_cost_usd: float | None = None
    prices: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_tokens_total is not None and self.max_tokens_total < 0:
            raise ConfigError(f"max_tokens_total must be >= 0, got {self.max_tokens_total}")
        if self.max_cost_usd is not None and not (
            math.isfinite(self.max_cost_usd) and self.max_cost_usd >= 0
        ):
            raise ConfigError(f"max_cost_usd must be a finite number >= 0, got {self.max_cost_usd!r}")
        for model, price in self.prices.items():
            if len(price) != 2 or any(not (isinstance(p, int | float) and p >= 0) for p in price):
                raise ConfigError(
                    f"price for {model!r} must be (input_usd_per_mtok, output_usd_per_mtok), got {price!r}"
                )

    def price(self, provider: str, model: str) -> tuple[float, float] | None:
        info = PROVIDERS.get(provider) if provider in PROVIDERS else None
        if info is not None and info.free:
            return (0.0, 0.0)
        table = {**(info.prices if info is not None else {}), **dict(self.prices)}
        if model in table:
            return table[model]
        prefixes = [m for m in table if model.startswith(m)]
        return table[max(prefixes, key=len)] if prefixes else None


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


class BudgetMeter:
    """The running account of one judging run (thread-safe)."""

    def __init__(self, budget: Budget, provider: str, model: str) -> None:
        self.budget = budget
        price = budget.price(provider, model)
        if budget.max_cost_usd is not None and price is None:
            raise JudgeError(
                f"max_cost_usd is set but there is no price for the judge model {model!r}; add one, e.g. "
                f"Budget(prices={{{model!r}: (input_usd_per_mtok, output_usd_per_mtok)}}) or --prices FILE"
            )
        self.price_in, self.price_out = price if price is not None else (0.0, 0.0)
        self.tokens = 0
        self.cost_usd = 0.0
        self._held_tokens = 0
        self._held_cost = 0.0
        self.exhausted: str | None = None
        self._lock = threading.Lock()

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.price_in + tokens_out * self.price_out) / 1e6

    def reserve(self, tokens_in: int, tokens_out: int) -> bool:
        """Hold the worst case of one request; False (and the budget marked exhausted) if it does not fit."""
        need_tokens, need_cost = tokens_in + tokens_out, self.cost(tokens_in, tokens_out)
        b = self.budget
        with self._lock:
            if self.exhausted is not None:
                return False
            if (
                b.max_tokens_total is not None
                and self.tokens + self._held_tokens + need_tokens > b.max_tokens_total
            ):
                self.exhausted = f"max_tokens_total={b.max_tokens_total} reached ({self.tokens} tokens used)"
                return False
            if b.max_cost_usd is not None and self.cost_usd + self._held_cost + need_cost > b.max_cost_usd:
                self.exhausted = f"max_cost_usd={b.max_cost_usd:g} reached (${self.cost_usd:.4f} spent)"
                return False
            self._held_tokens += need_tokens
            self._held_cost += need_cost
            return True

    def settle(self, held_in: int, held_out: int, used_in: int, used_out: int) -> None:
        """Replace a reservation by what the request really used."""
        with self._lock:
            self._held_tokens -= held_in + held_out
            self._held_cost -= self.cost(held_in, held_out)
            self.tokens += used_in + used_out
            self.cost_usd += self.cost(used_in, used_out)

    def as_dict(self) -> dict[str, object]:
        return {
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "max_tokens_total": self.budget.max_tokens_total,
            "max_cost_usd": self.budget.max_cost_usd,
            "exhausted": self.exhausted,
        }
