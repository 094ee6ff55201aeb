"""The Hugging Face backend: transformers + peft, greedy, batched, on CPU or CUDA.

One ``HFEngine`` holds a loaded base model and every adapter loaded onto it (unmerged, through
peft); each ``HFBackend`` is a view of that engine with one adapter active (or none, for the
base). So ``--candidate A --candidate B`` loads the base once and switches adapters with
``set_adapter``; the base's own outputs come from the same weights under ``disable_adapter()``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tunegate.harness.data import Message
from tunegate.harness.errors import ModelLoadError
from tunegate.harness.fingerprint import HashMemo, digest, dir_digest
from tunegate.harness.models.adapters import PICKLE_SUFFIXES, classify_adapter  # noqa: F401 (re-export)
from tunegate.harness.models.base import (
    Completion,
    GenerationParams,
    GenerationRequest,
    ModelSpec,
    register_backend,
)
from tunegate.harness.models.chat import render_prompt
from tunegate.harness.models.context import check_context, context_length
from tunegate.harness.models.decode import greedy_generate
from tunegate.harness.models.numerics import numerics_tag
from tunegate.harness.models.quiet import quiet
from tunegate.harness.models.resolve import resolve_base
from tunegate.harness.models.runtime import (  # noqa: F401 (DTYPES, cpu_supports_bf16, _torch_dtype: re-exports)
    DTYPES,
    cpu_supports_bf16,
    keep_freed_memory,
    load,
    release_freed_memory,
    resolve_dtype,
    unwrap,
)
from tunegate.harness.models.runtime import torch_dtype as _torch_dtype  # noqa: F401 (re-export)
from tunegate.harness.models.threads import apply_threads

# Bump when generation code changes in a way that can change outputs: it is part of fingerprints.
GENERATION_VERSION = "hf-greedy-5"

_ENGINES: dict[tuple[str, str, str, str], HFEngine] = {}
_LOCK = threading.Lock()


class HFEngine:
    """A loaded base model (+ tokenizer) and the peft adapters loaded onto it."""

    def __init__(self, model_dir: Path, *, dtype: str, quantization: str, device: str) -> None:
        self.model_dir = model_dir
        self.device = device
        self.dtype = resolve_dtype(dtype, device)
        self.quantization = quantization
        self.model, self.tokenizer = load(
            model_dir, dtype=self.dtype, quantization=quantization, device=device
        )
        if device == "cpu":
            keep_freed_memory()
        self.adapters: dict[str, Path] = {}
        self.lock = threading.Lock()

    @property
    def is_peft(self) -> bool:
        return bool(self.adapters)

    def load_adapter(self, path: Path) -> str:
        resolved = path.resolve()
        for name, p in self.adapters.items():
            if p == resolved:
                return name
        name = f"adapter{len(self.adapters)}"
        try:
            with quiet():  # peft's imports and calls warn about things that are not the user's
                if not self.adapters:
                    from peft import PeftModel

                    self.model = PeftModel.from_pretrained(
                        self.model,
                        str(resolved),
                        adapter_name=name,
                        is_trainable=False,
                        autocast_adapter_dtype=False,
                    )
                else:
                    self.model.load_adapter(str(resolved), adapter_name=name, is_trainable=False)
        except Exception as exc:
            raise ModelLoadError(f"cannot load adapter {path} onto {self.model_dir}: {exc}") from None
        self.model.eval()
        self.adapters[name] = resolved
        return name

    @contextlib.contextmanager
    def active(self, adapter: str | None) -> Iterator[Any]:
        """Run with ``adapter`` active, or the plain base when None."""
        if not self.is_peft:
            yield self.model
        elif adapter is None:
            with self.model.disable_adapter():
                yield self.model
        else:
            self.model.set_adapter(adapter)
            yield self.model


def get_engine(model_dir: Path, *, dtype: str, quantization: str, device: str) -> HFEngine:
    key = (str(model_dir.resolve()), dtype, quantization, device)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = HFEngine(model_dir, dtype=dtype, quantization=quantization, device=device)
        return _ENGINES[key]


def clear_engines() -> None:
    _ENGINES.clear()


class HFBackend:
    """A view of an ``HFEngine``: the base, or the base with one adapter active."""

    def __init__(self, spec: ModelSpec, *, cache_dir: str) -> None:
        import torch

        self.spec = spec
        device = str(spec.options.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.batch_size = int(spec.options.get("batch_size") or 64)
        base_dir = resolve_base(spec.base, cache_dir)
        self.adapter_dir: Path | None = None
        model_dir = base_dir
        kind = "base"
        if spec.adapter:
            kind = classify_adapter(Path(spec.adapter), allow_pickle=bool(spec.options.get("allow_pickle")))
            if kind == "full":
                model_dir = Path(spec.adapter)
            else:
                self.adapter_dir = Path(spec.adapter)
        self.kind = kind
        self.threads = apply_threads(int(spec.options.get("threads") or 0)) if device == "cpu" else None
        self.engine = get_engine(model_dir, dtype=spec.dtype, quantization=spec.quantization, device=device)
        self.adapter_name = self.engine.load_adapter(self.adapter_dir) if self.adapter_dir else None
        self._memo = HashMemo(Path(cache_dir))
        self._fingerprint: str | None = None
        self._base_dir = base_dir

    # -- identity ---------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = digest(
                {
                    "backend": "hf",
                    "model": dir_digest(self.engine.model_dir, self._memo),
                    "adapter": dir_digest(self.adapter_dir, self._memo) if self.adapter_dir else None,
                    "chat_template": self.engine.tokenizer.chat_template,
                    "dtype": self.engine.dtype,
                    "quantization": self.engine.quantization,
                    "generation": GENERATION_VERSION,
                    "numerics": numerics_tag(self.engine.device),
                }
            )
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        import torch
        import transformers

        with quiet():
            import peft

        return {
            "backend": "hf",
            "kind": self.kind,
            "model_dir": str(self.engine.model_dir),
            "adapter_dir": str(self.adapter_dir) if self.adapter_dir else None,
            "dtype": self.engine.dtype,
            "dtype_reason": "requested"
            if self.spec.dtype != "auto"
            else "auto: bf16 where the hardware has it",
            "quantization": self.engine.quantization,
            "device": self.engine.device,
            "batch_size": self.batch_size,
            "threads": self.threads.describe() if self.threads else None,
            "numerics": numerics_tag(self.engine.device) + self._loop_note(),
            "versions": {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "peft": peft.__version__,
            },
        }

    def _loop_note(self) -> str:
        """Empty where the slot loop generates (texts independent of the batch); otherwise a note
        for the run header and results.json that this architecture's texts may depend on it."""
        from tunegate.harness.models.slots import supports_slots

        if supports_slots(self.engine.model):
            return ""
        kind = getattr(unwrap(self.engine.model).config, "model_type", "?")
        return f" · batched loop ({kind}): a text may depend on the other prompts of its batch"

    # -- generation -------------------------------------------------------------------------
    def render(self, messages: Sequence[Message]) -> str:
        return render_prompt(self.engine.tokenizer, messages)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        if not requests:
            return []
        groups: dict[GenerationParams, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.params, []).append(i)
        out: list[Completion | None] = [None] * len(requests)
        with self.engine.lock, self.engine.active(self.adapter_name) as model:
            for params, idx in groups.items():
                prompts = [self.render(requests[i].messages) for i in idx]
                check_context(
                    self.engine.tokenizer,
                    context_length(model, self.engine.tokenizer),
                    [(requests[i].id, text) for i, text in zip(idx, prompts, strict=True)],
                    max_new_tokens=params.max_new_tokens,
                    model=self.spec.label or self.spec.name,
                )
                texts = greedy_generate(
                    model,
                    self.engine.tokenizer,
                    prompts,
                    max_new_tokens=params.max_new_tokens,
                    stop=params.stop,
                    batch_size=self.batch_size,
                    device=self.engine.device,
                    desc=self.spec.label or self.spec.name,
                )
                for i, c in zip(idx, texts, strict=True):
                    out[i] = c
        if self.engine.device == "cpu":
            release_freed_memory()
        return [c for c in out if c is not None]

    # -- adapter check ----------------------------------------------------------------------
    @contextmanager
    def scoring_model(self) -> Iterator[tuple[Any, Any, bool]]:
        """The model with this candidate's adapter active and its tokenizer, under the engine lock
        (``SupportsDrift``): the base distribution of an adapter is the same model with it disabled."""
        with self.engine.lock, self.engine.active(self.adapter_name) as model:
            yield model, self.engine.tokenizer, self.adapter_name is not None

    def adapter_effect(self, messages: Sequence[Sequence[Message]]) -> dict[str, Any]:
        """Compare next-token logits with the adapter on and off on a probe batch."""
        import torch

        if self.adapter_name is None:
            return {"checked": False, "reason": "not a peft adapter"}
        tok = self.engine.tokenizer
        prompts = [self.render(m) for m in messages]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.engine.device)
        with self.engine.lock, torch.inference_mode():
            with self.engine.active(self.adapter_name) as model:
                with_adapter = model(**enc).logits[:, -1, :].float()
            with self.engine.active(None) as model:
                without = model(**enc).logits[:, -1, :].float()
        diff = float((with_adapter - without).abs().max())
        same_argmax = bool(torch.equal(with_adapter.argmax(-1), without.argmax(-1)))
        return {
            "checked": True,
            "probe_size": len(prompts),
            "max_abs_logit_diff": diff,
            "same_next_token": same_argmax,
            "no_effect": diff == 0.0,
            # NaN, inf or one value over the whole vocabulary (a norm layer's answer to an overflow):
            # with the adapter on and not off, its weights overflow this dtype or hold NaN.
            "adapter_logits_sound": _sound(with_adapter),
            "base_logits_sound": _sound(without),
            "dtype": self.engine.dtype,
        }


def _sound(logits: Any) -> bool:
    """Finite next-token logits that are not one value over the whole vocabulary, on every row."""
    import torch

    spread = logits.amax(-1) - logits.amin(-1)
    return bool(torch.isfinite(logits).all() and (spread > 0).all())


@register_backend("hf", local_weights=True, capabilities=("drift", "adapter_probe"))
def create(spec: ModelSpec, *, cache_dir: str) -> HFBackend:
    return HFBackend(spec, cache_dir=cache_dir)
