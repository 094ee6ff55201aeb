"""What an answer cost: its tokens, its prompt's tokens and, where measured, its wall-clock time.

A run hands metrics its models' answers as ``Answer`` values: ``str`` (every metric reads them as
text) carrying the counts of the generation that produced them, cached or not. The cost metrics
(``tunegate.harness.metrics.cost``) read the counts; the run's item rows keep them for the cost
section of results.json (``tunegate.harness.cost``).

Counts are the backend's own: the model's tokenizer for local models (hf, vllm), the server's
``usage`` for the openai backend, whitespace-separated words for the fake backend. ``latency_s``
is set only where a backend times a request honestly (the openai backend: send to full reply, as
this machine saw it) and only for answers generated in this run; a cached answer was not timed.
"""

from __future__ import annotations

from typing import Any

from tunegate.harness.models.base import Completion


class Answer(str):
    """A model's answer (the text) with ``answer_tokens``, ``prompt_tokens`` and ``latency_s``
    (None where not known), and whether it came from the response cache (``cached``).

    >>> a = Answer("Refund issued.", answer_tokens=4, prompt_tokens=31)
    >>> a == "Refund issued.", a.answer_tokens, a.request_tokens, a.latency_s
    (True, 4, 35, None)
    """

    answer_tokens: int | None
    prompt_tokens: int | None
    latency_s: float | None
    cached: bool

    def __new__(
        cls,
        text: str,
        *,
        answer_tokens: int | None = None,
        prompt_tokens: int | None = None,
        latency_s: float | None = None,
        cached: bool = False,
    ) -> Answer:
        self = super().__new__(cls, text)
        self.answer_tokens = answer_tokens
        self.prompt_tokens = prompt_tokens
        self.latency_s = latency_s
        self.cached = cached
        return self

    @classmethod
    def of(cls, completion: Completion) -> Answer:
        return cls(
            completion.text,
            answer_tokens=completion.n_tokens,
            prompt_tokens=completion.prompt_tokens,
            latency_s=completion.latency_s,
            cached=completion.cached,
        )

    @property
    def request_tokens(self) -> int | None:
        """Prompt plus answer: what the request cost in tokens (None when either is unknown)."""
        if self.answer_tokens is None or self.prompt_tokens is None:
            return None
        return self.prompt_tokens + self.answer_tokens

    def usage(self) -> dict[str, Any]:
        """The item row's ``usage`` entry of this answer (results.json ``items[].usage[<model>]``)."""
        return {
            "answer_tokens": self.answer_tokens,
            "prompt_tokens": self.prompt_tokens,
            "latency_s": self.latency_s,
            "cached": self.cached,
        }


def answer_usage(output: str) -> Answer | None:
    """``output`` as an ``Answer`` when it carries its counts (a run's output), else None."""
    return output if isinstance(output, Answer) else None


__all__ = ["Answer", "answer_usage"]
