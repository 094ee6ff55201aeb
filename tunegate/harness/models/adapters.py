"""Checks on model dirs before anything is loaded: safe weight formats, and the adapter's base.

``check_model_dir`` refuses pickle weights (``.bin``/``.pt``/``.pth``/``.ckpt``/``.pkl``) in the
base, in a full-model candidate and in an adapter, unless the user opted in (``--allow-pickle``):
unpickling a file can run arbitrary code. A dir that holds safetensors *and* pickle weights is
refused too: which of them a loader reads depends on versions and flags, not on us.

``check_adapter_base`` compares the base an adapter was trained on with the base it is about to be
gated against. The evidence, strongest first:

1. the base's content fingerprint recorded by the tunegate trainer in ``tunegate.json``, compared
   with the fingerprint of the resolved ``--base`` (names do not matter then);
2. the base names recorded in ``tunegate.json`` (the ``--base`` spec and the materialised dir) and
   in peft's ``adapter_config.json`` (``base_model_name_or_path``), compared with the ``--base``
   spec and its resolved dir. Names are compared by what they name: the alias
   ``smollm2-135m-instruct``, its materialised dir ``.../models/smollm2-135m-instruct-<hash>``, the
   Hub id ``HuggingFaceTB/SmolLM2-135M-Instruct``, a Hub cache snapshot of it and its GGUF file
   ``SmolLM2-135M-Instruct.Q4_1.gguf`` are one model.

A mismatch raises ``ConfigError`` naming both bases and the override ``--allow-base-mismatch``.

Quantization: an adapter trained as QLoRA (``tunegate.json``: ``kind: qlora`` or
``config.quantization: nf4``) was trained against the NF4-quantized base; gating it against the
bf16/fp32 base measures a model nobody will deploy. ``recommended_quantization`` is then ``"nf4"``
and a note says why; the caller switches to it unless the user chose a quantization explicitly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.harness.errors import ConfigError, ModelLoadError, UnsafeAdapterError
from tunegate.harness.fingerprint import (
    PICKLE_SUFFIXES,
    HashMemo,
    content_fingerprint,
    digest,
    dir_digest,
    is_pickle_file,
    is_weight_file,
)
from tunegate.harness.manifest import MANIFEST, AdapterManifest, BaseEntry, read_manifest
from tunegate.harness.models.resolve import _ALIASES, default_cache_dir

__all__ = [
    "PICKLE_SUFFIXES",
    "AdapterBaseCheck",
    "check_adapter_base",
    "check_model_dir",
    "classify_adapter",
    "model_name_key",
]

ROLES = ("base", "candidate")
ADAPTER_WEIGHTS = "adapter_model.safetensors"
# Written by transformers' Trainer next to the weights; never read by from_pretrained/peft/vLLM.
TRAINER_STATE = re.compile(r"^(training_args\.bin|optimizer\.pt|scheduler\.pt|scaler\.pt|rng_state(_\d+)?\.pth)$")
# What the tunegate trainer's base fingerprint hashed before every weight format was included.
_LEGACY_SUFFIXES = (".safetensors", ".gguf", ".json", ".model", ".txt", ".jinja")
_CONVERT_HINT = (
    "convert it once in a trusted environment with save_pretrained(NEW_DIR, safe_serialization=True) "
    "(for an adapter: PeftModel.from_pretrained(base, DIR).save_pretrained(NEW_DIR, safe_serialization=True))"
)


# -- weight formats ---------------------------------------------------------------------------------
def _top_files(path: Path) -> list[str]:
    try:
        return sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        raise ModelLoadError(f"cannot read the model dir {path}: {exc.strerror or exc}") from None


def _pickles(names: list[str]) -> tuple[list[str], list[str]]:
    """(pickle weight files, trainer-state pickles that no loader reads)."""
    pick = [n for n in names if is_pickle_file(n)]
    state = [n for n in pick if TRAINER_STATE.match(n)]
    return [n for n in pick if n not in state], state


_MAX_SAFETENSORS_HEADER = 100_000_000  # the format's own limit on the JSON header


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of the safetensors file ``path`` (tensor name -> dtype, shape, offsets),
    read without its tensors: the 8-byte length, then the header.

    Raises ``ModelLoadError`` naming the file when it cannot be read, is too short for its header
    or its tensors (a truncated copy), or has no JSON-object header (an HTML error page saved under
    the weights' name, a zero-byte placeholder).
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ModelLoadError(f"{path}: {size} bytes, too short for a safetensors header")
            n = int.from_bytes(head, "little")
            if n > _MAX_SAFETENSORS_HEADER or 8 + n > size:
                raise ModelLoadError(
                    f"{path}: the header claims {n} bytes but the file has {size}: truncated or not safetensors"
                )
            header = json.loads(fh.read(n))
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except (ValueError, RecursionError):
        raise ModelLoadError(f"{path}: its header is not JSON: not a safetensors file") from None
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path}: its header is not a JSON object: not a safetensors file")
    ends = [
        v["data_offsets"][1]
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict) and isinstance(v.get("data_offsets"), list)
        and len(v["data_offsets"]) == 2 and isinstance(v["data_offsets"][1], int)
    ]
    if ends and 8 + n + max(ends) > size:
        raise ModelLoadError(f"{path}: its tensors need {8 + n + max(ends)} bytes but the file has {size}: truncated")
    return header


def safetensors_problem(path: Path) -> str:
    """Why ``path`` is not a complete safetensors file ('' when its header and size add up)."""
    try:
        read_safetensors_header(path)
    except ModelLoadError as exc:
        return str(exc).removeprefix(f"{path}: ")
    return ""


def check_model_dir(path: Path, *, role: str, allow_pickle: bool = False) -> list[str]:
    """Refuse unsafe or missing weights in a base or candidate dir; return notes for the report.

    ``role`` is ``"base"`` or ``"candidate"`` (a peft adapter dir or a full model dir). Pickle
    weights raise ``UnsafeAdapterError`` unless ``allow_pickle``; then a note names the files.
    A dir with no weights at all raises ``ModelLoadError``.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    path = Path(path)
    flag = "--base" if role == "base" else "--candidate"
    if not path.is_dir():
        raise ModelLoadError(f"{flag} {path}: not a directory; pass a model or adapter directory")
    names = _top_files(path)
    pickles, state = _pickles(names)
    notes: list[str] = []
    if state:
        notes.append(f"{role} {path}: trainer state {', '.join(state)} ignored (pickle, never loaded)")
    is_adapter = role == "candidate" and "adapter_config.json" in names
    if is_adapter:
        safe = [n for n in names if n == ADAPTER_WEIGHTS]
        what = f"adapter {path}"
    else:
        safe = [n for n in names if is_weight_file(n) and not is_pickle_file(n)]
        what = f"{'base model' if role == 'base' else 'model'} {path}"
    if pickles and not allow_pickle:
        mixed = f" next to {', '.join(safe[:3])}" if safe else ""
        raise UnsafeAdapterError(
            f"{what} ships pickle weights ({', '.join(pickles)}){mixed}; tunegate loads safetensors only, "
            f"because pickle files can run code when loaded. Delete them if the safetensors are complete, "
            f"{_CONVERT_HINT}, or pass --allow-pickle if you trust this {role}"
        )
    if pickles:
        notes.append(
            f"{role} {path}: pickle weights ({', '.join(pickles)}) accepted because of --allow-pickle; "
            "they can run code when loaded"
        )
    for name in safe:
        problem = safetensors_problem(path / name) if name.endswith(".safetensors") else ""
        if problem:
            raise ModelLoadError(f"{what}: {name} is not a complete safetensors file ({problem}); copy it again")
    if not safe and not pickles:
        if is_adapter:
            raise ModelLoadError(f"{what} has adapter_config.json but no {ADAPTER_WEIGHTS}")
        if "config.json" not in names and role == "candidate":
            raise ModelLoadError(
                f"candidate {path} is neither a peft adapter (adapter_config.json) nor a model dir (config.json)"
            )
        raise ModelLoadError(f"{what} holds no weight files (.safetensors, .gguf, ...); is it the right folder?")
    return notes


