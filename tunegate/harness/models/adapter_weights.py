"""Does a LoRA adapter's weights fit its own config and the base it is about to be loaded on?

Checked from the safetensors headers alone (8-byte length, then a JSON header giving each tensor's
``dtype``, ``shape`` and ``data_offsets``): no tensor is read and no model is built, so a broken
adapter is refused before the base generates a single item. peft would otherwise find a rank or
width mismatch only when it loads the adapter, after the base's whole pass, and it loads an
adapter whose tensors name modules the base lacks, or that lacks half of a pair, with a warning
only: the missing B is zero (no effect), a missing A is random.

An adapter whose ``task_type`` is not generation (classification, extractive QA, embeddings,
encoder-decoder) is refused first. What is checked, for ``peft_type: LORA`` adapters:

1. every ``lora_A`` weight is ``[r, in]`` and every ``lora_B`` is ``[out, r]``, with ``r`` the
   config's ``r`` or its ``rank_pattern`` entry for that module (peft's own matching rule);
2. each ``lora_A`` has its ``lora_B`` and the other way round;
3. each tensor's module is one ``target_modules`` names, in a layer ``layers_to_transform``
   keeps (peft ignores the others' weights);
4. against the base: the module exists among the base's tensors (read from its safetensors
   headers or shard index), the layer index is below ``num_hidden_layers``, and for the
   attention and MLP projections of a plain decoder (``q_proj``, ``k_proj``, ``v_proj``,
   ``o_proj``, ``gate_proj``, ``up_proj``, ``down_proj``) ``in``/``out`` fit ``hidden_size``,
   ``intermediate_size`` and the heads times ``head_dim``;
5. every lora tensor is finite: a training run that diverged (a NaN loss) saves NaN weights, and
   the adapter then writes garbage (this one check reads the tensors, the adapter's own only);
6. the other way round, on a plain decoder whose module names are known: every projection of
   the base that the config has peft adapt (``target_modules``, ``layers_to_transform``,
   ``exclude_modules``) has weights in the file. peft loads an adapter missing some with a
   warning and leaves their B at zero: the adapter would be gated applied to part of the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.harness.errors import ModelLoadError
from tunegate.harness.models.adapters import read_safetensors_header

__all__ = ["check_adapter_weights", "read_safetensors_header"]

ADAPTER_WEIGHTS = "adapter_model.safetensors"
_PREFIX = "base_model.model."
# peft saves `<module>.lora_A.weight` (Linear/Conv) and `<module>.lora_embedding_A` (Embedding).
_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<emb>embedding_)?(?P<ab>[AB])(?:\.weight)?$")
_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.")
_PROJECTION = re.compile(
    r"(?:^|\.)layers\.\d+\.(?:self_attn|mlp)\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$"
)
_NOT_GENERATION = {
    "SEQ_CLS": "a sequence-classification adapter",
    "TOKEN_CLS": "a token-classification adapter",
    "QUESTION_ANS": "an extractive question-answering adapter",
    "FEATURE_EXTRACTION": "an embedding (feature-extraction) adapter",
    "SEQ_2_SEQ_LM": "an encoder-decoder adapter",
}
"""peft task types whose adapters are not for a decoder's generation, and what each is."""
_FIX_CONFIG = "use the adapter_config.json saved with these weights"
_FIX_FILE = "the adapter file is incomplete: copy it again, or re-save it with save_pretrained(DIR, safe_serialization=True)"
_FIX_BASE = (
    "pass the base it was trained on (--allow-base-mismatch cannot help: these weights do not fit this base)"
)


@dataclass(frozen=True)
class _Lora:
    """One lora tensor: its key, the module it adapts (as named in the base), ``A`` or ``B``, its shape."""

    key: str
    module: str
    ab: str
    shape: tuple[int, ...]


def _loras(header: Mapping[str, Any]) -> list[_Lora]:
    out = []
    for key, info in header.items():
        m = _LORA_KEY.match(key)
        if key == "__metadata__" or m is None or not isinstance(info, dict):
            continue
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape):
            continue  # safetensors_problem has vouched for the file; an odd entry is not ours to judge
        module = m.group("module")
        out.append(
            _Lora(
                key,
                module[len(_PREFIX) :] if module.startswith(_PREFIX) else module,
                m.group("ab"),
                tuple(shape),
            )
        )
    return out


