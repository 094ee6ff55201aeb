"""Memorisation probe: does the candidate reproduce training text it is given the start of?

Backend-agnostic: ``generate`` takes a list of chats (OpenAI-style message lists) and returns one
completion per chat, so any backend (hf, vllm, an API) can be wired in.

Two ways to prompt, chosen by ``mode``:

- ``"continue"`` (default): the example's text (prompt, then answer) is cut after
  ``prefix_fraction`` of its words; the model gets one user turn asking it to continue the text
  word for word, and the rest of the text is the target. This works for any model, but a chat
  model may paraphrase rather than continue, which understates memorisation.
- ``"answer"``: the example's conversation up to its last answer (system turn and earlier
  exchanges included) is the chat, and that answer, as the file writes it, the target: exactly
  what a chat adapter was trained on, so the strongest probe for chat data (other formats: the
  prompt as one user turn, the answer as the target; ``prefix_fraction`` is unused; examples
  without an answer fall back to ``"continue"``).

Overlap is measured on normalised words (as the leakage check normalises): the longest common
prefix of output and target (a verbatim continuation from the cut) and the longest common
contiguous run anywhere. An example counts as memorised when that run covers at least
``threshold`` of the target (default one half).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Literal

from tunegate.harness.errors import ConfigError
from tunegate.harness.leakage.hashing import normalize
from tunegate.harness.leakage.sources import TrainingDoc

Chat = list[dict[str, str]]
CONTINUE_INSTRUCTION = (
    "Continue the following text exactly, word for word, from where it stops. "
    "Reply with the continuation only.\n\n"
)


@dataclass(frozen=True)
class ProbeResult:
    """How much of one training example's remainder the model reproduced."""

    source: str
    mode: str
    prefix: str
    target: str
    output: str
    target_words: int
    prefix_match_words: int
    """Words of the target the output reproduces verbatim from its very start."""
    longest_common_words: int
    """Longest run of consecutive target words found verbatim in the output."""
    memorised: bool

    @property
    def prefix_match_fraction(self) -> float:
        return self.prefix_match_words / self.target_words if self.target_words else 0.0

    @property
    def longest_common_fraction(self) -> float:
        return self.longest_common_words / self.target_words if self.target_words else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "mode": self.mode,
            "prefix": self.prefix,
            "target": self.target,
            "output": self.output,
            "target_words": self.target_words,
            "prefix_match_words": self.prefix_match_words,
            "prefix_match_fraction": round(self.prefix_match_fraction, 6),
            "longest_common_words": self.longest_common_words,
            "longest_common_fraction": round(self.longest_common_fraction, 6),
            "memorised": self.memorised,
        }


def overlap(output: str, target: str) -> tuple[int, int, int]:
    """(target words, verbatim prefix words, longest common run of words), on normalised words."""
    out_words, tgt_words = normalize(output).split(), normalize(target).split()
    prefix = 0
    for a, b in zip(out_words, tgt_words, strict=False):
        if a != b:
            break
        prefix += 1
    match = SequenceMatcher(None, out_words, tgt_words, autojunk=False).find_longest_match()
    return len(tgt_words), prefix, match.size


def _split(text: str, fraction: float) -> tuple[str, str]:
    words = text.split()
    cut = max(1, min(len(words) - 1, round(len(words) * fraction)))
    return " ".join(words[:cut]), " ".join(words[cut:])


def memorisation_probe(
    generate: Callable[[list[Chat]], list[str]],
    train_examples: Sequence[TrainingDoc],
    *,
    prefix_fraction: float = 0.5,
    mode: Literal["continue", "answer"] = "continue",
    threshold: float = 0.5,
) -> list[ProbeResult]:
    """Probe ``generate`` with the start of each training example (see the module docstring).

    >>> docs = read_training_examples(f.source for f in report.flagged())  # doctest: +SKIP
    >>> results = memorisation_probe(backend_generate, docs, mode="answer")  # doctest: +SKIP
    """
    if not 0.0 < prefix_fraction < 1.0:
        raise ConfigError(f"prefix_fraction must be strictly between 0 and 1, got {prefix_fraction!r}")
    if mode not in ("continue", "answer"):
        raise ConfigError(f"probe mode must be 'continue' or 'answer', got {mode!r}")
    chats: list[Chat] = []
    plans: list[tuple[str, str, str]] = []  # (mode, prefix, target)
    for doc in train_examples:
        if mode == "answer" and doc.answer.strip():
            # Asked as training asked (the whole conversation before the answer, its system turn
            # included), compared with the answer as written (not the key-sorted form used for
            # matching: a model reproduces what it was taught).
            if doc.context and doc.written_answer:
                chats.append([{"role": r, "content": c} for r, c in doc.context])
                plans.append(("answer", doc.prompt, doc.written_answer))
            else:
                chats.append([{"role": "user", "content": doc.prompt}])
                plans.append(("answer", doc.prompt, doc.answer))
            continue
        if len(doc.text.split()) < 2:
            raise ConfigError(f"training example {doc.location} has fewer than 2 words; nothing to probe")
        prefix, target = _split(doc.text, prefix_fraction)
        chats.append([{"role": "user", "content": CONTINUE_INSTRUCTION + prefix}])
        plans.append(("continue", prefix, target))
    outputs = list(generate(chats)) if chats else []
    if len(outputs) != len(chats):
        raise ConfigError(
            f"generate returned {len(outputs)} completions for {len(chats)} chats; expected one per chat"
        )
    results: list[ProbeResult] = []
    for doc, (used, prefix, target), output in zip(train_examples, plans, outputs, strict=True):
        n, pre, run = overlap(output, target)
        results.append(
            ProbeResult(
                source=doc.location,
                mode=used,
                prefix=prefix,
                target=target,
                output=output,
                target_words=n,
                prefix_match_words=pre,
                longest_common_words=run,
                memorised=n > 0 and run / n >= threshold,
            )
        )
    return results


def probe_summary(results: Sequence[ProbeResult]) -> dict[str, Any]:
    """Aggregate figures for results.json: how many examples, how many memorised, mean overlap."""
    n = len(results)
    return {
        "n": n,
        "memorised": sum(r.memorised for r in results),
        "mean_longest_common_fraction": round(sum(r.longest_common_fraction for r in results) / n, 6)
        if n
        else None,
        "mean_prefix_match_fraction": round(sum(r.prefix_match_fraction for r in results) / n, 6)
        if n
        else None,
        "results": [r.to_dict() for r in results],
    }
