"""Run options: from the command line, ``[tool.tunegate]`` in pyproject.toml, or pytest ini keys.

Precedence: command line > ``[tool.tunegate]`` > ``tunegate_*`` ini keys > defaults. Every value
is validated here and a bad one raises ``ConfigError`` naming the option and the value.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.models.resolve import DEFAULT_ALIAS, default_cache_dir

DTYPES = ("auto", "bf16", "fp32", "fp16")
QUANTIZATIONS = ("none", "nf4")

# name -> (help, default). The plugin turns each into --name and an ini key tunegate_name.
OPTION_HELP: dict[str, tuple[str, Any]] = {
    "base": (f"base model: a HF dir, a Hub id, a .gguf file or {DEFAULT_ALIAS!r} (default)", DEFAULT_ALIAS),
    "candidate": ("candidate adapter dir or full model dir (repeat for several candidates)", []),
    "backend": ("model backend: hf (default), vllm, openai", "hf"),
    "dtype": ("compute dtype: auto (bf16 where the hardware has it), bf16, fp32, fp16", "auto"),
    "quantization": ("load the base in 4-bit for the comparison: none (default) or nf4", "none"),
    "judge": (
        "judge provider for judge metrics: local (default), anthropic, openai, openai-compatible",
        "local",
    ),
    "judge_model": ("judge model name (provider default when empty)", ""),
    "report": ("write results.json, report.html and summary.md into this directory", ""),
    "alpha": ("significance level of every gate (0 < alpha <= 0.5)", 0.05),
    "cache_dir": ("cache directory (models, responses, judge verdicts)", ""),
    "no_cache": ("do not read or write the response cache", False),
    "sample": ("evaluate a seeded random subset of N items per suite (never the first N)", 0),
    "seed": ("seed for sampling and resampling", 0),
    "batch_size": ("generation batch size (default: 32 on CPU, 64 on CUDA)", 0),
    "base_url": ("base URL of an OpenAI-compatible server (backend openai)", ""),
    "backend_option": ("backend setting KEY=VALUE passed to the backend (repeatable), e.g. concurrency=16", []),
    "train_data": (
        "training JSONL file(s) for the leakage check (default: from the adapter's tunegate.json)",
        [],
    ),
}


@dataclass(frozen=True)
class RunOptions:
    base: str = DEFAULT_ALIAS
    candidate: tuple[str, ...] = ()
    backend: str = "hf"
    dtype: str = "auto"
    quantization: str = "none"
    judge: str = "local"
    judge_model: str = ""
    report: str = ""
    alpha: float = 0.05
    cache_dir: str = ""
    no_cache: bool = False
    sample: int = 0
    seed: int = 0
    batch_size: int = 0
    base_url: str = ""
    train_data: tuple[str, ...] = ()
    backend_option: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    def backend_options(self) -> dict[str, Any]:
        """--backend-option KEY=VALUE pairs; values that parse as JSON numbers/booleans are converted."""
        import json

        out: dict[str, Any] = {}
        for pair in self.backend_option:
            key, value = pair.split("=", 1)
            try:
                out[key.strip()] = json.loads(value)
            except ValueError:
                out[key.strip()] = value
        return out

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()


def read_pyproject(rootdir: Path) -> dict[str, Any]:
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot parse TOML: {exc}") from None
    section = data.get("tool", {}).get("tunegate", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.tunegate] must be a table")
    unknown = sorted(k for k in section if k.replace("-", "_") not in OPTION_HELP and k != "gates")
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in [tool.tunegate]: {unknown}; known: {sorted(OPTION_HELP)}"
        )
    return {k.replace("-", "_"): v for k, v in section.items()}


def _check(name: str, value: Any, backends: list[str]) -> Any:
    def bad(why: str) -> ConfigError:
        return ConfigError(f"--{name.replace('_', '-')}={value!r}: {why}")

    if name == "alpha":
        try:
            alpha = float(value)
        except (TypeError, ValueError):
            raise bad("not a number; use e.g. --alpha 0.05") from None
        if not 0 < alpha <= 0.5:
            raise bad("alpha must be in (0, 0.5]; use e.g. --alpha 0.05")
        return alpha
    if name in ("sample", "seed", "batch_size"):
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise bad("not an integer") from None
        if n < 0:
            raise bad("must be >= 0")
        return n
    if name == "dtype" and value not in DTYPES:
        raise bad(f"unknown dtype; use one of {list(DTYPES)}")
    if name == "quantization" and value not in QUANTIZATIONS:
        raise bad(f"unknown quantization; use one of {list(QUANTIZATIONS)}")
    if name == "backend" and value not in backends:
        raise bad(f"unknown backend; known: {backends}")
    if name in ("candidate", "train_data", "backend_option"):
        items = [value] if isinstance(value, str) else list(value or [])
        out = tuple(str(v) for v in items if str(v).strip())
        if name == "backend_option":
            for v in out:
                if "=" not in v or not v.split("=", 1)[0].strip():
                    raise ConfigError(f"--backend-option={v!r}: expected KEY=VALUE, e.g. --backend-option concurrency=16")
        return out
    if name == "no_cache":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    return value


def resolve_options(
    cli: dict[str, Any], pyproject: dict[str, Any], ini: dict[str, Any], backends: list[str]
) -> RunOptions:
    """Merge the three sources (cli > pyproject > ini > default) and validate every value."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, (_, default) in OPTION_HELP.items():
        for source, table in (("command line", cli), ("[tool.tunegate]", pyproject), ("ini", ini)):
            v = table.get(name)
            if v not in (None, "", [], ()):
                values[name], sources[name] = v, source
                break
        else:
            values[name], sources[name] = default, "default"
        values[name] = _check(name, values[name], backends)
    return RunOptions(**values, sources=sources)