def _rank(cfg: Mapping[str, Any], module: str) -> tuple[int, str]:
    """The rank peft gives ``module`` and where it comes from (peft's ``get_pattern_key`` rule)."""
    pattern = cfg.get("rank_pattern") or {}
    if isinstance(pattern, dict):
        for key, r in pattern.items():
            if isinstance(key, str) and isinstance(r, int) and re.match(rf"(.*\.)?({key})$", module):
                return r, f"rank_pattern[{key!r}]"
    return int(cfg.get("r", 8)), "r"


def _matches(spec: object, module: str) -> bool:
    """peft's module matching: a list names modules by suffix, a string is a regex matched in full
    (an invalid regex matches nothing; peft refuses it when it loads)."""
    if isinstance(spec, list):
        return any(isinstance(t, str) and (module == t or module.endswith("." + t)) for t in spec)
    if isinstance(spec, str):
        try:
            return re.fullmatch(spec, module) is not None
        except re.error:
            return False
    return False


def _targeted(cfg: Mapping[str, Any], module: str) -> bool:
    """Whether ``target_modules`` names ``module``; "all-linear" depends on the base's layer types
    and an unreadable value is peft's to refuse, so both pass."""
    target = cfg.get("target_modules")
    if isinstance(target, str):
        try:
            re.compile(target)
        except re.error:
            return True
        return target.lower() == "all-linear" or _matches(target, module)
    return _matches(target, module) if isinstance(target, list) else True


def _fmt(shape: Iterable[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


# -- the base's side --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Base:
    """What the base says about its modules: names (None when its weights are not safetensors),
    each float matrix's ``(in, out)`` from its weight's shape, and, for a plain decoder, the layer
    count and each projection's ``(in, out)`` as its config derives them (for bases whose weights
    are packed, e.g. GPTQ's ``qweight``)."""

    modules: frozenset[str] | None
    layers: int | None
    dims: Mapping[str, tuple[int, int, str]]
    shapes: Mapping[str, tuple[int, int]] = field(default_factory=dict)


_FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})


def _base_tensors(base_dir: Path) -> tuple[frozenset[str] | None, dict[str, tuple[int, int]]]:
    """The base's module names and float weight matrices' ``(in, out)``, from the headers of its
    safetensors files (every shard)."""
    entries: dict[str, Any] = {}
    try:
        for f in sorted(base_dir.glob("*.safetensors")):
            entries.update((k, v) for k, v in read_safetensors_header(f).items() if k != "__metadata__")
    except ModelLoadError:
        return None, {}  # check_model_dir reports an unreadable base; the adapter check just cannot see it
    # A GGUF-only or pickle-only base has no safetensors names here: the module checks step aside.
    modules = frozenset(k.rsplit(".", 1)[0] for k in entries if "." in k)
    shapes = {}
    for key, info in entries.items():
        shape = info.get("shape") if isinstance(info, dict) else None
        if key.endswith(".weight") and info.get("dtype") in _FLOAT_DTYPES and isinstance(shape, list) and len(shape) == 2:
            shapes[key[: -len(".weight")]] = (int(shape[1]), int(shape[0]))
    return modules or None, shapes


