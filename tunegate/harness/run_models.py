"""The models of a run, once: the base, each candidate and the reference in production (``--reference``),
each checked against the base it was trained on before anything loads, and each adapter-effect probe."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.harness.data import Suite
from tunegate.harness.errors import ConfigError, ModelLoadError
from tunegate.harness.handles import AdapterHasNoEffect, ModelHandle, candidate_labels, reference_label
from tunegate.harness.models.base import ModelSpec, SupportsAdapterProbe, backend_info
from tunegate.harness.options import RunOptions

Outputs = Callable[[ModelHandle, Suite], list[str]]


class RunModels:
    """``base``, ``candidates`` and ``reference`` (None without ``--reference``) of a run
    (``ModelHandle``), the notes their checks wrote, and the adapter-effect probe of each candidate
    (``adapter_checks``, by label)."""

    def __init__(self, options: RunOptions, outputs: Outputs | None = None) -> None:
        self.options = options
        self.notes: list[str] = []
        self.adapter_checks: dict[str, dict[str, Any]] = {}
        o = options
        quantization = self._check_candidates()
        extra: dict[str, Any] = o.backend_options()
        if o.batch_size:
            extra["batch_size"] = o.batch_size
        if getattr(o, "threads", 0):
            extra["threads"] = o.threads
        if o.base_url:
            extra["base_url"] = o.base_url
        if getattr(o, "allow_pickle", False):
            extra["allow_pickle"] = True
        self.base = ModelHandle(
            "base", ModelSpec(o.base, None, o.backend, o.dtype, quantization, "base", extra), o.cache_path, outputs
        )
        labels = candidate_labels(o.candidate)
        self.candidates = [
            ModelHandle(lab, ModelSpec(o.base, c, o.backend, o.dtype, quantization, lab, extra), o.cache_path, outputs)
            for lab, c in zip(labels, o.candidate, strict=True)
        ]
        self.reference: ModelHandle | None = None
        ref = getattr(o, "reference", "")
        if ref:
            lab = reference_label(ref, labels)
            self.reference = ModelHandle(
                lab, ModelSpec(o.base, ref, o.backend, o.dtype, quantization, lab, extra), o.cache_path, outputs
            )

    @property
    def adapters(self) -> list[ModelHandle]:
        """The candidates, then the reference: every model that is the base plus an adapter."""
        return [*self.candidates, *([self.reference] if self.reference is not None else [])]

    def _check_candidates(self) -> str:
        """Refuse adapters trained on another base or not fitting it; resolve ``--quantization auto``.

        Runs when the run is configured, before any model loads generation weights: an adapter
        whose recorded base (adapter_config.json, tunegate.json's base fingerprint) is not ``--base``
        is a ConfigError naming both (``--allow-base-mismatch`` overrides); LoRA weights whose
        shapes do not fit their config's rank or the base's modules and widths are a ModelLoadError
        (``adapter_weights``); a QLoRA adapter is gated against the NF4 base it was trained on
        unless ``--quantization none`` says otherwise.
        """
        o = self.options
        asked = getattr(o, "quantization", "none")
        reference = getattr(o, "reference", "")
        dirs = [("--candidate", c) for c in o.candidate] + ([("--reference", reference)] if reference else [])
        if not dirs or not backend_info(o.backend).local_weights:
            return "none" if asked == "auto" else asked
        from tunegate.harness.models.adapter_weights import check_adapter_weights
        from tunegate.harness.models.adapters import check_adapter_base, check_model_dir
        from tunegate.harness.models.resolve import resolve_base

        allow_pickle = bool(getattr(o, "allow_pickle", False))
        base_dir = resolve_base(o.base, o.cache_path)
        self.notes.extend(check_model_dir(base_dir, role="base", allow_pickle=allow_pickle))
        recommended: set[str] = set()
        for flag, c in dirs:
            if not Path(c).is_dir():
                raise ConfigError(f"{flag}={c!r}: no such directory; pass an adapter dir (adapter_config.json) or a full model dir")
            try:
                self.notes.extend(check_model_dir(Path(c), role="candidate", allow_pickle=allow_pickle))
                check = check_adapter_base(
                    Path(c),
                    base_spec=o.base,
                    base_dir=base_dir,
                    quantization=asked,
                    allow_mismatch=bool(getattr(o, "allow_base_mismatch", False)),
                )
                # After the base check: a wrong base is the better message when the names already say so.
                check_adapter_weights(Path(c), base_dir=base_dir)
            except (ConfigError, ModelLoadError) as exc:
                if flag == "--candidate":
                    raise
                raise ConfigError(f"--reference={c!r}: {exc}") from None
            self.notes.extend(n for n in check.notes if n.startswith(("BASE MISMATCH", "adapter")))
            recommended.add(check.recommended_quantization)
        if asked != "auto":
            return asked
        if len(recommended) > 1:
            raise ConfigError(
                "the candidates (and the reference) were trained on differently quantized bases (QLoRA on NF4 "
                "and LoRA on the full-precision base) and share one base here; gate them in two runs, or pick one with "
                "--quantization nf4 or --quantization none"
            )
        chosen = recommended.pop() if recommended else "none"
        if chosen == "nf4":
            self.notes.append("the QLoRA adapter is gated against the NF4 base it was trained on (--quantization auto)")
        return chosen

    def check_adapter(self, model: ModelHandle, suite: Suite) -> None:
        if model.label in self.adapter_checks:
            return
        backend = model.backend
        if not isinstance(backend, SupportsAdapterProbe):
            self.adapter_checks[model.label] = {"checked": False, "reason": f"the {model.spec.backend!r} backend has no probe"}
            return
        result = backend.adapter_effect([it.messages for it in suite.items[:4]])
        self.adapter_checks[model.label] = result
        if result.get("adapter_logits_sound") is False and result.get("base_logits_sound") is True:
            dtype = result.get("dtype") or model.spec.dtype
            fix = (
                "fp16's range (65504) is the likely cause: gate it at --dtype bf16 (or fp32), and retrain with a "
                "lower learning rate only if that fails too"
                if dtype == "fp16"
                else "its weights are far too large (a training that diverged) and the adapter can only write "
                "garbage; retrain with a lower learning rate"
            )
            raise ModelLoadError(
                f"candidate {model.label!r} ({model.spec.adapter}): with the adapter on, the model's next-token "
                f"logits are NaN, infinite or one value over the whole vocabulary on a probe batch of "
                f"{result.get('probe_size')} prompt(s) (the base's are sound, in {dtype}): {fix}"
            )
        if result.get("no_effect"):
            warnings.warn(
                f"ADAPTER HAS NO EFFECT: candidate {model.label!r} ({model.spec.adapter}) gives logits identical "
                "to the base on a probe batch. Its LoRA weights are zero or were not applied; the comparison "
                "below measures the base against itself.",
                AdapterHasNoEffect,
                stacklevel=2,
            )
