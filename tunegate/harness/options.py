"""Run options, declared once: every field makes a ``--flag``, a ``tunegate_*`` ini key and a
``[tool.tunegate]`` key, with its help, default and validation.

Precedence: command line > ``[tool.tunegate]`` > ``tunegate_*`` ini keys > defaults. A bad value
raises ``ConfigError`` naming the option, where it came from and the value. An option with a fixed
set of values is a ``Literal``; one naming a backend or judge provider is checked against its
registry (``Registered``); either way the help text lists the choices (``choices``).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo

from tunegate.harness.errors import ConfigError
from tunegate.harness.levels import DEFAULT_ALPHA, DEFAULT_COVERAGE_FLOOR, Alpha, CoverageFloor
from tunegate.harness.models.resolve import DEFAULT_ALIAS, default_cache_dir
from tunegate.harness.models.runtime import Dtype
from tunegate.harness.registry import registry_of

Quantization = Literal["auto", "none", "nf4"]
NOT_OPTIONS = frozenset({"sources"})


class Registered:
    """A name in the registry of ``kind`` ("backend", "judge provider"), checked when the options
    are validated, so a plugin's name is as good as a built-in's. The judge providers' registry
    lives above the library: the shell imports it before it resolves the options; until then (the
    library used on its own) the name is checked where the judge is built."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def names(self, *, plugins: bool = True) -> list[str] | None:
        # The backends' registry is tunegate.harness.models', imported above (models.resolve).
        registry = registry_of(self.kind)
        return None if registry is None else registry.names(plugins=plugins)

    def __call__(self, value: str) -> str:
        known = self.names()
        if known is not None and value not in known:
            raise ValueError(f"unknown {self.kind}; known: {known}")
        return value


BackendName = Annotated[str, AfterValidator(Registered("backend"))]
JudgeName = Annotated[str, AfterValidator(Registered("judge provider"))]


def _meta(metavar: str) -> dict[str, Any]:
    return {"metavar": metavar}


REFERENCE_PRODUCTION = "production"
"""``--reference production``: the adapter ``tunegate promote`` recorded (``./production`` is a dir)."""


