"""Generate completions for a list of requests through the response cache.

Cached prompts are served from the cache; the rest go to the backend in chunks (longest prompts
first, so batches hold prompts of similar length) and every finished chunk is committed before
the next starts, so a killed run loses at most one chunk.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from tunegate.harness import progress
from tunegate.harness.cache import ResponseCache, cache_key
from tunegate.harness.models.base import Backend, Completion, GenerationRequest
from tunegate.harness.models.chat import render_all
from tunegate.harness.redact import redact_text


@dataclass
class GenerationStats:
    hits: int = 0
    generated: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0
    per_model: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, label: str, hits: int, generated: int, tokens: int, seconds: float) -> None:
        self.hits += hits
        self.generated += generated
        self.generated_tokens += tokens
        self.seconds += seconds
        row = self.per_model.setdefault(
            label, {"hits": 0, "generated": 0, "generated_tokens": 0, "seconds": 0.0}
        )
        row["hits"] += hits
        row["generated"] += generated
        row["generated_tokens"] += tokens
        row["seconds"] += seconds

    def to_dict(self) -> dict[str, object]:
        total = self.hits + self.generated
        return {
            "hits": self.hits,
            "misses": self.generated,
            "hit_rate": (self.hits / total) if total else 0.0,
            "generated": self.generated,
            "generated_tokens": self.generated_tokens,
            "generation_s": round(self.seconds, 3),
            "tokens_per_s": round(self.generated_tokens / self.seconds, 1) if self.seconds > 0 else None,
            "per_model": self.per_model,
        }


def generate_cached(
    backend: Backend,
    requests: Sequence[GenerationRequest],
    cache: ResponseCache,
    *,
    stats: GenerationStats | None = None,
    label: str = "",
    chunk_size: int = 64,
    suite: str = "",
) -> list[Completion]:
    """Completions for ``requests`` in order, reusing and filling ``cache``."""
    fp = backend.fingerprint
    prompts = render_all(
        backend.render, [(r.id, r.messages) for r in requests], backend.spec.label or backend.spec.name
    )
    keys = [cache_key(fp, p, r.params.key()) for p, r in zip(prompts, requests, strict=True)]
    found = cache.get_many(keys)
    results: list[Completion | None] = [found.get(k) for k in keys]
    todo = [i for i, c in enumerate(results) if c is None]
    # Longest first: the slowest batches start early and neighbours have similar lengths.
    todo.sort(key=lambda i: -len(prompts[i]))
    started = time.perf_counter()
    tokens = 0
    name = " · ".join(x for x in (label or backend.spec.name, suite) if x)
    # Silent when nothing is generated; the hf loop reports each finished item (progress.item_done),
    # other backends advance per chunk.
    with progress.track("generate", name, len(todo)) as bar, progress.counting(bar) as settle:
        for start in range(0, len(todo), chunk_size):
            idx = todo[start : start + chunk_size]
            # Secrets a server echoes back (an API key, a URL password) never reach the cache,
            # nor this run's results: the same redacted text either way, cold or cached.
            outs = [_redacted(c) for c in backend.generate([requests[i] for i in idx])]
            cache.put_many(fp, [(keys[i], c) for i, c in zip(idx, outs, strict=True)])
            for i, c in zip(idx, outs, strict=True):
                results[i] = c
                tokens += c.n_tokens
            settle(len(idx), tokens=sum(c.n_tokens for c in outs))
    elapsed = time.perf_counter() - started if todo else 0.0
    if stats is not None:
        stats.add(label or backend.spec.name, len(requests) - len(todo), len(todo), tokens, elapsed)
    cache.counters.hits += len(requests) - len(todo)
    cache.counters.misses += len(todo)
    return [c for c in results if c is not None]


def _redacted(c: Completion) -> Completion:
    text = redact_text(c.text)
    return c if text == c.text else replace(c, text=text)