def classify_adapter(path: Path, *, allow_pickle: bool = False) -> str:
    """'lora' for a peft adapter dir, 'full' for a full model dir; refuse pickle weights."""
    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(f"candidate {path} does not exist or is not a directory")
    has_adapter = (path / "adapter_config.json").exists()
    if not has_adapter and not (path / "config.json").exists():
        raise ModelLoadError(
            f"candidate {path} is neither a peft adapter (adapter_config.json) nor a model dir (config.json)"
        )
    check_model_dir(path, role="candidate", allow_pickle=allow_pickle)
    return "lora" if has_adapter else "full"


# -- which base an adapter belongs to -------------------------------------------------------------
_QUANT_TAG = re.compile(r"[.-](i?q\d[a-z0-9_]*|f16|f32|bf16|fp16|fp32|gguf|awq|gptq|int[48])$")
_DIGEST_TAIL = re.compile(r"-[0-9a-f]{16}$")
_SNAPSHOT = re.compile(r"^models--(.+)$")


def model_name_key(name: str) -> str:
    """What a base name names, for comparison: the model's own name, lower case, no decorations.

    ``HuggingFaceTB/SmolLM2-135M-Instruct``, ``smollm2-135m-instruct``,
    ``~/.cache/tunegate/models/smollm2-135m-instruct-0123456789abcdef``,
    ``.../models--HuggingFaceTB--SmolLM2-135M-Instruct/snapshots/<sha>`` and
    ``SmolLM2-135M-Instruct.Q4_1.gguf`` all give ``smollm2-135m-instruct``.
    """
    parts = [p for p in re.split(r"[\\/]+", name.strip()) if p]
    if not parts:
        return ""
    for k, part in enumerate(parts):
        snap = _SNAPSHOT.match(part)
        if snap and k + 1 < len(parts) and parts[k + 1] == "snapshots":
            parts = [snap.group(1).split("--")[-1]]
            break
    key = parts[-1].lower()
    if key.endswith(".gguf"):
        key = key[: -len(".gguf")]
    key = _DIGEST_TAIL.sub("", key)
    while True:
        stripped = _QUANT_TAG.sub("", key)
        if stripped == key:
            break
        key = stripped
    return key


