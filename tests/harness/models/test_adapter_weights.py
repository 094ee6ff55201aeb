"""LoRA weights checked against their config and the base from the safetensors headers alone, on
adapters saved by peft for the tiny Llama and then damaged as real ones are."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tinymodels import build_lora_adapter, build_tiny_llama
from tunegate.harness.errors import ModelLoadError
from tunegate.harness.models.adapter_weights import check_adapter_weights
from tunegate.harness.options import RunOptions
from tunegate.harness.session import RunState

pytest_plugins = ["pytester"]

Q0_A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
SUITE = """
from pathlib import Path

from tunegate.harness.data import load_suite
from tunegate.harness.metrics import make_metric


def test_toy(compare):
    compare(load_suite(Path(__file__).parent / "toy.jsonl", max_new_tokens=4), make_metric("exact_match"))
"""


@pytest.fixture(scope="module")
def wide_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama at hidden size 96 (4 heads of 24): same modules, other widths."""
    return build_tiny_llama(tmp_path_factory.mktemp("wide-llama"), hidden=96, mlp=192)


def _copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst))


def _edit_config(adapter: Path, **changes: object) -> None:
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg.update(changes)
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))


def _rewrite(path: Path, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrite the safetensors file ``path`` with its tensors as ``edit`` returns them."""
    from safetensors.torch import load_file, save_file

    save_file(edit(load_file(path)), path, metadata={"format": "pt"})


def _edit_weights(adapter: Path, edit: Callable[[str], str | None]) -> None:
    """Rewrite the adapter's safetensors with each tensor renamed by ``edit`` (dropped on None)."""
    _rewrite(
        adapter / "adapter_model.safetensors",
        lambda tensors: {new: t for k, t in tensors.items() if (new := edit(k)) is not None},
    )


def test_an_adapter_saved_by_peft_passes(tiny_adapter_dir: Path, tiny_model_dir: Path) -> None:
    check_adapter_weights(tiny_adapter_dir, base_dir=tiny_model_dir)
    check_adapter_weights(tiny_adapter_dir)  # no base: the config checks alone
    check_adapter_weights(tiny_model_dir, base_dir=tiny_model_dir)  # a full model is not an adapter


def test_rank_in_the_config_that_is_not_the_weights_rank(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_config(adapter, r=8)
    with pytest.raises(ModelLoadError) as err:
        check_adapter_weights(adapter)
    assert str(err.value) == (
        f"adapter {adapter}/adapter_model.safetensors: tensor {Q0_A} is [4, 64], expected [8, 64]: the adapter "
        "was trained with r=4 but adapter_config.json says r=8; use the adapter_config.json saved with these "
        "weights. 7 other tensor(s) of this file have problems too"
    )
    _edit_config(adapter, r="8")
    with pytest.raises(ModelLoadError, match=r"adapter_config.json r is '8', expected a positive integer"):
        check_adapter_weights(adapter)


def test_rank_pattern_is_honoured(tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = build_lora_adapter(tiny_model_dir, tmp_path / "a", rank_pattern={"v_proj": 2})
    check_adapter_weights(adapter, base_dir=tiny_model_dir)
    _edit_config(adapter, rank_pattern={})
    with pytest.raises(
        ModelLoadError,
        match=r"layers\.0\.self_attn\.v_proj\.lora_A\.weight is \[2, 64\], expected \[4, 64\]: .*trained with r=2 but adapter_config.json says r=4",
    ):
        check_adapter_weights(adapter)
    _edit_config(adapter, rank_pattern={"v_proj": 3})
    with pytest.raises(
        ModelLoadError, match=r"trained with r=2 but adapter_config.json rank_pattern\['v_proj'\] says r=3"
    ):
        check_adapter_weights(adapter)


def test_half_of_a_pair_missing(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_weights(adapter, lambda k: None if "layers.1.self_attn.v_proj.lora_B" in k else k)
    with pytest.raises(ModelLoadError) as err:
        check_adapter_weights(adapter)
    assert str(err.value) == (
        f"adapter {adapter}/adapter_model.safetensors: tensor base_model.model.model.layers.1.self_attn.v_proj."
        "lora_A.weight has no matching lora_B (base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight "
        "is missing): the adapter file is incomplete: copy it again, or re-save it with "
        "save_pretrained(DIR, safe_serialization=True)"
    )


def test_module_the_base_does_not_have(tiny_adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_weights(adapter, lambda k: k.replace("layers.1.self_attn.q_proj", "layers.1.self_attn.qx_proj"))
    _edit_config(adapter, target_modules=["q_proj", "qx_proj", "v_proj"])
    with pytest.raises(ModelLoadError) as err:
        check_adapter_weights(adapter, base_dir=tiny_model_dir)
    assert str(err.value) == (
        f"adapter {adapter}/adapter_model.safetensors: tensor base_model.model.model.layers.1.self_attn.qx_proj."
        "lora_A.weight adapts module 'model.layers.1.self_attn.qx_proj', which the base does not have: the adapter "
        "was trained on another architecture or its tensors were renamed; pass the base it was trained on "
        "(--allow-base-mismatch cannot help: these weights do not fit this base). "
        "1 other tensor(s) of this file have problems too"
    )


def test_module_the_config_does_not_target(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_config(adapter, target_modules=["q_proj"])
    with pytest.raises(
        ModelLoadError,
        match=r"v_proj.lora_A.weight adapts module 'model.layers.0.self_attn.v_proj', which adapter_config.json target_modules \['q_proj'\] does not name \(peft would ignore it\)",
    ):
        check_adapter_weights(adapter)
    _edit_config(adapter, target_modules=r".*\.(q|v)_proj")  # a regex matched in full, as peft does
    check_adapter_weights(adapter)


def test_layer_beyond_the_base(tiny_adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_weights(adapter, lambda k: k.replace("layers.1.", "layers.5."))
    with pytest.raises(
        ModelLoadError,
        match=r"tensor base_model\.model\.model\.layers\.5\.self_attn\.q_proj\.lora_A\.weight adapts layer 5 but the base has num_hidden_layers=2 \(layers 0-1\): the adapter was trained on a deeper base; pass the base it was trained on",
    ):
        check_adapter_weights(adapter, base_dir=tiny_model_dir)
    # With peft's stacked copies of layers the names are not the base's: the layer checks step aside.
    _edit_config(adapter, layer_replication=[[0, 2], [0, 2]])
    check_adapter_weights(adapter, base_dir=tiny_model_dir)


def test_base_of_another_width(tiny_adapter_dir: Path, wide_base: Path) -> None:
    with pytest.raises(ModelLoadError) as err:
        check_adapter_weights(tiny_adapter_dir, base_dir=wide_base)
    assert str(err.value) == (
        f"adapter {tiny_adapter_dir}/adapter_model.safetensors: tensor {Q0_A} is [4, 64], expected [4, 96] for "
        "the base's q_proj (its weight model.layers.0.self_attn.q_proj.weight is [96, 96]): the adapter was "
        "trained on a base of another width; pass the base it was trained on (--allow-base-mismatch cannot help: these "
        "weights do not fit this base). 7 other tensor(s) of this file have problems too"
    )


def _rewrite_base(base: Path, edit: Callable[[str, Any], tuple[str, Any] | None], **config: object) -> None:
    """The base's tensors passed through ``edit`` (renamed, replaced, dropped on None); config keys set."""
    _rewrite(
        next(base.glob("*.safetensors")),
        lambda tensors: {kv[0]: kv[1] for k, t in tensors.items() if (kv := edit(k, t)) is not None},
    )
    cfg = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps({**cfg, **config}))


def test_base_with_packed_weights_is_checked_from_its_config(
    tiny_adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """A GPTQ-style base holds ``qweight`` (packed int32) instead of float weights: the widths come
    from its config."""
    import torch

    base = _copy(tiny_model_dir, tmp_path / "base")

    def pack(key: str, t: Any) -> tuple[str, Any]:
        if key.endswith("_proj.weight"):
            return key.replace(".weight", ".qweight"), torch.zeros(t.shape[1] // 8, t.shape[0], dtype=torch.int32)
        return key, t

    _rewrite_base(base, pack, num_key_value_heads=4)
    with pytest.raises(
        ModelLoadError,
        match=r"tensor base_model\.model\.model\.layers\.0\.self_attn\.v_proj\.lora_B\.weight is \[32, 4\], expected \[64, 4\] for the base's v_proj \(hidden_size=64, num_key_value_heads=4 x head_dim=16\)",
    ):
        check_adapter_weights(tiny_adapter_dir, base_dir=base)


def test_projection_widths_come_from_the_base_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A gated-attention base (Qwen3-Next, Qwen3.5) has q_proj twice the heads' width; its weight
    says so, and an adapter trained on it fits."""
    import torch

    base = _copy(tiny_model_dir, tmp_path / "base")
    _rewrite_base(base, lambda k, t: (k, torch.cat([t, t]) if k.endswith("q_proj.weight") else t))
    adapter = _copy(build_lora_adapter(tiny_model_dir, tmp_path / "a0"), tmp_path / "a")  # q_proj B doubled:
    _rewrite(
        adapter / "adapter_model.safetensors",
        lambda tensors: {k: torch.cat([t, t]) if "q_proj.lora_B" in k else t for k, t in tensors.items()},
    )
    check_adapter_weights(adapter, base_dir=base)  # [128, 4] B against a [128, 64] q_proj
    with pytest.raises(ModelLoadError, match=r"expected \[64, 4\] for the base's q_proj \(its weight model\.layers\.0\.self_attn\.q_proj\.weight is \[64, 64\]\)"):
        check_adapter_weights(adapter, base_dir=tiny_model_dir)


def test_run_refuses_before_any_model_loads(tiny_adapter_dir: Path, wide_base: Path, tmp_path: Path) -> None:
    # --allow-base-mismatch lets the names differ; the widths still cannot.
    options = RunOptions(  # type: ignore[call-arg]
        base=str(wide_base), candidate=(str(tiny_adapter_dir),), dtype="fp32", cache_dir=str(tmp_path / "cache"),
        allow_base_mismatch=True,
    )  # fmt: skip
    with pytest.raises(ModelLoadError, match=r"expected \[4, 96\] for the base's q_proj"):
        RunState(options)


def _run_toy_suite(
    pytester: pytest.Pytester, base: Path, adapter: Path, cache: Path, dtype: str = "fp32"
) -> pytest.RunResult:
    """A one-item suite gated through the pytest plugin, in a subprocess, base vs ``adapter``."""
    item = {"id": "q0", "messages": [{"role": "user", "content": "Say red."}], "reference": "red"}
    (pytester.path / "toy.jsonl").write_text(json.dumps(item) + "\n")
    pytester.makepyfile(test_toy=SUITE)
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--base", str(base), "--candidate", str(adapter), "--dtype", dtype,
        "--cache-dir", str(cache),
    )  # fmt: skip


def test_plugin_stops_with_one_error_line(
    pytester: pytest.Pytester, tiny_adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_config(adapter, r=16)
    res = _run_toy_suite(pytester, tiny_model_dir, adapter, tmp_path / "cache")
    err = res.stderr.str()
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        f"ERROR: adapter {adapter}/adapter_model.safetensors: tensor {Q0_A} is [4, 64], expected [16, 64]"
        in err
    )
    assert "Traceback" not in err + res.stdout.str() and "generate base" not in err + res.stdout.str()


def test_modules_the_config_targets_without_weights(
    tiny_adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # peft loads this with a warning and B = 0 on layer 1's v_proj: applied to part of the model.
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_weights(adapter, lambda k: None if "layers.1.self_attn.v_proj" in k else k)
    _edit_config(adapter, target_modules=["q_proj", "v_proj"])  # peft saves a set, in any order
    with pytest.raises(ModelLoadError) as err:
        check_adapter_weights(adapter, base_dir=tiny_model_dir)
    assert str(err.value) == (
        f"adapter {adapter}/adapter_model.safetensors: holds no lora weights for 1 module(s) of the base that "
        "adapter_config.json has peft adapt (target_modules ['q_proj', 'v_proj']): model.layers.1.self_attn.v_proj. "
        "peft would load it with B = 0 there and the adapter would be gated applied to part of the model. Either "
        "the file is incomplete (copy it again, or re-save it with save_pretrained(DIR, safe_serialization=True)) "
        "or this adapter_config.json is not the one saved with these weights (use that one; modules left out on "
        "purpose belong in exclude_modules)"
    )
    check_adapter_weights(adapter)  # without the base's module names there is nothing to compare
    _edit_config(adapter, exclude_modules=["model.layers.1.self_attn.v_proj"])
    check_adapter_weights(adapter, base_dir=tiny_model_dir)
    _edit_config(adapter, exclude_modules=None, layers_to_transform=[0])  # then layer 1's q_proj is the odd one
    with pytest.raises(
        ModelLoadError,
        match=r"tensor base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight adapts layer 1, which "
        r"adapter_config.json layers_to_transform \[0\] leaves out \(peft would ignore it\); use the adapter_config",
    ):
        check_adapter_weights(adapter)
    _edit_config(adapter, target_modules="all-linear", layers_to_transform=None)
    with pytest.raises(ModelLoadError, match=r"holds no lora weights for 11 module\(s\) .*\(target_modules 'all-linear'\): "
                       r"model.layers.0.mlp.down_proj, model.layers.0.mlp.gate_proj, model.layers.0.mlp.up_proj and 8 more"):  # fmt: skip
        check_adapter_weights(adapter, base_dir=tiny_model_dir)


def test_modules_peft_leaves_unadapted_are_not_missing(
    tiny_adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_weights(adapter, lambda k: None if "layers.1." in k else k)
    _edit_config(adapter, target_modules=["q_proj", "v_proj"])
    with pytest.raises(ModelLoadError, match=r"holds no lora weights for 2 module\(s\)"):
        check_adapter_weights(adapter, base_dir=tiny_model_dir)
    # A layer saved whole (modules_to_save) has no lora weights in peft either.
    _edit_config(adapter, modules_to_save=["layers.1"])
    check_adapter_weights(adapter, base_dir=tiny_model_dir)
    # Layers beyond num_hidden_layers (multi-token-prediction heads some checkpoints append) and
    # other stacks (a draft model's "mtp.layers.0...") are not built by transformers, nor adapted.
    _edit_config(adapter, modules_to_save=None)
    base = _copy(tiny_model_dir, tmp_path / "base")

    def with_extra_layers(tensors: dict[str, Any]) -> dict[str, Any]:
        layer0 = {k: v for k, v in tensors.items() if k.startswith("model.layers.0.")}
        tensors |= {k.replace("layers.0.", "layers.2."): v.clone() for k, v in layer0.items()}
        return tensors | {"mtp." + k[len("model.") :]: v.clone() for k, v in layer0.items()}

    _rewrite(next(base.glob("*.safetensors")), with_extra_layers)
    _edit_config(adapter, layers_to_transform=[0])
    check_adapter_weights(adapter, base_dir=base)
    _edit_config(adapter, layers_to_transform=None)
    with pytest.raises(ModelLoadError) as err:  # layer 1 is a decoder layer: still missing
        check_adapter_weights(adapter, base_dir=base)
    assert "model.layers.1.self_attn.q_proj, model.layers.1.self_attn.v_proj." in str(err.value)
    assert "layers.2." not in str(err.value) and "mtp." not in str(err.value)


def test_all_linear_in_any_case_and_an_unreadable_tensor(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_config(adapter, target_modules="ALL-LINEAR")  # peft reads the shorthand in any case
    check_adapter_weights(adapter)
    # A header whose dtype does not fit the tensor's bytes: the file is damaged, said as such.
    path = adapter / "adapter_model.safetensors"
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header[Q0_A]["dtype"] = "F16"
    raw = json.dumps(header, separators=(",", ":")).encode().ljust(n)
    assert len(raw) == n
    path.write_bytes(data[:8] + raw + data[8 + n :])
    with pytest.raises(ModelLoadError, match=r"adapter_model.safetensors: cannot read its tensors \(.*\); the adapter file is incomplete"):
        check_adapter_weights(adapter)


def test_adapters_peft_saves_on_part_of_the_model_pass(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Adapters that peft itself trains on some layers or without some modules are complete."""
    from transformers import AutoModelForCausalLM

    from tunegate.harness.models.quiet import quiet

    with quiet():
        from peft import LoraConfig, get_peft_model
    extras: list[tuple[str, dict[str, Any]]] = [
        ("layers", {"layers_to_transform": [1], "layers_pattern": "layers"}),
        ("exclude", {"exclude_modules": ["model.layers.0.self_attn.q_proj"]}),
        ("all-linear", {"target_modules": "all-linear"}),
    ]
    for name, extra in extras:
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        cfg = {"r": 4, "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM", **extra}
        with quiet():
            model = get_peft_model(base, LoraConfig(**cfg))
            model.save_pretrained(str(tmp_path / name), safe_serialization=True)
        check_adapter_weights(tmp_path / name, base_dir=tiny_model_dir)


def _scale_lora_b(adapter: Path, factor: float, *, nan: bool = False) -> None:
    def scaled(tensors: dict[str, Any]) -> dict[str, Any]:
        for key, t in tensors.items():
            if "lora_B" in key:
                t.mul_(factor)
                if nan and "layers.1.self_attn.q_proj" in key:
                    t[0, 0] = float("nan")
        return tensors

    _rewrite(adapter / "adapter_model.safetensors", scaled)


def test_an_adapter_not_for_generation(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _edit_config(adapter, task_type="SEQ_CLS")
    with pytest.raises(ModelLoadError) as err:
        check_adapter_weights(adapter)
    assert str(err.value) == (
        f"adapter {adapter}: adapter_config.json task_type is 'SEQ_CLS', a sequence-classification adapter, not "
        "one for text generation: its LoRA weights were trained beside a head the base has not, and gating its "
        "generations says nothing about it. Gate a causal-LM adapter (task_type CAUSAL_LM)"
    )
    for task in ("CAUSAL_LM", None):  # None: saved without a task type, as a plain PeftModel
        _edit_config(adapter, task_type=task)
        check_adapter_weights(adapter)


def test_weights_that_are_not_finite(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "a")
    _scale_lora_b(adapter, 1.0, nan=True)
    with pytest.raises(ModelLoadError) as err:
        check_adapter_weights(adapter)
    assert str(err.value) == (
        f"adapter {adapter}/adapter_model.safetensors: tensor base_model.model.model.layers.1.self_attn.q_proj."
        "lora_B.weight holds NaN or infinite values: the training diverged (a NaN loss) or the file is corrupt; "
        "retrain with a lower learning rate (and bf16 rather than fp16), or copy the file again"
    )


@pytest.mark.parametrize(
    ("dtype", "fix"),
    [
        ("fp32", "its weights are far too large (a training that diverged) and the adapter can only write garbage; "
                 "retrain with a lower learning rate"),
        ("fp16", "fp16's range (65504) is the likely cause: gate it at --dtype bf16 (or fp32), and retrain with a "
                 "lower learning rate only if that fails too"),
    ],
)  # fmt: skip
def test_weights_that_overflow_stop_the_run_before_the_candidate_generates(
    pytester: pytest.Pytester, tiny_adapter_dir: Path, tiny_model_dir: Path, tmp_path: Path, dtype: str, fix: str
) -> None:
    # Finite in the file, so the header and value checks pass; the model's logits are not.
    adapter = _copy(tiny_adapter_dir, tmp_path / "huge")
    _scale_lora_b(adapter, 1e30 if dtype == "fp32" else 1e6)
    check_adapter_weights(adapter, base_dir=tiny_model_dir)
    res = _run_toy_suite(pytester, tiny_model_dir, adapter, tmp_path / "cache", dtype)
    out = res.stdout.str() + res.stderr.str()
    assert res.ret == pytest.ExitCode.USAGE_ERROR, out
    assert (
        f"candidate 'huge' ({adapter}): with the adapter on, the model's next-token logits are NaN, infinite or "
        f"one value over the whole vocabulary on a probe batch of 1 prompt(s) (the base's are sound, in {dtype}): "
        f"{fix}" in out
    )
    assert "generate huge" not in out and "Traceback" not in out
