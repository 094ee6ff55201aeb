"""The vllm backend: offline ``vllm.LLM``, the base loaded once, each adapter a ``LoRARequest``.

Every ``VLLMBackend`` of a process that shares a base (and the engine options) shares one
engine, built with ``enable_lora=True`` on first use; the base's own outputs are requests
without a LoRA, each candidate adapter is a ``LoRARequest`` with its own id and name. So
``--candidate A --candidate B`` costs one base load, and vLLM batches all three models' requests
through the same weights.

Prompts are rendered exactly as the hf backend renders them (``tunegate.harness.models.chat.render_prompt``
with the checkpoint's tokenizer), tokenised without extra special tokens, and decoded greedily
with the same end-of-turn ids. vLLM's kernels differ from transformers', so outputs can differ
in the last digits of a logit; the fingerprint therefore names the backend, and the two never
share cache entries.

vLLM pins its own CUDA build of torch and is not installed by default; importing this module
works without it, creating a backend does not (the error says what to install). Engine options
come from ``ModelSpec.options`` (see ``VLLMOptions``).
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunegate.harness.data import Message
from tunegate.harness.errors import ConfigError, ModelLoadError
from tunegate.harness.fingerprint import HashMemo, digest, dir_digest
from tunegate.harness.models.adapters import classify_adapter
from tunegate.harness.models.base import (
    Completion,
    GenerationParams,
    GenerationRequest,
    ModelSpec,
    register_backend,
)
from tunegate.harness.models.chat import render_prompt
from tunegate.harness.models.resolve import resolve_base
from tunegate.harness.models.runtime import TORCH_DTYPE_NAMES
from tunegate.harness.validation import pydantic_problems

INSTALL_HINT = "pip install 'vllm>=0.8' on a machine with an NVIDIA GPU (vLLM brings its own CUDA torch)"
# Bump when generation code changes in a way that can change outputs: it is part of fingerprints.
GENERATION_VERSION = "vllm-greedy-1"
VLLM_DTYPES = TORCH_DTYPE_NAMES  # tunegate dtype name -> vLLM dtype= string
LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM accepts for max_lora_rank


class VLLMOptions(BaseModel):
    """``ModelSpec.options`` of the vllm backend, passed through to ``vllm.LLM``. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tensor_parallel_size: int = Field(default=1, ge=1, description="GPUs that split each layer")
    data_parallel_size: int = Field(
        default=1, ge=1, description="engine replicas; vLLM runs them offline only under an external launcher"
    )
    distributed_executor_backend: str | None = Field(
        default=None, description="'mp', 'ray' or 'external_launcher' (torchrun); None lets vLLM choose"
    )
    gpu_memory_utilization: float = Field(
        default=0.85, gt=0, le=1, description="share of GPU memory vLLM may take"
    )
    max_lora_rank: int = Field(
        default=64, description=f"largest adapter rank served; one of {list(LORA_RANKS)}"
    )
    max_loras: int = Field(default=4, ge=1, description="adapters resident on the GPU at once")
    max_model_len: int | None = Field(default=None, ge=1, description="context length (None: the model's)")
    enforce_eager: bool = Field(
        default=False, description="skip CUDA graph capture (faster start, slower decode)"
    )
    batch_size: int | None = Field(
        default=None, ge=0, description="accepted for --batch-size parity; vLLM schedules its own batches"
    )


def _options(spec: ModelSpec) -> VLLMOptions:
    try:
        options = VLLMOptions(**spec.options)
    except ValidationError as exc:
        problems = "; ".join(
            pydantic_problems(exc, f"invalid options for the vllm backend ({spec.name})", unknown="unknown option")
        )
        raise ConfigError(f"{problems}; allowed keys: {sorted(VLLMOptions.model_fields)}") from None
    if options.max_lora_rank not in LORA_RANKS:
        raise ConfigError(
            f"options.max_lora_rank must be one of {list(LORA_RANKS)}, got {options.max_lora_rank}"
        )
    if options.data_parallel_size > 1 and options.distributed_executor_backend != "external_launcher":
        raise ConfigError(
            f"options.data_parallel_size={options.data_parallel_size}: vLLM's offline engine cannot run data "
            "parallel inside one process. Either serve the model (vllm serve BASE --enable-lora --lora-modules "
            f"NAME=ADAPTER --data-parallel-size {options.data_parallel_size}) and use --backend openai with "
            "base_url=http://HOST:8000/v1, or launch one process per rank with torchrun and set "
            "options.distributed_executor_backend: external_launcher"
        )
    return options


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise ModelLoadError(f"the vllm backend needs vLLM; install it with: {INSTALL_HINT}") from None
    return vllm