@dataclass(frozen=True)
class AdapterBaseCheck:
    """The verdict on an adapter's base: ``ok`` False only when a mismatch was allowed."""

    ok: bool
    notes: tuple[str, ...] = field(default_factory=tuple)
    recommended_quantization: str = "none"


def _read_json(path: Path, what: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc}); restore it from the training run") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the {what} must be a JSON object, got {type(data).__name__}")
    return data


def _str(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _same_path(a: str, b: Path) -> bool:
    try:
        p = Path(a).expanduser()
        return p.exists() and p.resolve() == b.resolve()
    except (OSError, ValueError):
        return False


def _names_match(recorded: str, base_spec: str, base_dir: Path) -> bool:
    if recorded == base_spec or _same_path(recorded, base_dir):
        return True
    keys = {model_name_key(base_spec), model_name_key(str(base_dir))}
    try:  # a local dir saved by save_pretrained remembers where it came from
        own = json.loads((base_dir / "config.json").read_text(encoding="utf-8")).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        own = None
    if isinstance(own, str):
        keys.add(model_name_key(own))
    if base_spec in _ALIASES:
        keys.add(model_name_key(_ALIASES[base_spec][1]))
    keys.discard("")
    return model_name_key(recorded) in keys


def _config_conflict(names: list[tuple[str, str]], base_spec: str, base_dir: Path) -> str:
    """adapter_config.json naming another base than the manifest (whose fingerprint matched): the
    two records of one adapter disagree, and the adapter may have been re-targeted after training."""
    config = [n for src, n in names if src.startswith("adapter_config.json")]
    recorded = [n for src, n in names if not src.startswith("adapter_config.json")]
    if not config or not recorded:
        return ""
    name = config[0]
    same = any(name == r or model_name_key(name) == model_name_key(r) for r in recorded)
    if same or _names_match(name, base_spec, base_dir):
        return ""
    return (
        f"adapter_config.json base_model_name_or_path is {name!r} while {MANIFEST} records base "
        f"{recorded[0]!r} (the records of this adapter disagree)"
    )


def _base_has_fingerprint(base_dir: Path, recorded: str, given: str | None) -> bool:
    memo = HashMemo(default_cache_dir())
    if recorded == (given or content_fingerprint(base_dir, memo)):
        return True
    return recorded == digest(dir_digest(base_dir, memo, _LEGACY_SUFFIXES))  # manifests before 13.2


def _mismatch(adapter_dir: Path, why: str, base_spec: str, allow: bool, notes: list[str]) -> bool:
    message = (
        f"adapter {adapter_dir} was trained on another base: {why}, but --base is {base_spec!r}. "
        "Pass the base it was trained on, or --allow-base-mismatch to gate it anyway"
    )
    if not allow:
        raise ConfigError(message)
    notes.append(f"BASE MISMATCH allowed by --allow-base-mismatch: {why}; gated against {base_spec!r}")
    return False


def check_adapter_base(
    adapter_dir: Path,
    *,
    base_spec: str,
    base_dir: Path,
    base_fingerprint: str | None = None,
    quantization: str = "none",
    allow_mismatch: bool = False,
) -> AdapterBaseCheck:
    """Compare the base ``adapter_dir`` was trained on with ``--base`` (see the module docstring).

    ``base_fingerprint`` is ``content_fingerprint(base_dir)`` when the caller has it (it is computed
    here, memoised, when needed and not given). Raises ``ConfigError`` on a mismatch unless
    ``allow_mismatch``; then ``ok`` is False and a note says so.
    """
    adapter_dir, base_dir = Path(adapter_dir), Path(base_dir)
    notes: list[str] = []
    peft_cfg = _read_json(adapter_dir / "adapter_config.json", "adapter config (adapter_config.json)")
    if peft_cfg is None:  # a full model: it is its own base, loaded unquantized unless asked
        return AdapterBaseCheck(True, (), "none" if quantization == "auto" else quantization)
    manifest = read_manifest(adapter_dir) or AdapterManifest()
    recorded = manifest.base or BaseEntry()
    ok = True
    fingerprint = _str(recorded.fingerprint)
    names = [
        (src, n)
        for src, n in (
            (f"{MANIFEST} base.spec", _str(recorded.spec)),
            (f"{MANIFEST} base.path", _str(recorded.path)),
            ("adapter_config.json base_model_name_or_path", _str(peft_cfg.get("base_model_name_or_path"))),
        )
        if n is not None
    ]
    if fingerprint is not None:
        if _base_has_fingerprint(base_dir, fingerprint, base_fingerprint):
            notes.append(f"base {base_spec!r} is the adapter's training base (content fingerprint {fingerprint[:12]})")
            conflict = _config_conflict(names, base_spec, base_dir)
            if conflict:
                ok = _mismatch(adapter_dir, conflict, base_spec, allow_mismatch, notes)
        else:
            named = next((n for _, n in names), "an unnamed base")
            ok = _mismatch(
                adapter_dir,
                f"{MANIFEST} records base {named!r} with content fingerprint {fingerprint[:12]}, "
                f"the resolved --base {base_dir} has another one",
                base_spec,
                allow_mismatch,
                notes,
            )
    elif names:
        wrong = [(src, n) for src, n in names if not _names_match(n, base_spec, base_dir)]
        if wrong:
            src, n = wrong[0]
            ok = _mismatch(adapter_dir, f"{src} is {n!r}", base_spec, allow_mismatch, notes)
        else:
            notes.append(f"base {base_spec!r} matches the adapter's recorded base by name ({names[0][1]!r})")
    else:
        notes.append(f"adapter {adapter_dir} records no base model; its base could not be checked")
    recommended = "none" if quantization == "auto" else quantization
    trained_nf4 = manifest.trained_nf4
    if trained_nf4 and quantization == "auto":
        recommended = "nf4"  # the caller says which base it chose: one note, the true one
    elif trained_nf4 and quantization != "nf4":
        recommended = "nf4"
        notes.append(
            f"adapter {adapter_dir} was trained as QLoRA on the NF4-quantized base ({MANIFEST}); "
            "gate it against the NF4 base (--quantization nf4), as it will be deployed"
        )
    elif manifest.kind == "lora" and quantization == "nf4":
        notes.append(f"adapter {adapter_dir} was trained on the unquantized base; gated against NF4 as asked")
    return AdapterBaseCheck(ok, tuple(notes), recommended)
