"""The vllm backend.

Three layers: (1) without vLLM, creating the backend says what to install; (2) the plumbing
(engine sharing, LoRA requests, prompts, sampling settings, order) against a recording stand-in
for vLLM's documented ``LLM`` / ``SamplingParams`` / ``LoRARequest`` API, which checks our code,
not vLLM's; (3) real generation, only where vLLM and a CUDA GPU exist (skipped elsewhere).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tunegate.harness.data import Message  # noqa: E402
from tunegate.harness.errors import ConfigError, ModelLoadError, UnsafeAdapterError  # noqa: E402
from tunegate.harness.models import vllm as vllm_backend  # noqa: E402
from tunegate.harness.models.base import BACKENDS, Backend, GenerationParams, GenerationRequest, ModelSpec  # noqa: E402

PROMPTS = ["What is the capital of France?", "Add 2 and 3.", "Say hi.", "Name a colour.", "Count to three."]


def _reqs(n_tokens: int = 8, stop: tuple[str, ...] = ()) -> list[GenerationRequest]:
    params = GenerationParams(max_new_tokens=n_tokens, stop=stop)
    return [GenerationRequest(str(i), (Message("user", p),), params) for i, p in enumerate(PROMPTS)]


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    # Forget engines between tests; clear_engines() also collects garbage, which is slow and
    # only matters where a real engine holds GPU memory.
    vllm_backend._ENGINES.clear()
    yield
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        vllm_backend.clear_engines()
    vllm_backend._ENGINES.clear()


def test_without_vllm_creating_the_backend_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError
    assert "vllm" in BACKENDS  # registered all the same: the module imports without vLLM
    with pytest.raises(
        ModelLoadError, match=r"pip install 'vllm>=0.8' on a machine with an NVIDIA GPU"
    ):
        BACKENDS.get("vllm")(ModelSpec(base="smollm2-135m-instruct", backend="vllm"), cache_dir="")


# --- plumbing, against a recording stand-in for vLLM's API ---------------------------------------


class RecordingLLM:
    """Records constructor kwargs and generate calls; answers with the prompt length."""

    instances: list[RecordingLLM] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[dict[str, Any]] = []
        RecordingLLM.instances.append(self)

    def generate(self, prompts: list[Any], sampling_params: list[Any], **kwargs: Any) -> list[Any]:
        self.calls.append({"prompts": prompts, "sampling": sampling_params, **kwargs})
        loras = kwargs.get("lora_request") or [None] * len(prompts)
        outs = []
        for prompt, sp, lora in zip(prompts, sampling_params, loras, strict=True):
            tag = "base" if lora is None else lora.lora_name
            n = min(sp.kwargs["max_tokens"], 3)
            finish = "length" if n == sp.kwargs["max_tokens"] else "stop"
            best = types.SimpleNamespace(
                text=f"{tag}:{len(prompt['prompt_token_ids'])}",
                token_ids=list(range(n)),
                finish_reason=finish,
            )
            outs.append(types.SimpleNamespace(outputs=[best]))
        return outs


class RecordingSamplingParams:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class RecordingLoRARequest:
    def __init__(self, lora_name: str, lora_int_id: int, lora_path: str) -> None:
        self.lora_name, self.lora_int_id, self.lora_path = lora_name, lora_int_id, lora_path


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> type[RecordingLLM]:
    vllm = types.ModuleType("vllm")
    vllm.LLM = RecordingLLM  # type: ignore[attr-defined]
    vllm.SamplingParams = RecordingSamplingParams  # type: ignore[attr-defined]
    vllm.__version__ = "0.0-stand-in"  # type: ignore[attr-defined]
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = RecordingLoRARequest  # type: ignore[attr-defined]
    for name, module in (("vllm", vllm), ("vllm.lora", lora), ("vllm.lora.request", request)):
        monkeypatch.setitem(sys.modules, name, module)
    RecordingLLM.instances = []
    return RecordingLLM


def _spec(base: Path, adapter: Path | None = None, /, **options: Any) -> ModelSpec:
    return ModelSpec(
        str(base), str(adapter) if adapter else None, backend="vllm", dtype="fp32", options=options
    )


def test_base_and_adapters_share_one_engine_with_one_lora_request_each(
    stand_in: type[RecordingLLM],
    tiny_model_dir: Path,
    tiny_adapter_dir: Path,
    tiny_zero_adapter_dir: Path,
    tmp_path: Path,
) -> None:
    cache = str(tmp_path)
    base = BACKENDS.get("vllm")(_spec(tiny_model_dir), cache_dir=cache)
    cand_a = BACKENDS.get("vllm")(_spec(tiny_model_dir, tiny_adapter_dir), cache_dir=cache)
    cand_b = BACKENDS.get("vllm")(_spec(tiny_model_dir, tiny_zero_adapter_dir), cache_dir=cache)
    assert all(isinstance(b, Backend) for b in (base, cand_a, cand_b))
    assert not stand_in.instances  # nothing loads until something must be generated

    outs = {name: b.generate(_reqs()) for name, b in [("base", base), ("a", cand_a), ("b", cand_b)]}
    [engine] = stand_in.instances  # the base was loaded once for all three
    assert engine.kwargs["enable_lora"] is True and engine.kwargs["max_lora_rank"] == 64
    assert engine.kwargs["dtype"] == "float32" and engine.kwargs["model"] == str(tiny_model_dir.resolve())

    assert isinstance(cand_a, vllm_backend.VLLMBackend) and isinstance(cand_b, vllm_backend.VLLMBackend)
    ids = {cand_a.lora.lora_int_id, cand_b.lora.lora_int_id}
    assert len(ids) == 2 and min(ids) >= 1
    assert cand_a.lora.lora_path == str(tiny_adapter_dir.resolve())
    base_call, a_call, _ = engine.calls
    assert base_call["lora_request"] is None
    assert all(r is cand_a.lora for r in a_call["lora_request"])
    assert [c.text.split(":")[0] for c in outs["a"]] == [cand_a.lora.lora_name] * len(PROMPTS)
    assert len({base.fingerprint, cand_a.fingerprint, cand_b.fingerprint}) == 3


def test_prompts_match_the_hf_backend_token_for_token(
    stand_in: type[RecordingLLM], tiny_model_dir: Path, tmp_path: Path
) -> None:
    from tunegate.harness.models.hf import HFBackend

    backend = BACKENDS.get("vllm")(_spec(tiny_model_dir), cache_dir=str(tmp_path))
    hf = HFBackend(ModelSpec(str(tiny_model_dir), dtype="fp32"), cache_dir=str(tmp_path))
    chat = (Message("system", "Reply in JSON."), Message("user", "My invoice is wrong."))
    assert backend.render(chat) == hf.render(chat)

    backend.generate([GenerationRequest("x", chat)])
    [call] = stand_in.instances[0].calls
    expected = hf.engine.tokenizer(hf.render(chat), add_special_tokens=False)["input_ids"]
    assert call["prompts"] == [{"prompt_token_ids": expected}]


def test_decoding_is_greedy_with_stop_strings_and_end_of_turn_ids(
    stand_in: type[RecordingLLM], tiny_model_dir: Path, tmp_path: Path
) -> None:
    backend = BACKENDS.get("vllm")(_spec(tiny_model_dir), cache_dir=str(tmp_path))
    reqs = _reqs(n_tokens=2, stop=("\n\n",)) + [GenerationRequest("long", (Message("user", "hi"),))]
    out = backend.generate(reqs)
    [call] = stand_in.instances[0].calls
    sp = call["sampling"][0].kwargs
    assert sp["temperature"] == 0.0 and sp["n"] == 1
    assert sp["max_tokens"] == 2 and sp["stop"] == ["\n\n"]
    assert isinstance(backend, vllm_backend.VLLMBackend)
    assert backend.tokenizer.eos_token_id in sp["stop_token_ids"]
    assert call["sampling"][-1].kwargs["max_tokens"] == 256  # per-request parameters
    assert call["sampling"][0] is call["sampling"][1]  # one SamplingParams per distinct setting
    assert [c.finish_reason for c in out] == ["length"] * len(PROMPTS) + ["stop"]
    assert [c.n_tokens for c in out] == [2] * len(PROMPTS) + [3]


def test_engine_options_are_passed_through(
    stand_in: type[RecordingLLM], tiny_model_dir: Path, tmp_path: Path
) -> None:
    options: dict[str, Any] = {
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.5,
        "max_lora_rank": 16,
        "max_loras": 2,
        "max_model_len": 1024,
        "enforce_eager": True,
    }
    backend = BACKENDS.get("vllm")(_spec(tiny_model_dir, **options), cache_dir=str(tmp_path))
    backend.generate(_reqs()[:1])
    kwargs = stand_in.instances[0].kwargs
    assert {k: kwargs[k] for k in options} == options
    assert "quantization" not in kwargs and "data_parallel_size" not in kwargs
    # different engine options -> a different engine; the same options -> the same one
    BACKENDS.get("vllm")(_spec(tiny_model_dir, **options), cache_dir=str(tmp_path)).generate(_reqs()[:1])
    BACKENDS.get("vllm")(_spec(tiny_model_dir), cache_dir=str(tmp_path)).generate(_reqs()[:1])
    assert len(stand_in.instances) == 2


def test_nf4_loads_bitsandbytes_in_flight(
    stand_in: type[RecordingLLM], tiny_model_dir: Path, tmp_path: Path
) -> None:
    spec = ModelSpec(str(tiny_model_dir), backend="vllm", dtype="bf16", quantization="nf4")
    BACKENDS.get("vllm")(spec, cache_dir=str(tmp_path)).generate(_reqs()[:1])
    assert stand_in.instances[0].kwargs["quantization"] == "bitsandbytes"


def test_data_parallel_without_a_launcher_points_to_vllm_serve(
    stand_in: type[RecordingLLM], tiny_model_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"data_parallel_size=2.*--data-parallel-size 2.*--backend openai"):
        BACKENDS.get("vllm")(_spec(tiny_model_dir, data_parallel_size=2), cache_dir=str(tmp_path))
    spec = _spec(tiny_model_dir, data_parallel_size=2, distributed_executor_backend="external_launcher")
    BACKENDS.get("vllm")(spec, cache_dir=str(tmp_path)).generate(_reqs()[:1])
    assert stand_in.instances[0].kwargs["data_parallel_size"] == 2


def test_an_adapter_above_max_lora_rank_says_which_rank_to_set(
    stand_in: type[RecordingLLM], tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    wide = tmp_path / "wide-adapter"
    shutil.copytree(tiny_adapter_dir, wide)
    config = json.loads((wide / "adapter_config.json").read_text())
    (wide / "adapter_config.json").write_text(json.dumps({**config, "r": 100}))
    with pytest.raises(
        ConfigError, match=r"rank r=100, above options.max_lora_rank=64; set options.max_lora_rank: 128"
    ):
        BACKENDS.get("vllm")(_spec(tiny_model_dir, wide), cache_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"max_lora_rank must be one of \[8, 16, .*got 100"):
        BACKENDS.get("vllm")(_spec(tiny_model_dir, max_lora_rank=100), cache_dir=str(tmp_path))


def test_unknown_option_is_rejected_with_the_allowed_keys(
    stand_in: type[RecordingLLM], tiny_model_dir: Path
) -> None:
    with pytest.raises(
        ConfigError, match=r"tensor_paralel_size: unknown option.*allowed keys"
    ):
        BACKENDS.get("vllm")(_spec(tiny_model_dir, tensor_paralel_size=2), cache_dir="")


def test_pickle_adapters_are_refused(
    stand_in: type[RecordingLLM], tiny_model_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "pickled"
    bad.mkdir()
    (bad / "adapter_config.json").write_text('{"r": 4}')
    (bad / "adapter_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(UnsafeAdapterError, match="pickle"):
        BACKENDS.get("vllm")(_spec(tiny_model_dir, bad), cache_dir=str(tmp_path))


# --- real generation: needs vLLM and a CUDA GPU ---------------------------------------------


def _require_gpu_vllm() -> None:
    pytest.importorskip(
        "vllm", reason="vLLM is not installed (pip install 'vllm>=0.8' on a GPU machine)"
    )
    import torch

    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU; none is visible")


@pytest.fixture(scope="module")
def smollm2_lora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    _require_gpu_vllm()
    from tests.tinymodels import build_lora_adapter, smollm2_dir

    base = smollm2_dir()
    effect = build_lora_adapter(base, tmp_path_factory.mktemp("lora-effect"), scale=0.5)
    zero = build_lora_adapter(base, tmp_path_factory.mktemp("lora-zero"), zero_b=True)
    return base, effect, zero


@pytest.mark.gpu
@pytest.mark.slow
def test_real_vllm_multi_lora_generation(smollm2_lora: tuple[Path, Path, Path], tmp_path: Path) -> None:
    base_dir, effect_dir, zero_dir = smollm2_lora
    opts = {"gpu_memory_utilization": 0.3, "max_model_len": 2048, "enforce_eager": True}
    base = BACKENDS.get("vllm")(
        ModelSpec(str(base_dir), backend="vllm", dtype="fp32", options=opts), cache_dir=str(tmp_path)
    )
    zero = BACKENDS.get("vllm")(
        ModelSpec(str(base_dir), str(zero_dir), backend="vllm", dtype="fp32", options=opts),
        cache_dir=str(tmp_path),
    )
    effect = BACKENDS.get("vllm")(
        ModelSpec(str(base_dir), str(effect_dir), backend="vllm", dtype="fp32", options=opts),
        cache_dir=str(tmp_path),
    )
    reqs = _reqs(n_tokens=12)
    out_base = [c.text for c in base.generate(reqs)]
    assert [c.text for c in base.generate(list(reversed(reqs)))] == list(
        reversed(out_base)
    )  # greedy, in order
    assert [c.text for c in zero.generate(reqs)] == out_base  # a no-op adapter changes nothing
    assert [c.text for c in effect.generate(reqs)] != out_base
    assert len(vllm_backend._ENGINES) == 1  # one base for all three


@pytest.mark.gpu
@pytest.mark.slow
def test_real_vllm_agrees_with_hf_on_most_greedy_outputs(
    smollm2_lora: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from tunegate.harness.models.hf import HFBackend

    base_dir, _, _ = smollm2_lora
    opts = {"gpu_memory_utilization": 0.3, "max_model_len": 2048, "enforce_eager": True}
    vllm_out = BACKENDS.get("vllm")(
        ModelSpec(str(base_dir), backend="vllm", dtype="fp32", options=opts), cache_dir=str(tmp_path)
    ).generate(_reqs(n_tokens=8))
    hf_out = HFBackend(ModelSpec(str(base_dir), dtype="fp32"), cache_dir=str(tmp_path)).generate(
        _reqs(n_tokens=8)
    )
    same = sum(a.text == b.text for a, b in zip(vllm_out, hf_out, strict=True))
    # Different kernels may flip a near-tie; identical prompts and decoding make most outputs equal.
    assert same >= 3, [(a.text, b.text) for a, b in zip(vllm_out, hf_out, strict=True)]