@dataclass(frozen=True)
class EngineKey:
    """Everything that makes two engines different. Specs with equal keys share one engine."""

    model_dir: str
    dtype: str
    quantization: str
    tensor_parallel_size: int
    data_parallel_size: int
    distributed_executor_backend: str | None
    gpu_memory_utilization: float
    max_lora_rank: int
    max_loras: int
    max_model_len: int | None
    enforce_eager: bool

    def llm_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model_dir,
            "tokenizer": self.model_dir,
            "dtype": VLLM_DTYPES[self.dtype],
            "tensor_parallel_size": self.tensor_parallel_size,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "enable_lora": True,
            "max_lora_rank": self.max_lora_rank,
            "max_loras": self.max_loras,
            "enforce_eager": self.enforce_eager,
            "seed": 0,
        }
        if self.quantization == "nf4":
            kwargs["quantization"] = "bitsandbytes"  # in-flight 4-bit NF4, as QLoRA trained against
        if self.data_parallel_size > 1:
            kwargs["data_parallel_size"] = self.data_parallel_size
        if self.distributed_executor_backend:
            kwargs["distributed_executor_backend"] = self.distributed_executor_backend
        if self.max_model_len:
            kwargs["max_model_len"] = self.max_model_len
        return kwargs


_ENGINES: dict[EngineKey, Any] = {}
_LORA_IDS: dict[str, int] = {}
_TOKENIZERS: dict[str, Any] = {}
_LOCK = threading.Lock()
_GENERATE_LOCK = threading.Lock()


def get_engine(key: EngineKey) -> Any:
    """The process's ``vllm.LLM`` for ``key``, built on first use."""
    with _LOCK:
        if key not in _ENGINES:
            vllm = _import_vllm()
            try:
                _ENGINES[key] = vllm.LLM(**key.llm_kwargs())
            except Exception as exc:
                raise ModelLoadError(
                    f"vLLM could not load {key.model_dir} ({type(exc).__name__}: {exc}); if the GPU ran out of "
                    "memory, lower options.gpu_memory_utilization or options.max_model_len, or raise "
                    "options.tensor_parallel_size"
                ) from exc
        return _ENGINES[key]


def get_tokenizer(model_dir: Path) -> Any:
    """The checkpoint's tokenizer, loaded once per directory (the base and every adapter share it)."""
    key = str(model_dir.resolve())
    with _LOCK:
        if key not in _TOKENIZERS:
            from transformers import AutoTokenizer

            try:
                _TOKENIZERS[key] = AutoTokenizer.from_pretrained(model_dir)
            except Exception as exc:
                raise ModelLoadError(f"cannot load the tokenizer of {model_dir}: {exc}") from None
        return _TOKENIZERS[key]


def clear_engines() -> None:
    """Drop every engine (frees GPU memory once nothing else holds them)."""
    with _LOCK:
        _ENGINES.clear()
        _TOKENIZERS.clear()
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def lora_id(adapter_dir: Path) -> int:
    """A stable positive id per adapter directory for this process (vLLM keys its LoRA cache by it)."""
    key = str(adapter_dir.resolve())
    with _LOCK:
        if key not in _LORA_IDS:
            _LORA_IDS[key] = len(_LORA_IDS) + 1
        return _LORA_IDS[key]


