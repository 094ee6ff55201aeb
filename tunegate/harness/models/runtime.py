"""The Hugging Face runtime shared by the hf backend, the local judge and the trainer.

One place for what the three do alike with a transformers model:

- **dtypes**: the names tunegate accepts (``auto``, ``bf16``, ``fp32``, ``fp16``), what ``auto``
  becomes on a device (bf16 where the hardware has it), and the torch dtype behind a name;
- **loading**: a base spec (a Hugging Face directory, a ``.gguf`` file or the default alias, a
  Hub id: :func:`tunegate.harness.models.resolve.resolve_base`) to a tokenizer and a model in a dtype,
  optionally 4-bit NF4 through bitsandbytes; a failure is one :class:`ModelLoadError`;
- **the cache keyword**: transformers renamed ``past_key_values`` to ``cache`` (:func:`cache_kwarg`);
- **shared prefixes**: how many leading tokens a batch of prompts has in common
  (:func:`shared_prefix_length`), the keys/values of that prefix computed once
  (:func:`prefix_cache`) and handed to every row (:func:`broadcast_cache`).

The continuous-batching decoder (:mod:`tunegate.harness.models.slots`) finds its prefix groups with the
same :func:`common_prefix`, but computes a prefix's keys/values through its own packed prefill
into the slot buffers: its outputs must not depend on the batch (:mod:`tunegate.harness.models.attention`),
so it never runs a forward through the stock attention.

Nothing here imports torch or transformers at module level: option parsing imports ``Dtype``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from tunegate.harness.errors import ModelLoadError

Dtype = Literal["auto", "bf16", "fp32", "fp16"]
DTYPES: tuple[str, ...] = get_args(Dtype)
# tunegate's dtype names -> torch's (also vLLM's ``dtype=`` strings).
TORCH_DTYPE_NAMES = {"bf16": "bfloat16", "fp32": "float32", "fp16": "float16"}
# A shared prefix shorter than this is not worth a separate pass.
MIN_SHARED_PREFIX = 16


# -- dtypes ------------------------------------------------------------------------------------


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 matmuls (AVX512-BF16 or AMX): ~4x faster than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(requested: str, device: str) -> str:
    """The dtype name that runs on ``device``: ``requested``, or for ``auto`` bf16 where the
    hardware has it (else fp16 on CUDA, fp32 on CPU)."""
    if requested not in DTYPES:
        raise ModelLoadError(f"unknown dtype {requested!r}; use one of {list(DTYPES)}")
    if requested != "auto":
        return requested
    import torch

    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_supports_bf16() else "fp32"


def torch_dtype(name: str) -> Any:
    """The torch dtype of a resolved name (``bf16``, ``fp32``, ``fp16``)."""
    import torch

    if name not in TORCH_DTYPE_NAMES:
        raise ModelLoadError(f"no torch dtype for {name!r}; use one of {list(TORCH_DTYPE_NAMES)}")
    return getattr(torch, TORCH_DTYPE_NAMES[name])


# -- loading -----------------------------------------------------------------------------------


def load_tokenizer(model_dir: Path, *, padding_side: str | None = "left") -> Any:
    """The checkpoint's tokenizer, padding with EOS where it has no pad token."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model_dir)
    except Exception as exc:
        raise ModelLoadError(f"cannot load the tokenizer of {model_dir}: {exc}") from None
    if padding_side is not None:
        tok.padding_side = padding_side
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model_dir: Path, *, dtype: str, quantization: str = "none", device: str = "cpu") -> Any:
    """The causal LM in ``model_dir`` in eval mode: in ``dtype`` (a resolved name) on ``device``, or
    with 4-bit NF4 weights (double quantization, ``dtype`` as compute dtype) for ``nf4``."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype)}
    if quantization == "nf4":
        import warnings

        from transformers import BitsAndBytesConfig

        warnings.filterwarnings("ignore", message=".*kernels.*")
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype(dtype),
        )
        if device.startswith("cuda"):  # quantized weights are placed at load, never moved after
            import torch

            index = torch.device(device).index
            kwargs["device_map"] = {"": torch.cuda.current_device() if index is None else index}
    elif quantization != "none":
        raise ModelLoadError(f"unknown quantization {quantization!r}; use 'none' or 'nf4'")
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    except Exception as exc:
        raise ModelLoadError(f"cannot load model from {model_dir}: {exc}") from None
    if quantization == "none":
        model = model.to(device)
    model.eval()
    return model


def load(
    source: str | Path,
    *,
    dtype: str,
    quantization: str = "none",
    device: str = "cpu",
    cache_dir: str | Path | None = None,
    padding_side: str | None = "left",
) -> tuple[Any, Any]:
    """(model, tokenizer) of a base spec: a HF directory, a ``.gguf`` file or the default alias
    (converted once under ``cache_dir``), or a Hub id; ``dtype`` may be ``auto``."""
    from tunegate.harness.models.resolve import resolve_base

    model_dir = resolve_base(str(source), cache_dir)
    tok = load_tokenizer(model_dir, padding_side=padding_side)
    model = load_model(
        model_dir, dtype=resolve_dtype(dtype, device), quantization=quantization, device=device
    )
    return model, tok


# -- the CPU allocator -------------------------------------------------------------------------

# glibc's mallopt parameters, and the largest mmap threshold it accepts on 64-bit systems.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024
_LIBC: Any = None  # glibc, once keep_freed_memory has tuned it


def keep_freed_memory() -> bool:
    """Let glibc reuse freed tensor memory instead of handing it back to the kernel; True if set.

    A CPU forward allocates its activations afresh (a prefill's are a few MB each), and with its
    defaults glibc gives such blocks back to the kernel on free (its own ``mmap`` per block, or
    trimming the heap), so the next forward faults every page in again, zeroed by the kernel:
    ~890,000-990,000 page faults in a 200-prompt run on SmolLM2-135M, against ~99,000 with blocks
    up to 32 MB kept in the heap and up to 256 MB of free heap kept before trimming.
    :func:`release_freed_memory` hands it back once a whole generation is done. Leaves the
    allocator alone where the user set its environment variables, and off glibc (once per
    process)."""
    global _LIBC
    if _LIBC is not None:
        return True
    if any(k.startswith("MALLOC_") for k in os.environ) or "GLIBC_TUNABLES" in os.environ:
        return False
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return False
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "malloc_trim"):
        return False
    if libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD):
        _LIBC = libc
    return _LIBC is not None


def release_freed_memory() -> None:
    """After a generation: give the heap's free memory back to the kernel (``malloc_trim``), so
    what one model's generation kept for reuse does not add to the next one's peak."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


# -- model parts -------------------------------------------------------------------------------


def unwrap(model: Any) -> Any:
    """The transformers model under a peft wrapper (adapters stay injected in its layers)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def decoder(model: Any) -> Any:
    """The decoder body (embeddings and layers, no output head)."""
    return unwrap(model).get_decoder()


def cache_kwarg(model: Any) -> str:
    """transformers renamed ``past_key_values`` to ``cache`` in 5.x; use whichever forward takes."""
    import inspect

    return "cache" if "cache" in inspect.signature(unwrap(model).forward).parameters else "past_key_values"


# -- shared prefixes ---------------------------------------------------------------------------


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def shared_prefix_length(
    seqs: Sequence[Sequence[int]], *, limit: int | None = None, min_length: int = MIN_SHARED_PREFIX
) -> int:
    """Leading tokens every sequence of ``seqs`` has, leaving each at least one of its own (a
    forward after the prefix needs a position to predict from) and at most ``limit``; 0 when that
    is under ``min_length``."""
    if not seqs:
        return 0
    n = min(len(s) for s in seqs) - 1
    for s in seqs[1:]:
        n = min(n, common_prefix(seqs[0], s))
    if limit is not None:
        n = min(n, limit)
    return n if n >= min_length else 0


def prefix_cache(model: Any, ids: Any) -> Any:
    """The keys/values (a ``DynamicCache``) of ``ids``, one row ``[1, n]`` at positions ``0..n-1``,
    through the decoder body only (a cache needs no logits). Gradients flow where they are on."""
    from transformers import DynamicCache

    cache = DynamicCache()
    decoder(model)(input_ids=ids, use_cache=True, **{cache_kwarg(model): cache})
    return cache


def broadcast_cache(prefix: Any, rows: int) -> Any:
    """A fresh ``DynamicCache`` holding ``prefix``'s one row for each of ``rows`` rows.

    ``prefix`` is left as it was, so it can be reused; a backward pass sums the rows' gradients
    back into the one prefix pass."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for layer, held in enumerate(prefix.layers):
        cache.update(held.keys.expand(rows, -1, -1, -1), held.values.expand(rows, -1, -1, -1), layer)
    return cache
