"""Gates as data: a YAML file instead of a Python suite, for teams that want no code in suites.

A file named ``tunegate_*.yaml`` (or ``*.tunegate.yaml``) in a collected directory becomes one
pytest test per gate::

    suite: data/support/eval.jsonl      # relative to this file
    name: support/eval                  # optional; default from the path
    max_new_tokens: 160
    gates:
      - metric: exact_match
        options: {field: category}
        improves: {min_delta: 0.05}
      - metric: json_valid
        improves: {}
      - metric: rouge_l
        options: {field: reply}
        no_regression: {margin: 0.02}

Every key is validated (unknown keys rejected) and a problem names the file and the gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import ConfigError


class Improves(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_delta: float = Field(0.0, description="smallest improvement that counts (superiority margin)")
    alpha: float | None = Field(None, description="significance level; default: the run's --alpha")


class NoRegression(BaseModel):
    model_config = ConfigDict(extra="forbid")
    margin: float = Field(..., gt=0, description="largest drop tolerated (non-inferiority margin)")
    alpha: float | None = Field(None, description="significance level; default: the run's --alpha")


class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str = Field(..., description="a registered metric name, e.g. exact_match, rouge_l, bertscore_f1")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword options of the metric factory")
    name: str | None = Field(None, description="test name; default: the metric's name")
    improves: Improves | None = None
    no_regression: NoRegression | None = None

    @model_validator(mode="after")
    def _one_gate(self) -> GateSpec:
        if (self.improves is None) == (self.no_regression is None):
            raise ValueError("give exactly one of 'improves' or 'no_regression'")
        return self


class GateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suite: str = Field(..., description="the suite JSONL, relative to this YAML file")
    name: str | None = Field(None, description="suite name in reports; default from the path")
    max_new_tokens: int = Field(256, gt=0, description="generation budget per item")
    stop: list[str] = Field(default_factory=list, description="stop strings")
    gates: list[GateSpec] = Field(..., min_length=1)


def load_gatefile(path: Path) -> GateFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return GateFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def is_gatefile(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and (
        path.name.startswith("tunegate_") or path.stem.endswith(".tunegate")
    )
