"""The Hugging Face runtime: dtype names, loading, the cache keyword and shared-prefix keys/values."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from tunegate.harness.errors import ModelLoadError
from tunegate.harness.models import runtime

# -- dtypes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bf16", "fp32", "fp16"])
def test_an_explicit_dtype_is_kept_on_every_device(name: str) -> None:
    assert runtime.resolve_dtype(name, "cpu") == name
    assert runtime.resolve_dtype(name, "cuda:1") == name


def test_torch_dtypes_behind_the_names() -> None:
    assert [runtime.torch_dtype(n) for n in ("bf16", "fp32", "fp16")] == [
        torch.bfloat16,
        torch.float32,
        torch.float16,
    ]
    assert set(runtime.DTYPES) == {"auto", *runtime.TORCH_DTYPE_NAMES}


@pytest.mark.parametrize("has_bf16, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_on_cpu_is_bf16_only_where_the_cpu_has_it(
    monkeypatch: pytest.MonkeyPatch, has_bf16: bool, expected: str
) -> None:
    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: has_bf16)
    assert runtime.resolve_dtype("auto", "cpu") == expected


@pytest.mark.parametrize("has_bf16, expected", [(True, "bf16"), (False, "fp16")])
def test_auto_on_cuda_is_bf16_else_fp16(
    monkeypatch: pytest.MonkeyPatch, has_bf16: bool, expected: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: has_bf16)
    assert runtime.resolve_dtype("auto", "cuda") == expected
    assert runtime.resolve_dtype("auto", "cuda:0") == expected


def test_unknown_dtype_names_are_one_clear_error() -> None:
    with pytest.raises(
        ModelLoadError, match=r"unknown dtype 'fp8'; use one of \['auto', 'bf16', 'fp32', 'fp16'\]"
    ):
        runtime.resolve_dtype("fp8", "cpu")
    with pytest.raises(ModelLoadError, match=r"no torch dtype for 'auto'"):
        runtime.torch_dtype("auto")


# -- loading -----------------------------------------------------------------------------------


def test_load_a_hf_directory_in_the_asked_dtype(tiny_model_dir: Path) -> None:
    model, tok = runtime.load(tiny_model_dir, dtype="fp32")
    assert not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert tok.padding_side == "left"
    assert tok.pad_token_id is not None
    half, _ = runtime.load(str(tiny_model_dir), dtype="bf16")
    assert {p.dtype for p in half.parameters()} == {torch.bfloat16}
    # The same weights, only rounded: the two agree to bf16 precision.
    torch.testing.assert_close(
        half.get_input_embeddings().weight.float(),
        model.get_input_embeddings().weight,
        rtol=1e-2,
        atol=1e-2,
    )


def test_auto_dtype_loads_what_resolve_dtype_says(tiny_model_dir: Path) -> None:
    model, _ = runtime.load(tiny_model_dir, dtype="auto")
    assert next(model.parameters()).dtype == runtime.torch_dtype(runtime.resolve_dtype("auto", "cpu"))


def test_padding_side_is_left_alone_when_not_asked(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    _, tok = runtime.load(tiny_model_dir, dtype="fp32", padding_side=None)
    assert tok.padding_side == AutoTokenizer.from_pretrained(tiny_model_dir).padding_side


def test_a_tokenizer_without_pad_token_pads_with_eos(tiny_model_dir: Path, tmp_path: Path) -> None:
    import json

    copy = tmp_path / "nopad"
    shutil.copytree(tiny_model_dir, copy)
    cfg_path = copy / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("pad_token", None)
    cfg_path.write_text(json.dumps(cfg))
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(copy).pad_token is None
    tok = runtime.load_tokenizer(copy)
    assert tok.pad_token is not None and tok.pad_token == tok.eos_token


def test_load_failures_are_model_load_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="has no config.json"):
        runtime.load(tmp_path, dtype="fp32")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match=r"cannot load model from .*broken"):
        runtime.load(broken, dtype="fp32")
    with pytest.raises(ModelLoadError, match=r"unknown quantization 'int3'; use 'none' or 'nf4'"):
        runtime.load(tiny_model_dir, dtype="fp32", quantization="int3")


def test_an_unreachable_hub_id_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # a relative "org/name" must not exist as a folder
    with pytest.raises(
        ModelLoadError, match=r"cannot fetch base model 'no-such-org/no-such-model'.*HF_HUB_OFFLINE"
    ):
        runtime.load("no-such-org/no-such-model", dtype="fp32", cache_dir=tmp_path)


def test_the_gguf_alias_loads_from_its_converted_checkpoint() -> None:
    from tunegate.harness.models.resolve import DEFAULT_ALIAS, resolve_base

    model, tok = runtime.load(DEFAULT_ALIAS, dtype="bf16")
    assert model.config.model_type == "llama"
    assert next(model.parameters()).dtype == torch.bfloat16
    assert tok.chat_template
    assert (resolve_base(DEFAULT_ALIAS) / "config.json").exists()


# -- cache keyword -----------------------------------------------------------------------------


def test_cache_kwarg_names_a_parameter_of_forward_also_under_peft(
    tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    import inspect

    from peft import PeftModel

    model, _ = runtime.load(tiny_model_dir, dtype="fp32")
    kwarg = runtime.cache_kwarg(model)
    assert kwarg in inspect.signature(model.forward).parameters
    assert kwarg in inspect.signature(runtime.decoder(model).forward).parameters
    wrapped = PeftModel.from_pretrained(model, str(tiny_adapter_dir))
    assert runtime.cache_kwarg(wrapped) == kwarg
    assert runtime.decoder(wrapped) is runtime.decoder(model)


# -- shared prefixes ---------------------------------------------------------------------------


def test_common_prefix() -> None:
    assert runtime.common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert runtime.common_prefix([1, 2], [1, 2, 3]) == 2
    assert runtime.common_prefix([5], [1]) == 0
    assert runtime.common_prefix([], [1]) == 0


def test_shared_prefix_length_leaves_every_row_a_token_and_skips_short_shares() -> None:
    head = list(range(100, 120))
    seqs = [head + [1, 2], head + [3], head + [1, 5, 6]]
    assert runtime.shared_prefix_length(seqs) == 20
    assert runtime.shared_prefix_length([head, head + [1]]) == 19  # the shorter keeps its last token
    assert runtime.shared_prefix_length(seqs, limit=17) == 17
    assert runtime.shared_prefix_length(seqs, limit=15) == 0  # under MIN_SHARED_PREFIX
    assert runtime.shared_prefix_length(seqs, min_length=21) == 0
    assert runtime.shared_prefix_length([head[:10] + [1], head[:10] + [2]]) == 0
    assert runtime.shared_prefix_length([head + [1]]) == 20  # one sequence: all but its last token
    assert runtime.shared_prefix_length([]) == 0


@pytest.fixture(scope="module")
def model_and_ids(tiny_model_dir: Path) -> tuple[Any, Any]:
    model, _ = runtime.load(tiny_model_dir, dtype="fp32")
    torch.manual_seed(5)
    with torch.no_grad():  # larger weights than the init, so positions really differ
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    head = torch.randint(0, 1000, (1, 24))
    tails = torch.randint(0, 1000, (3, 7))
    return model, torch.cat([head.expand(3, -1), tails], dim=1)


def test_prefix_keys_and_values_equal_those_of_a_full_forward(model_and_ids: tuple[Any, Any]) -> None:
    from transformers import DynamicCache

    model, ids = model_and_ids
    full = DynamicCache()
    with torch.inference_mode():
        model(input_ids=ids[:1], use_cache=True, **{runtime.cache_kwarg(model): full})
        prefix = runtime.prefix_cache(model, ids[:1, :24])
    assert len(prefix.layers) == len(full.layers) == model.config.num_hidden_layers
    for mine, whole in zip(prefix.layers, full.layers, strict=True):
        assert mine.keys.shape[-2] == 24
        torch.testing.assert_close(mine.keys, whole.keys[:, :, :24], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(mine.values, whole.values[:, :, :24], rtol=1e-5, atol=1e-5)


def test_rows_after_a_broadcast_prefix_match_a_full_forward(model_and_ids: tuple[Any, Any]) -> None:
    model, ids = model_and_ids
    with torch.inference_mode():
        expected = model(input_ids=ids).logits[:, 24:]
        prefix = runtime.prefix_cache(model, ids[:1, :24])
        before = [layer.keys.clone() for layer in prefix.layers]
        cache = runtime.broadcast_cache(prefix, 3)
        got = model(input_ids=ids[:, 24:], use_cache=True, **{runtime.cache_kwarg(model): cache}).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    # The prefix is untouched by the rows' forward, so it can serve the next batch.
    assert [layer.keys.shape[-2] for layer in prefix.layers] == [24] * len(before)
    for layer, kept in zip(prefix.layers, before, strict=True):
        assert torch.equal(layer.keys, kept)
    assert all(
        layer.keys.shape == (3, *before[0].shape[1:-2], 31, before[0].shape[-1]) for layer in cache.layers
    )


# -- the CPU allocator ---------------------------------------------------------------------------

_FAULTS = """
import ctypes, resource, sys
sys.path.insert(0, {root!r})
from tunegate.harness.models.runtime import keep_freed_memory
tuned = keep_freed_memory() if {tune} else False
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
block = 3 * 1024 * 1024
faults = []
for _ in range(5):  # a forward's activations: ten 3 MB blocks, used, freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    ptrs = [libc.malloc(block) for _ in range(10)]
    for p in ptrs:
        ctypes.memset(p, 1, block)
    for p in reversed(ptrs):
        libc.free(p)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(tuned, sum(faults[2:]))
"""


def _faults(tune: bool) -> tuple[str, int]:
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[3])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS.format(root=root, tune=tune)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="glibc/Linux page-fault counters")
def test_freed_memory_is_reused_instead_of_faulted_in_again() -> None:
    tuned, tuned_faults = _faults(True)
    plain, plain_faults = _faults(False)
    assert (tuned, plain) == ("True", "False")
    # 30 MB used and freed per round: glibc's defaults trim it and fault it in again each round
    assert plain_faults > 3 * 7000
    assert tuned_faults < plain_faults / 10


def test_the_allocator_is_left_alone_where_the_user_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_LIBC", None)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert runtime.keep_freed_memory() is False