def _decoder_dims(config: Mapping[str, Any]) -> tuple[int | None, dict[str, tuple[int, int, str]]]:
    """``num_hidden_layers`` and each projection's ``(in, out, why)`` of a plain decoder config.

    Multimodal configs (``text_config``/``vision_config``: a vision tower has its own q_proj of
    another width) and attention variants with their own projection widths (``kv_lora_rank``) are
    left to peft.
    """
    if any(k in config for k in ("text_config", "vision_config", "kv_lora_rank", "q_lora_rank")):
        return None, {}
    ints = {k: v for k, v in config.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}
    layers = ints.get("num_hidden_layers")
    hidden, heads = ints.get("hidden_size"), ints.get("num_attention_heads")
    if hidden is None or heads is None:
        return layers, {}
    kv = ints.get("num_key_value_heads", heads)
    head_dim = ints.get("head_dim", hidden // heads)
    q, k = heads * head_dim, kv * head_dim
    hd = f"head_dim={head_dim}"
    dims = {
        "q_proj": (hidden, q, f"hidden_size={hidden}, num_attention_heads={heads} x {hd}"),
        "k_proj": (hidden, k, f"hidden_size={hidden}, num_key_value_heads={kv} x {hd}"),
        "v_proj": (hidden, k, f"hidden_size={hidden}, num_key_value_heads={kv} x {hd}"),
        "o_proj": (q, hidden, f"num_attention_heads={heads} x {hd}, hidden_size={hidden}"),
    }
    mlp = ints.get("intermediate_size")
    if mlp is not None:
        dims["gate_proj"] = (hidden, mlp, f"hidden_size={hidden}, intermediate_size={mlp}")
        dims["up_proj"] = (hidden, mlp, f"hidden_size={hidden}, intermediate_size={mlp}")
        dims["down_proj"] = (mlp, hidden, f"intermediate_size={mlp}, hidden_size={hidden}")
    return layers, dims


def _base(base_dir: Path | None) -> _Base:
    if base_dir is None or not Path(base_dir).is_dir():
        return _Base(None, None, {})
    base_dir = Path(base_dir)
    try:
        config = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = None  # no readable config.json: the dimension checks are skipped
    layers, dims = _decoder_dims(config) if isinstance(config, dict) else (None, {})
    modules, shapes = _base_tensors(base_dir)
    return _Base(modules, layers, dims, shapes)


def _base_name(module: str, base_modules: frozenset[str]) -> str | None:
    """The base's name for ``module``, allowing for checkpoints saved with or without the top-level
    prefix (``model.layers.0...`` in one, ``layers.0...`` in another); None when it has none."""
    parts = module.split(".")
    for i in range(len(parts)):
        if ".".join(parts[i:]) in base_modules:
            return ".".join(parts[i:])
    return next((m for m in sorted(base_modules) if m.endswith("." + module)), None)


# -- the check --------------------------------------------------------------------------------------
def _rank_problem(t: _Lora, cfg: Mapping[str, Any]) -> str:
    r, source = _rank(cfg, t.module)
    if len(t.shape) < 2:
        return f"is {_fmt(t.shape)}, a lora weight has at least 2 dimensions: {_FIX_FILE}"
    found = t.shape[0] if t.ab == "A" else t.shape[1]
    if found == r:
        return ""
    expected = _fmt([r, *t.shape[1:]] if t.ab == "A" else [t.shape[0], r, *t.shape[2:]])
    said = f"says r={r}" if source == "r" else f"{source} says r={r}"
    return (
        f"is {_fmt(t.shape)}, expected {expected}: the adapter was trained with r={found} but "
        f"adapter_config.json {said}; {_FIX_CONFIG}"
    )


def _base_problem(t: _Lora, base: _Base) -> str:
    layer = _LAYER.search(t.module)
    if layer and base.layers is not None and int(layer.group(1)) >= base.layers:
        return (
            f"adapts layer {layer.group(1)} but the base has num_hidden_layers={base.layers} "
            f"(layers 0-{base.layers - 1}): the adapter was trained on a deeper base; {_FIX_BASE}"
        )
    name = _base_name(t.module, base.modules) if base.modules is not None else None
    if base.modules is not None and name is None:
        return (
            f"adapts module {t.module!r}, which the base does not have: the adapter was trained on another "
            f"architecture or its tensors were renamed; {_FIX_BASE}"
        )
    kind = _PROJECTION.search(t.module)
    if kind is None or len(t.shape) != 2:
        return ""
    if name is not None and name in base.shapes:  # the weight itself: right for every variant
        d_in, d_out = base.shapes[name]
        why = f"its weight {name}.weight is [{d_out}, {d_in}]"
    elif kind.group(1) in base.dims:
        d_in, d_out, why = base.dims[kind.group(1)]
    else:
        return ""
    if t.ab == "A" and t.shape[1] != d_in:
        expected = _fmt([t.shape[0], d_in])
    elif t.ab == "B" and t.shape[0] != d_out:
        expected = _fmt([d_out, t.shape[1]])
    else:
        return ""
    return (
        f"is {_fmt(t.shape)}, expected {expected} for the base's {kind.group(1)} ({why}): "
        f"the adapter was trained on a base of another width; {_FIX_BASE}"
    )


def _problems(tensors: list[_Lora], cfg: Mapping[str, Any], base: _Base) -> list[tuple[str, str]]:
    """``(tensor key, what is wrong)`` for each tensor that has a problem, its first one only."""
    halves = {(t.module, t.ab) for t in tensors}
    layers = _layers_to_transform(cfg)
    problems = []
    for t in tensors:
        other = "B" if t.ab == "A" else "A"
        twin = re.sub(rf"lora_(embedding_)?{t.ab}", rf"lora_\g<1>{other}", t.key)
        problem = _rank_problem(t, cfg)
        if not problem and (t.module, other) not in halves:
            problem = f"has no matching lora_{other} ({twin} is missing): {_FIX_FILE}"
        if not problem:
            problem = _base_problem(t, base)
        if not problem and not _targeted(cfg, t.module):
            problem = (
                f"adapts module {t.module!r}, which adapter_config.json target_modules "
                f"{cfg.get('target_modules')!r} does not name (peft would ignore it); {_FIX_CONFIG}"
            )
        layer = _LAYER.search(t.module)
        if not problem and layer and layers is not None and int(layer.group(1)) not in layers:
            problem = (
                f"adapts layer {layer.group(1)}, which adapter_config.json layers_to_transform "
                f"{cfg.get('layers_to_transform')!r} leaves out (peft would ignore it); {_FIX_CONFIG}"
            )
        if problem:
            problems.append((t.key, problem))
    return problems


def _layers_to_transform(cfg: Mapping[str, Any]) -> set[int] | None:
    value = cfg.get("layers_to_transform")
    if isinstance(value, int) and not isinstance(value, bool):
        return {value}
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return set(value)
    return None


def _under_modules_to_save(cfg: Mapping[str, Any], module: str) -> bool:
    """peft adapts nothing inside a module it saves whole (``modules_to_save``)."""
    saved = cfg.get("modules_to_save")
    return isinstance(saved, list) and any(
        isinstance(m, str) and re.fullmatch(rf"(.*\.)?{re.escape(m)}(\..*)?", module) is not None for m in saved
    )


def _unadapted(tensors: list[_Lora], cfg: Mapping[str, Any], base: _Base) -> list[str]:
    """The base's projections that the config has peft adapt but the file holds no weights for.

    Only where the answer is sure: a plain decoder (``base.dims``) whose module names are known,
    the seven projections of its decoder layers (below ``num_hidden_layers``: transformers does not
    build the multi-token-prediction layers some checkpoints append) in a stack the adapter adapts
    (not a draft head's or a tower's), and a ``target_modules`` given (a list, a regex or
    ``all-linear``, which adapts every projection), less ``layers_to_transform``,
    ``exclude_modules`` and ``modules_to_save``.
    """
    target = cfg.get("target_modules")
    if base.modules is None or not base.dims or not tensors or not isinstance(target, (list, str)):
        return []
    all_linear = isinstance(target, str) and target.lower() == "all-linear"
    layers = _layers_to_transform(cfg)
    adapted, stacks = set(), set()
    for t in tensors:
        name = _base_name(t.module, base.modules)
        layer = _LAYER.search(name) if name is not None else None
        if name is not None and layer is not None:
            adapted.add(name)
            stacks.add(name[: layer.start()])
    missing: list[tuple[int, str]] = []
    for module in base.modules - adapted:
        kind, layer = _PROJECTION.search(module), _LAYER.search(module)
        if kind is None or layer is None or kind.group(1) not in base.dims or module[: layer.start()] not in stacks:
            continue
        index = int(layer.group(1))
        if (base.layers is not None and index >= base.layers) or (layers is not None and index not in layers):
            continue
        if not all_linear and not _matches(target, module):
            continue
        if _matches(cfg.get("exclude_modules"), module) or _under_modules_to_save(cfg, module):
            continue
        missing.append((index, module))
    return [module for _, module in sorted(missing)]


def _non_finite(weights: Path, tensors: list[_Lora]) -> list[str]:
    """The lora tensors holding NaN or infinite values, read one at a time."""
    import torch
    from safetensors import SafetensorError, safe_open

    bad = []
    try:
        with safe_open(str(weights), framework="pt") as f:
            for t in tensors:
                if not bool(torch.isfinite(f.get_tensor(t.key)).all()):
                    bad.append(t.key)
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise ModelLoadError(f"adapter {weights}: cannot read its tensors ({exc}); {_FIX_FILE}") from None
    return bad


def check_adapter_weights(adapter_dir: Path, *, base_dir: Path | None = None) -> None:
    """Refuse a LoRA adapter whose weights do not fit its config or ``base_dir`` (module docstring).

    Raises ``ModelLoadError`` naming the file, the first bad tensor, the expected and found shapes
    and the fix, with a count of the other bad tensors. A full model dir, a non-LoRA peft method
    or an adapter without safetensors weights (refused elsewhere) passes untouched.
    """
    adapter_dir = Path(adapter_dir)
    weights = adapter_dir / ADAPTER_WEIGHTS
    try:
        cfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no config (a full model) or a broken one, which check_adapter_base reports
    if not isinstance(cfg, dict):
        return
    task = cfg.get("task_type")
    if task in _NOT_GENERATION:
        raise ModelLoadError(
            f"adapter {adapter_dir}: adapter_config.json task_type is {task!r}, {_NOT_GENERATION[task]}, not one "
            "for text generation: its LoRA weights were trained beside a head the base has not, and gating its "
            "generations says nothing about it. Gate a causal-LM adapter (task_type CAUSAL_LM)"
        )
    if cfg.get("peft_type", "LORA") != "LORA" or not weights.is_file():
        return
    r = cfg.get("r", 8)
    if not isinstance(r, int) or isinstance(r, bool) or r <= 0:
        raise ModelLoadError(
            f"adapter {adapter_dir}: adapter_config.json r is {r!r}, expected a positive integer; {_FIX_CONFIG}"
        )
    # No lora tensors at all (an adapter of trainable tokens or saved modules only) is peft's to
    # load; whether it changes anything is the adapter-effect probe's question.
    tensors, base = _loras(read_safetensors_header(weights)), _base(base_dir)
    if cfg.get("layer_replication"):  # peft stacks copies of the base's layers: its names are not the base's
        base = _Base(None, None, base.dims)
    problems = _problems(tensors, cfg, base)
    if not problems and (bad := _non_finite(weights, tensors)):
        problems = [
            (
                key,
                "holds NaN or infinite values: the training diverged (a NaN loss) or the file is corrupt; retrain "
                "with a lower learning rate (and bf16 rather than fp16), or copy the file again",
            )
            for key in bad
        ]
    if not problems:
        missing = _unadapted(tensors, cfg, base)
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            spec = f"target_modules {cfg.get('target_modules')!r}" + (
                f", layers_to_transform {cfg.get('layers_to_transform')!r}" if cfg.get("layers_to_transform") is not None else ""
            )
            raise ModelLoadError(
                f"adapter {weights}: holds no lora weights for {len(missing)} module(s) of the base that "
                f"adapter_config.json has peft adapt ({spec}): {shown}. peft would load it with B = 0 there and "
                "the adapter would be gated applied to part of the model. Either the file is incomplete (copy "
                "it again, or re-save it with save_pretrained(DIR, safe_serialization=True)) or this "
                "adapter_config.json is not the one saved with these weights (use that one; modules left out on "
                "purpose belong in exclude_modules)"
            )
        return
    key, problem = problems[0]
    more = (
        f". {len(problems) - 1} other tensor(s) of this file have problems too" if len(problems) > 1 else ""
    )
    raise ModelLoadError(f"adapter {weights}: tensor {key} {problem}{more}")