def adapter_rank(adapter_dir: Path) -> int:
    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        return int(config.get("r", 0))
    except (OSError, ValueError, TypeError) as exc:
        raise ModelLoadError(f"cannot read {adapter_dir / 'adapter_config.json'}: {exc}") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _eos_ids(model_dir: Path, tokenizer: Any) -> list[int]:
    """End-of-turn ids as the hf backend uses them: the generation config's eos plus the tokenizer's."""
    ids: set[int] = set()
    # transformers derives the generation config from config.json when generation_config.json is absent.
    gen_eos = _read_json(model_dir / "generation_config.json").get("eos_token_id")
    if gen_eos is None:
        gen_eos = _read_json(model_dir / "config.json").get("eos_token_id")
    for value in (gen_eos, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(int(v) for v in value)
    return sorted(ids)


class VLLMBackend:
    """The base of a shared vLLM engine, or the base with one adapter (a LoRARequest)."""

    def __init__(self, spec: ModelSpec, *, cache_dir: str) -> None:
        self._vllm = _import_vllm()  # first: without vLLM nothing below can work
        self.spec = spec
        self.options = _options(spec)
        if spec.dtype != "auto" and spec.dtype not in VLLM_DTYPES:
            raise ConfigError(f"unknown dtype {spec.dtype!r}; use one of {['auto', *VLLM_DTYPES]}")
        if spec.quantization not in ("none", "nf4"):
            raise ConfigError(f"unknown quantization {spec.quantization!r}; use 'none' or 'nf4'")
        base_dir = resolve_base(spec.base, cache_dir)
        self.adapter_dir: Path | None = None
        self.kind = "base"
        model_dir = base_dir
        if spec.adapter:
            self.kind = classify_adapter(Path(spec.adapter), allow_pickle=bool(spec.options.get("allow_pickle")))
            if self.kind == "full":
                model_dir = Path(spec.adapter)
            else:
                self.adapter_dir = Path(spec.adapter)
                rank = adapter_rank(self.adapter_dir)
                if rank > self.options.max_lora_rank:
                    fit = next((r for r in LORA_RANKS if r >= rank), LORA_RANKS[-1])
                    raise ConfigError(
                        f"adapter {spec.adapter} has rank r={rank}, above options.max_lora_rank="
                        f"{self.options.max_lora_rank}; set options.max_lora_rank: {fit} (for every model of the "
                        "run, so the base and its adapters share one engine)"
                    )
        self.model_dir = model_dir
        self.tokenizer = get_tokenizer(model_dir)
        self.eos_ids = _eos_ids(model_dir, self.tokenizer)
        self.key = EngineKey(
            model_dir=str(model_dir.resolve()),
            dtype=self._resolve_dtype(spec.dtype),
            quantization=spec.quantization,
            tensor_parallel_size=self.options.tensor_parallel_size,
            data_parallel_size=self.options.data_parallel_size,
            distributed_executor_backend=self.options.distributed_executor_backend,
            gpu_memory_utilization=self.options.gpu_memory_utilization,
            max_lora_rank=self.options.max_lora_rank,
            max_loras=self.options.max_loras,
            max_model_len=self.options.max_model_len,
            enforce_eager=self.options.enforce_eager,
        )
        self.lora: Any = None
        if self.adapter_dir is not None:
            from vllm.lora.request import LoRARequest

            ident = lora_id(self.adapter_dir)
            self.lora = LoRARequest(
                f"{self.adapter_dir.name}-{ident}", ident, str(self.adapter_dir.resolve())
            )
        self._memo = HashMemo(Path(cache_dir)) if cache_dir else HashMemo(None)
        self._fingerprint: str | None = None

    @staticmethod
    def _resolve_dtype(requested: str) -> str:
        if requested != "auto":
            return requested
        import torch

        # Decided here, not by vLLM, so the fingerprint names the dtype that actually runs.
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp16"

    @property
    def engine(self) -> Any:
        """The shared engine (loaded on first use: a run served from the cache never loads it)."""
        return get_engine(self.key)

    # --- identity ---------------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = digest(
                {
                    "backend": "vllm",
                    "model": dir_digest(self.model_dir, self._memo),
                    "adapter": dir_digest(self.adapter_dir, self._memo) if self.adapter_dir else None,
                    "chat_template": self.tokenizer.chat_template,
                    "dtype": self.key.dtype,
                    "quantization": self.key.quantization,
                    "tensor_parallel_size": self.key.tensor_parallel_size,
                    "vllm": getattr(self._vllm, "__version__", "unknown"),
                    "generation": GENERATION_VERSION,
                }
            )
        return self._fingerprint

    def render(self, messages: Sequence[Message]) -> str:
        return render_prompt(self.tokenizer, messages)

    def describe(self) -> dict[str, Any]:
        import torch

        return {
            "backend": "vllm",
            "kind": self.kind,
            "model_dir": self.key.model_dir,
            "adapter_dir": str(self.adapter_dir) if self.adapter_dir else None,
            "lora": {"name": self.lora.lora_name, "id": self.lora.lora_int_id}
            if self.lora is not None
            else None,
            "dtype": self.key.dtype,
            "quantization": self.key.quantization,
            "engine": {k: v for k, v in self.key.llm_kwargs().items() if k not in ("model", "tokenizer")},
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
            "versions": {"vllm": getattr(self._vllm, "__version__", "unknown"), "torch": torch.__version__},
        }

    # --- generation -------------------------------------------------------------------------

    def sampling_params(self, params: GenerationParams) -> Any:
        # Explicit greedy settings: vLLM applies a model's generation_config defaults (repetition
        # penalty, top-k) only when no SamplingParams are given, and must not here.
        return self._vllm.SamplingParams(
            n=1,
            temperature=0.0,
            max_tokens=params.max_new_tokens,
            stop=list(params.stop) or None,
            stop_token_ids=self.eos_ids or None,
            skip_special_tokens=True,
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        if not requests:
            return []
        prompts = [
            {
                "prompt_token_ids": self.tokenizer(self.render(r.messages), add_special_tokens=False)[
                    "input_ids"
                ]
            }
            for r in requests
        ]
        by_params: dict[GenerationParams, Any] = {}
        for r in requests:
            if r.params not in by_params:
                by_params[r.params] = self.sampling_params(r.params)
        engine = self.engine
        with _GENERATE_LOCK:  # one vllm.LLM is not safe to drive from two threads
            outputs = engine.generate(
                prompts,
                [by_params[r.params] for r in requests],
                lora_request=[self.lora] * len(requests) if self.lora is not None else None,
                use_tqdm=False,
            )
        if len(outputs) != len(requests):
            raise ModelLoadError(f"vLLM returned {len(outputs)} outputs for {len(requests)} prompts")
        completions = []
        for out in outputs:  # vLLM returns outputs in prompt order
            best = out.outputs[0]
            completions.append(
                Completion(
                    text=best.text,
                    n_tokens=len(best.token_ids),
                    prompt_tokens=len(ids) if (ids := getattr(out, "prompt_token_ids", None)) is not None else None,
                    finish_reason="length" if best.finish_reason == "length" else "stop",
                )
            )
        return completions


@register_backend("vllm", local_weights=True, loggers=("vllm",))
def create(spec: ModelSpec, *, cache_dir: str) -> VLLMBackend:
    return VLLMBackend(spec, cache_dir=cache_dir)
