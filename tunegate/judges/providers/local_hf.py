"""The ``local`` judge: a Hugging Face model in-process, scored by G-Eval probability weighting.

No sampling and no parsing: after the prompt (and the prefill ``Score: ``) the model's next-token
distribution is read, restricted to the score tokens, and the score is their probability-weighted
mean, ``sum_s p(s) * s / sum_s p(s)`` (G-Eval, Liu et al. 2023). Pairwise prompts read the
tokens ``A``, ``B`` and ``tie`` and take the most probable. When the score tokens hold less than
``min_mass`` of the probability, the model was not answering the question: that is a failure
with the top tokens as its text, never a score.

The offline default is SmolLM2-135M-Instruct (bf16 on CPU). It is small: expect it to agree
poorly with gold labels, which calibration measures and the advisory rule handles.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any, Literal

from tunegate.harness.errors import JudgeError
from tunegate.harness.models.resolve import DEFAULT_ALIAS, resolve_base
from tunegate.harness.models.runtime import (
    broadcast_cache,
    cache_kwarg,
    load,
    prefix_cache,
    shared_prefix_length,
)
from tunegate.harness.retry import Transient
from tunegate.judges.prompts import JudgePrompt, Output
from tunegate.judges.providers.base import (
    ProviderOptions,
    ProviderReply,
    parse_options,
    register_provider,
    settings_key,
)

_MODELS: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_LOCK = threading.Lock()


class LocalOptions(ProviderOptions):
    dtype: Literal["bf16", "fp32", "fp16"] = "bf16"
    device: str = "cpu"
    batch_size: int = 8
    """Prompts per forward pass."""
    min_mass: float = 0.01
    """Least next-token probability the answer labels must hold for the reading to count."""
    cache_dir: str | None = None
    """Where the GGUF alias is materialised (default: the tunegate cache dir)."""


class LocalProvider:
    name = "local"
    output: Output = "token"
    default_concurrency = 1
    deterministic = True

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.opts = parse_options(LocalOptions, options, self.name)
        if self.opts.batch_size < 1:
            raise JudgeError(f"the local judge's batch_size must be >= 1, got {self.opts.batch_size}")
        self.model = model or DEFAULT_ALIAS
        self.max_batch = self.opts.batch_size
        self._label_ids: dict[tuple[str, tuple[str, ...]], tuple[str, list[list[int]]]] = {}
        self._prefix: tuple[tuple[int, ...], Any] | None = None

    def classify(self, exc: BaseException) -> Transient | None:
        return None  # an in-process failure is a bug to see, not a blip to retry

    def _load(self) -> tuple[Any, Any]:
        path = resolve_base(self.model, self.opts.cache_dir)
        key = (str(path), self.opts.dtype, self.opts.device)
        with _LOCK:
            if key not in _MODELS:
                model, tok = load(path, dtype=self.opts.dtype, device=self.opts.device)
                _MODELS[key] = (tok, model)
            return _MODELS[key]

    def _labels(self, tok: Any, prefill: str, labels: tuple[str, ...]) -> tuple[str, list[list[int]]]:
        """(the prefill to use, the token ids that spell each label right after it).

        A label can be written with or without a leading space ("Winner: B" vs "Winner:B");
        every spelling that is one token after the prefill counts, and their probabilities are
        summed. Tokenizers differ on whether the space before a digit is its own token, so the
        prefill is tried as given ("Score: ") and without its trailing space.
        """
        found = self._label_ids.get((prefill, labels))
        if found is not None:
            return found
        for pre in dict.fromkeys((prefill, prefill.rstrip())):
            base = tok.encode(pre, add_special_tokens=False)
            ids: list[list[int]] = []
            for label in labels:
                spellings: list[int] = []
                for text in (label, " " + label):
                    full = tok.encode(pre + text, add_special_tokens=False)
                    if len(full) == len(base) + 1 and full[: len(base)] == base and full[-1] not in spellings:
                        spellings.append(full[-1])
                ids.append(spellings)
            flat = [t for group in ids for t in group]
            if all(ids) and len(set(flat)) == len(flat):
                self._label_ids[(prefill, labels)] = (pre, ids)
                return pre, ids
        raise JudgeError(
            f"the local judge model {self.model!r} cannot score the labels {list(labels)}: they are not single "
            "tokens after the prompt; use a rubric scale of single digits or another model"
        )

    async def complete(self, prompts: Sequence[JudgePrompt]) -> list[ProviderReply]:
        return await asyncio.to_thread(self._score, list(prompts))

    def _score(self, prompts: list[JudgePrompt]) -> list[ProviderReply]:
        import torch

        from tunegate.harness.models.chat import render_prompt

        tok, model = self._load()
        texts: list[str] = []
        label_ids: list[list[list[int]]] = []
        for p in prompts:
            pre, ids = self._labels(tok, p.prefill, tuple(label for label, _ in p.choices))
            texts.append(render_prompt(tok, p.messages()) + pre)
            label_ids.append(ids)
        probs, lengths = self._next_token_probs(tok, model, texts)
        replies: list[ProviderReply] = []
        for row, (p, ids) in enumerate(zip(prompts, label_ids, strict=True)):
            dist = probs[row]
            label_p = {
                label: float(dist[group].sum()) for (label, _), group in zip(p.choices, ids, strict=True)
            }
            mass = sum(label_p.values())
            shown = " ".join(f"p({k})={v:.4f}" for k, v in label_p.items())
            n_in = lengths[row]
            if mass < self.opts.min_mass:
                top = torch.topk(dist, 5)
                tops = ", ".join(
                    f"{tok.decode([int(i)])!r} {float(v):.3f}"
                    for v, i in zip(top.values, top.indices, strict=True)
                )
                replies.append(
                    ProviderReply(
                        f"{shown}; top tokens: {tops}",
                        None,
                        problem=f"the answer labels hold only {mass:.4f} of the next-token probability "
                        f"(min_mass={self.opts.min_mass})",
                        input_tokens=n_in,
                    )
                )
                continue
            norm = {k: v / mass for k, v in label_p.items()}
            verdict: dict[str, Any]
            if p.mode == "single":
                value = sum(norm[label] * v for label, v in p.choices)
                verdict = {"score": value, "probs": norm}
            else:
                verdict = {"winner": max(norm, key=lambda k: norm[k]), "probs": norm}
            replies.append(
                ProviderReply(f"{shown} (mass {mass:.4f})", verdict, weighted=True, input_tokens=n_in)
            )
        return replies

    def _next_token_probs(self, tok: Any, model: Any, texts: list[str]) -> tuple[Any, list[int]]:
        """Next-token probabilities after each text (fp32, one row per text) and the token counts.

        Judge prompts of one rubric share a long head (the system prompt with the rubric): its
        key/value cache is computed once and reused, so each prompt costs only its own tail. Tails
        are right-padded, so every real token keeps its true position.
        """
        import torch

        ids = [tok.encode(t, add_special_tokens=False) for t in texts]
        prefix = self._shared_prefix(model, ids)
        n_prefix = len(prefix[0]) if prefix is not None else 0
        tails = [x[n_prefix:] for x in ids]
        width = max(len(t) for t in tails)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        input_ids = torch.tensor([t + [pad] * (width - len(t)) for t in tails], device=self.opts.device)
        mask = torch.tensor(
            [[1] * (n_prefix + len(t)) + [0] * (width - len(t)) for t in tails], device=self.opts.device
        )
        last = torch.tensor([[len(t) - 1] for t in tails], device=self.opts.device)
        with torch.inference_mode():
            past = broadcast_cache(prefix[1], len(tails)) if prefix is not None else None
            out = model(
                input_ids=input_ids,
                attention_mask=mask,
                use_cache=past is not None,
                **{cache_kwarg(model): past},
                logits_to_keep=last,
            )
        probs = torch.softmax(out.logits.reshape(len(tails), -1).float(), dim=-1)
        return probs, [len(x) for x in ids]

    def _shared_prefix(self, model: Any, ids: list[list[int]]) -> tuple[tuple[int, ...], Any] | None:
        """(prefix tokens, their cache) shared by every prompt, leaving each at least one token;
        the last one is kept and reused while the prompts still start with it."""
        import torch

        if self._prefix is not None:
            head, cache = self._prefix
            if all(len(x) > len(head) and tuple(x[: len(head)]) == head for x in ids):
                return head, cache
        n = shared_prefix_length(ids)
        if not n:
            return None
        head = tuple(ids[0][:n])
        with torch.inference_mode():
            cache = prefix_cache(model, torch.tensor([head], device=self.opts.device))
        self._prefix = (head, cache)
        return self._prefix

    async def aclose(self) -> None:
        return None

    def settings_key(self) -> str:
        return settings_key(self.name, self.model, {"dtype": self.opts.dtype, "min_mass": self.opts.min_mass})

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "model": self.model,
            "dtype": self.opts.dtype,
            "device": self.opts.device,
            "scoring": "g-eval: probability-weighted mean over the score tokens",
            "min_mass": self.opts.min_mass,
        }


@register_provider("local", free=True)
def make_local(model: str | None = None, **options: Any) -> LocalProvider:
    return LocalProvider(model, **options)