class RunOptions(BaseModel):
    """The options of one tunegate run. Each field's description is its ``--help`` text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: str = Field(
        DEFAULT_ALIAS,
        description=f"base model: a HF dir, a Hub id, a .gguf file or {DEFAULT_ALIAS!r}",
        json_schema_extra=_meta("MODEL"),
    )
    candidate: tuple[str, ...] = Field(
        (),
        description="candidate adapter dir or full model dir (repeat for several candidates)",
        json_schema_extra=_meta("DIR"),
    )
    reference: str = Field(
        "",
        description="the adapter dir (or full model dir) in production today, or 'production' for the one "
        "`tunegate promote` recorded (tunegate-production.json): task gates then compare each candidate with it, "
        "paired on the same items (forgetting, leakage and KL stay against the base)",
        json_schema_extra=_meta("DIR"),
    )
    backend: BackendName = Field(
        "hf",
        description="model backend: a built-in or a plugin's (`tunegate plugins` describes each)",
        json_schema_extra=_meta("NAME"),
    )
    dtype: Dtype = Field(
        "auto",
        description="compute dtype (auto: bf16 where the hardware has it)",
        json_schema_extra=_meta("DTYPE"),
    )
    quantization: Quantization = Field(
        "auto",
        description="base quantization (auto: nf4 for an adapter trained on an NF4 base, else none)",
        json_schema_extra=_meta("Q"),
    )
    judge: JudgeName = Field(
        "local",
        description="judge provider for judge metrics: a built-in or a plugin's (`tunegate plugins` describes each)",
        json_schema_extra=_meta("PROVIDER"),
    )
    judge_model: str = Field("", description="judge model name (provider default when empty)", json_schema_extra=_meta("NAME"))
    judge_base_url: str = Field(
        "",
        description="server URL of the judge (required by providers that serve no fixed API, e.g. openai-compatible)",
        json_schema_extra=_meta("URL"),
    )
    judge_option: tuple[str, ...] = Field(
        (),
        description="judge provider setting KEY=VALUE (repeatable), e.g. timeout=30 or api_key_env=MY_KEY",
        json_schema_extra=_meta("KEY=VALUE"),
    )
    report: str = Field(
        "", description="write results.json, report.html and summary.md into this directory", json_schema_extra=_meta("DIR")
    )
    alpha: Alpha = Field(DEFAULT_ALPHA, description="significance level of every gate, 0 < alpha < 0.5", json_schema_extra=_meta("A"))
    coverage_floor: CoverageFloor = Field(
        DEFAULT_COVERAGE_FLOOR,
        description="a gate scoring fewer than this share of its items is INCOMPLETE (fails), 0 < floor <= 1",
        json_schema_extra=_meta("SHARE"),
    )
    cache_dir: str = Field(
        "",
        description="cache directory for models, responses and judge verdicts ($TUNEGATE_CACHE_DIR or ~/.cache/tunegate)",
        json_schema_extra=_meta("DIR"),
    )
    no_cache: bool = Field(False, description="do not read or write the response cache")
    sample: int = Field(
        0, description="evaluate a seeded random subset of N items per suite, never the first N (0: all)", json_schema_extra=_meta("N")
    )
    seed: int = Field(0, description="seed for sampling and resampling", json_schema_extra=_meta("N"))
    batch_size: int = Field(
        0,
        description="decode slots of the hf backend (0: its default, 64 on CPU and on CUDA); vllm and openai batch on their own",
        json_schema_extra=_meta("N"),
    )
    threads: int = Field(
        0,
        description="torch threads of the hf backend on CPU (0: OMP_NUM_THREADS if set, else the CPUs this process may use less those other processes keep busy)",
        json_schema_extra=_meta("N"),
    )
    base_url: str = Field("", description="base URL of an OpenAI-compatible server (backend openai)", json_schema_extra=_meta("URL"))
    backend_option: tuple[str, ...] = Field(
        (), description="backend setting KEY=VALUE (repeatable), e.g. concurrency=16", json_schema_extra=_meta("KEY=VALUE")
    )
    train_data: tuple[str, ...] = Field(
        (),
        description="training JSONL file for the leakage check (repeatable; default: from the adapter's tunegate.json)",
        json_schema_extra=_meta("PATH"),
    )
    allow_pickle: bool = Field(False, description="load .bin/.pt (pickle) weights; they are hashed and flagged in the report")
    allow_base_mismatch: bool = Field(
        False, description="gate an adapter whose recorded base differs from --base (refused by default)"
    )
    allow_advisory: bool = Field(
        False,
        description="let a run whose only gates are advisory (uncalibrated judge) pass; an advisory gate that is "
        "REGRESSED or INCOMPLETE still fails its candidate",
    )
    forgetting: bool = Field(False, description="also run the packaged general-capability forgetting gates")
    sources: dict[str, str] = Field(
        default_factory=dict, exclude=True, repr=False, description="where each value came from"
    )

    # -- validation (messages are completed with the option's name and value by resolve_options)
    @field_validator("candidate", "judge_option", "backend_option", "train_data", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list | tuple):
            return tuple(str(x) for x in v if str(x).strip())
        return v

    @field_validator("judge_option", "backend_option")
    @classmethod
    def _pairs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        seen: dict[str, str] = {}
        for pair in v:
            if "=" not in pair or not pair.split("=", 1)[0].strip():
                raise ValueError(f"{pair!r} is not KEY=VALUE, e.g. timeout=30")
            key = pair.split("=", 1)[0].strip()
            if key in seen:  # the last one won without a word
                raise ValueError(f"{key} is given twice ({seen[key]!r} and {pair!r}); keep one")
            seen[key] = pair
        return v

    @field_validator("sample", "seed", "batch_size", "threads")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be >= 0")
        return v

    # -- derived values -------------------------------------------------------------------------
    def backend_options(self) -> dict[str, Any]:
        """--backend-option KEY=VALUE pairs; values that parse as JSON are converted (16 -> int)."""
        return _parse_pairs(self.backend_option)

    def judge_options(self) -> dict[str, Any]:
        """--judge-option KEY=VALUE pairs, parsed as backend_options()."""
        return _parse_pairs(self.judge_option)

    def given(self, name: str) -> str:
        """How the option ``name`` was given, for messages: ``--judge='x'``, ``ini key ...``."""
        return _where(name, self.sources.get(name, "default"), getattr(self, name))

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()


def _parse_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def option_fields() -> Iterator[tuple[str, FieldInfo]]:
    """(name, field) of every user-facing option, in declaration order."""
    for name, f in RunOptions.model_fields.items():
        if name not in NOT_OPTIONS:
            yield name, f


def option_kind(f: FieldInfo) -> str:
    """'bool', 'list' (repeatable) or 'value'."""
    if f.annotation in (bool, "bool"):
        return "bool"
    if str(f.annotation).startswith("tuple"):
        return "list"
    return "value"


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def choices(f: FieldInfo) -> list[str] | None:
    """The values an option takes: a ``Literal``'s, or the names registered so far (plugins are
    not loaded for help text); None for a free value."""
    if get_origin(f.annotation) is Literal:
        return [str(a) for a in get_args(f.annotation)]
    registered = [m.func for m in f.metadata if isinstance(m, AfterValidator) and isinstance(m.func, Registered)]
    return registered[0].names(plugins=False) if registered else None


def help_text(name: str, f: FieldInfo) -> str:
    text = f.description or name
    known = choices(f)
    if known:
        text += f"; one of: {', '.join(known)}"
    if option_kind(f) == "value" and not _unset(f.default) and f.default != 0:
        text += f" (default: {f.default})"
    return text


def metavar(f: FieldInfo) -> str | None:
    extra = f.json_schema_extra
    return str(extra["metavar"]) if isinstance(extra, dict) and "metavar" in extra else None


# -- [tool.tunegate] in pyproject.toml ---------------------------------------------------------
def find_pyproject(start: Path) -> Path | None:
    """The first pyproject.toml in ``start`` or its parents (the project ``start`` belongs to)."""
    start = start if start.is_dir() else start.parent
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_tunegate_table(path: Path) -> dict[str, Any] | None:
    """``[tool.tunegate]`` of ``path`` (None when the file has no such table); keys are checked."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: cannot read TOML: {exc}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict) or "tunegate" not in tool:
        return None
    section = tool["tunegate"]
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.tunegate] must be a table, got {type(section).__name__}")
    known = [name for name, _ in option_fields()]
    unknown = sorted(k for k in section if k.replace("-", "_") not in known)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) in [tool.tunegate]: {unknown}; known: {known}")
    return {k.replace("-", "_"): v for k, v in section.items()}



