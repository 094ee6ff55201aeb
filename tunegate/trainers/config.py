"""The trainer's typed, strict configuration (YAML in, validated object out)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from tunegate.harness.errors import ConfigError
from tunegate.harness.validation import strict_yaml

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
DEFAULT_POOL = "tunegate/trainers/replay_pool/general_prompts.jsonl"
PACKAGED_POOL = Path(__file__).resolve().parent / "replay_pool" / "general_prompts.jsonl"


def _no_yaml_boolean(model: type[BaseModel], value: object, info: ValidationInfo) -> object:
    """Refuse yes/no/on/off/true/false where a number or a name is expected: pydantic would read
    ``learning_rate: yes`` as 1.0 without a word."""
    field = model.model_fields.get(info.field_name or "")
    if isinstance(value, bool) and field is not None and field.annotation is not bool:
        raise ValueError("a YAML boolean (yes/no/on/off/true/false) is not a value here; write the number or name")
    return value


def _no_blank_path(value: str | None, info: ValidationInfo) -> str | None:
    if value is not None and not value.strip():
        raise ValueError(f"an empty path; write the {info.field_name} path or remove the key")
    return value


def _key_line(lines: list[str], *keys: str) -> int | None:
    """The 1-based line of the config text where one of ``keys`` is set (its first), or None."""
    return next((i + 1 for i, t in enumerate(lines) if t.split(":", 1)[0].strip() in keys), None)


class ReplayConfig(BaseModel):
    """Replay (rehearsal): the base model's own answers to general prompts, mixed into training.

    Fine-tuning on one task makes a small model forget general skills; rehearsing general
    examples alongside the task slows that down. Without the base's original instruction data,
    the base writes its own rehearsal set (self-distilled replay): it answers every prompt of
    ``pool`` greedily, and ``ratio`` of those answers per task example are mixed into training.
    With ``verify`` (the default) an answer to a prompt with an answer key is kept only when it
    is right: the base's own wrong answers would otherwise be rehearsed.
    Built by ``tunegate replay build CONFIG.yaml`` or on demand by ``tunegate train``; cached by
    the fingerprint of base + pool + ``max_new_tokens`` + ``verify`` (docs/training.md, "Replay").
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    pool: str = Field(
        DEFAULT_POOL,
        description="JSONL of general prompts (chat lines ending with a user turn); must be disjoint from every eval suite",
    )
    ratio: float = Field(
        0.25,
        gt=0,
        le=4.0,
        description="replay examples per task example (0.25: one general example per four task ones)",
    )
    max_new_tokens: int = Field(
        64, ge=1, le=2048, description="longest base answer; answers cut at this length are dropped"
    )
    seed: int = Field(0, description="seed of the replay examples drawn from the pool")
    verify: bool = Field(
        True,
        description='keep an answer to a pool prompt with an answer key ("expected") only when it is right; '
        "false rehearses the base's wrong answers too",
    )
    file: str | None = Field(
        None,
        description="where the replay JSONL is written (default: <cache dir>/replay/<fingerprint>.jsonl)",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean(cls, value: object, info: ValidationInfo) -> object:
        return _no_yaml_boolean(cls, value, info)

    @field_validator("pool", "file")
    @classmethod
    def _not_blank(cls, value: str | None, info: ValidationInfo) -> str | None:
        # pool: "" was looked up as the current folder; file: "" meant the default without a word
        return _no_blank_path(value, info)


class TrainConfig(BaseModel):
    """Every knob of a LoRA/QLoRA run. Unknown keys are rejected."""

    # no .nan/.inf: `epochs: .inf` passed the `gt=0` check and only failed (or never ended) in training
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    base: str = Field("smollm2-135m-instruct", description="base model: alias, HF dir, Hub id or .gguf file")
    train: str = Field(..., description="training JSONL (chat lines ending with the assistant turn)")
    dev: str | None = Field(None, description="dev JSONL for the dev loss during training (same format)")
    output: str = Field(
        "artifacts/adapter",
        description="adapter directory to write (atomically): a new or empty directory, or an earlier adapter",
    )
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank r (8/16/32 are usual; start at 16)")
    lora_alpha: float = Field(32.0, gt=0, description="LoRA alpha (scaling = alpha / r; 2 x r is usual)")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="dropout on the LoRA input")
    target_modules: Literal["attention", "all-linear"] | list[str] = Field(
        "attention",
        description="'attention' (q,k,v,o), 'all-linear' (attention + MLP) or explicit module names",
    )
    learning_rate: float = Field(
        2e-4, gt=0, le=1.0, description="peak learning rate (1e-4 to 2e-4 is usual for LoRA)"
    )
    epochs: float = Field(1.0, gt=0, description="passes over the training data (fractions allowed)")
    max_steps: int | None = Field(
        None, ge=1, description="stop after this many optimizer steps (overrides epochs)"
    )
    micro_batch_size: int = Field(8, ge=1, description="sequences per forward/backward pass")
    batch_size: int = Field(16, ge=1, description="effective batch size (gradient accumulation fills it)")
    max_length: int = Field(384, ge=16, description="longest sequence in tokens; longer examples are skipped")
    max_train_examples: int | None = Field(
        None, ge=1, description="seeded random subset of the training data"
    )
    max_dev_examples: int | None = Field(64, ge=1, description="dev examples used for the dev loss")
    eval_every: int = Field(25, ge=1, description="evaluate the dev loss every N optimizer steps")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="share of steps with linear warm-up")
    lr_schedule: Literal["cosine", "linear", "constant"] = Field("cosine", description="decay after warm-up")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay on the LoRA weights")
    quantization: Literal["nf4", "none"] = Field(
        "nf4", description="nf4: 4-bit base with double quant (QLoRA); none: LoRA"
    )
    dtype: Literal["auto", "bf16", "fp32", "fp16"] = Field(
        "auto", description="compute dtype (auto: bf16 where supported)"
    )
    gradient_checkpointing: bool = Field(
        False, description="recompute activations in backward (less memory, slower)"
    )
    seed: int = Field(  # torch.manual_seed takes a 64-bit integer: a larger seed failed after the base loaded
        0, ge=-(2**63), lt=2**63, description="seed for data order, LoRA init and dropout (a 64-bit integer)"
    )
    replay: ReplayConfig | None = Field(
        None, description="mix the base's own answers to general prompts into training (see the replay table)"
    )
    eval_suites: list[str] = Field(
        ["suites/data"],
        description="eval suite files or folders the dev set must not overlap (the packaged general suites always count)",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean(cls, value: object, info: ValidationInfo) -> object:
        return _no_yaml_boolean(cls, value, info)

    @field_validator("base", "train", "dev", "output")
    @classmethod
    def _not_blank(cls, value: str | None, info: ValidationInfo) -> str | None:
        # `output: ""` is the current directory, `dev: ""` read as "no dev set": both said nothing
        return _no_blank_path(value, info)

    @field_validator("eval_suites")
    @classmethod
    def _no_blank_suite(cls, value: list[str]) -> list[str]:
        if any(not entry.strip() for entry in value):  # "" was the current folder, scanned for suites
            raise ValueError("an empty entry; name a suite file or folder in each entry")
        return value

    @field_validator("target_modules", mode="before")
    @classmethod
    def _named_modules(cls, value: object) -> object:
        # before the union is tried: one message, not one per member with pydantic's type names
        fix = "name the modules (e.g. [q_proj, v_proj]) or write 'attention' or 'all-linear'"
        if isinstance(value, list):
            if not value or not all(isinstance(name, str) and name.strip() for name in value):
                raise ValueError(f"an empty list, or a module name that is empty or not text; {fix}")
        elif value not in ("attention", "all-linear"):
            raise ValueError(f"neither a list of module names nor 'attention'/'all-linear'; {fix}")
        return value

    def modules(self) -> list[str] | str:
        if self.target_modules == "attention":
            return list(ATTENTION)
        return self.target_modules


def _resolve(path: str, cfg_dir: Path) -> str:
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return str(p)
    alt = cfg_dir / p
    return str(alt) if alt.exists() else str(p)


def refuse_unsafe_output(output: str, setting: str) -> None:
    """Training swaps the adapter in for the whole ``output`` directory (and deletes what was
    there): only a new directory, an empty one or an earlier adapter may be replaced.
    ``setting`` names where the value came from: ``cfg.yaml:9: output`` or ``--output``."""
    out = Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{setting} {out} is a file; the adapter is a directory: name a new directory")
    if out.is_dir() and not (out / "adapter_config.json").is_file() and any(out.iterdir()):
        raise ConfigError(
            f"{setting} {out} is a directory that holds no adapter (no adapter_config.json); training "
            "replaces the whole directory, deleting what is in it: name a new directory or an adapter to overwrite"
        )


def load_config(path: str | Path, **overrides: object) -> TrainConfig:
    """Read and validate a YAML config; every problem is one message naming the file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"trainer config {path} is a directory; pass the YAML file inside it")
    if not path.is_file():
        raise ConfigError(f"trainer config {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        at = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{at}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x}); re-save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the trainer config: {exc.strerror or exc}") from None
    try:
        raw = strict_yaml(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. seed: 2020-99-99
        raise ConfigError(f"{path}: invalid YAML value: {str(exc)[:200] or type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a mapping of keys to values")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    lines_of_file = text.splitlines()
    try:
        cfg = TrainConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            key = ".".join(str(p) for p in e["loc"])
            last = str(e["loc"][-1]) if e["loc"] else key
            line = _key_line(lines_of_file, key, last)
            where = f"{path}:{line}" if line else str(path)
            model = ReplayConfig if e["loc"][:1] == ("replay",) else TrainConfig
            if e["type"] == "missing":
                field = model.model_fields.get(last)
                what = f": {field.description}" if field is not None and field.description else ""
                lines.append(f"{where}: the required key {key!r} is missing; add `{last}: ...`{what}")
            elif e["type"] == "extra_forbidden":
                lines.append(f"{where}: unknown key {key!r}; valid keys: {sorted(model.model_fields)}")
            elif overrides.get(key) is not None:  # the option's value, not the file's
                msg = str(e["msg"]).removeprefix("Value error, ")
                lines.append(f"--{key.replace('_', '-')}={e.get('input')!r}: {msg}")
            else:
                msg = str(e["msg"]).removeprefix("Value error, ")
                lines.append(f"{where}: {key} = {e.get('input')!r}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    line = _key_line(lines_of_file, "output")
    in_file = f"{path}:{line}: output" if line else f"{path}: output"
    refuse_unsafe_output(cfg.output, "--output" if overrides.get("output") is not None else in_file)
    cfg_dir = path.resolve().parent
    updates: dict[str, object] = {"train": _resolve(cfg.train, cfg_dir)}
    if cfg.dev:
        updates["dev"] = _resolve(cfg.dev, cfg_dir)
    if cfg.replay is not None:
        pool = _resolve(cfg.replay.pool, cfg_dir)
        if cfg.replay.pool == DEFAULT_POOL and not Path(pool).is_file():
            pool = str(PACKAGED_POOL)  # outside this repository: the pool shipped in the package
        if not Path(pool).is_file():
            raise ConfigError(f"{path}: replay.pool file {pool} not found (default: {DEFAULT_POOL})")
        updates["replay"] = cfg.replay.model_copy(update={"pool": pool})
    cfg = cfg.model_copy(update=updates)
    for name in ("train", "dev"):
        p = getattr(cfg, name)
        if p is not None and Path(p).is_dir():
            raise ConfigError(f"{path}: {name} data file {p} is a directory; name the .jsonl file inside it")
        if p is not None and not Path(p).is_file():
            raise ConfigError(
                f"{path}: {name} data file {p} not found (paths are relative to the current directory)"
            )
    if cfg.dev and Path(cfg.dev).resolve() == Path(cfg.train).resolve():  # a dev loss on the training data
        raise ConfigError(
            f"{path}:{_key_line(lines_of_file, 'dev') or '?'}: dev {cfg.dev} is the training file; the dev loss must come from held-out "
            "examples: name a separate dev JSONL (e.g. a split of the data) or leave dev out"
        )
    suites = [_resolve(e, cfg_dir) for e in cfg.eval_suites]
    missing = [e for e in suites if not Path(e).exists()]
    if missing and "eval_suites" in raw:  # the default folder is optional; a named one must exist
        raise ConfigError(
            f"{path}: eval_suites entry {missing[0]} not found (a suite file or a folder of suites)"
        )
    cfg = cfg.model_copy(update={"eval_suites": [e for e in suites if Path(e).exists()]})
    if cfg.dev:
        from tunegate.trainers.selection import refuse_eval_as_dev

        refuse_eval_as_dev(cfg.dev, cfg.eval_suites, config=str(path))
    if cfg.batch_size % cfg.micro_batch_size:
        raise ConfigError(
            f"{path}: batch_size {cfg.batch_size} must be a multiple of micro_batch_size {cfg.micro_batch_size}"
        )
    return cfg