# -- merging the sources -----------------------------------------------------------------------
def _unset(v: Any) -> bool:
    return v is None or (isinstance(v, str | list | tuple) and len(v) == 0)


def _blank(v: Any) -> bool:
    """A value given as nothing: '' or spaces, or a repeatable option with such an entry."""
    if isinstance(v, str):
        return not v.strip()
    return isinstance(v, list | tuple) and any(isinstance(x, str) and not x.strip() for x in v)


def _where(name: str, source: str, value: Any) -> str:
    if source == "command line":
        return f"{flag(name)}={value!r}"
    if source == "ini":
        return f"ini key tunegate_{name} = {value!r}"
    return f"{source}: {name} = {value!r}"


_PYDANTIC_MESSAGES = {
    "int_parsing": "not an integer",
    "int_from_float": "not an integer",
    "float_parsing": "not a number",
    "bool_parsing": "not a boolean; use true or false",
    "string_type": "not a string",
}


def resolve_options(
    cli: Mapping[str, Any],
    pyproject: Mapping[str, Any],
    ini: Mapping[str, Any],
    *,
    pyproject_path: Path | str = "pyproject.toml",
) -> RunOptions:
    """Merge the three sources (cli > pyproject > ini > default) and validate every value."""
    # '--report ""' (an unset $VAR) fell through to pyproject/ini/default; '--candidate ""' was dropped
    empty = [
        f"{_where(name, 'command line', cli[name])}: an empty value; give one or leave the option out"
        for name, _ in option_fields()
        if _blank(cli.get(name))
    ]
    if empty:
        raise ConfigError("; ".join(empty))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    table = f"{pyproject_path} [tool.tunegate]"
    for name, _ in option_fields():
        for source, given in (("command line", cli), (table, pyproject), ("ini", ini)):
            v = given.get(name)
            if not _unset(v):
                values[name], sources[name] = v, source
                break
        else:
            sources[name] = "default"
    try:
        return RunOptions(**values, sources=sources)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            why = _PYDANTIC_MESSAGES.get(err["type"]) or str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "literal_error":
                why = f"unknown {name}; use one of {choices(RunOptions.model_fields[name])}"
            problems.append(f"{_where(name, sources.get(name, 'default'), values.get(name))}: {why}")
        raise ConfigError("; ".join(problems)) from None
