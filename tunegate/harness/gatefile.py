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
        against: base                   # optional: base or reference (see below)
      - metric: answer_tokens           # cost: at most 10% longer answers than the base's
        no_regression: {margin: 10%}

``against`` (at the top, for every gate, or on one gate) names the pair a gate is about: ``base``
(candidate vs base) or ``reference`` (candidate vs the ``--reference`` model in production). Left
out, a gate is about the reference when the run has one, else the base.

Every key is validated (unknown keys rejected) and a problem names the file and the gate. Numbers
are strict (``margin: true`` or ``margin: "0.1"`` is an error, not 1.0 or 0.1) and finite; a
margin may instead be a percentage of the base's mean (``margin: 10%``); the
metric names and their options are checked against the metric registry, and the suite file is
loaded and validated, all when the file is collected: before any model is loaded.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from tunegate.harness.errors import ConfigError, DataError
from tunegate.harness.levels import Alpha
from tunegate.harness.record_sections import AGAINST, AGAINST_HELP
from tunegate.harness.validation import pydantic_problems, strict_yaml


def _strict_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")
    return value


def _strict_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer, got {type(value).__name__} {value!r}")
    return value


def _margin(value: Any) -> Any:
    if isinstance(value, str):
        from tunegate.harness.compare.relative import parse_margin  # lazy: numpy and the stats
        from tunegate.harness.errors import StatsError

        try:
            parse_margin(value)
        except StatsError:
            raise ValueError(
                f"must be a number, got str {value!r} (a margin relative to the base's mean is a percentage > 0, e.g. 10%)"
            ) from None
        return value.strip()
    value = _strict_number(value)
    if value <= 0:
        raise ValueError("Input should be greater than 0 (or a percentage of the base's mean, e.g. 10%)")
    return value


Number = Annotated[float, BeforeValidator(_strict_number)]
GateAlpha = Annotated[Alpha, BeforeValidator(_strict_number)]
Margin = Annotated[float | str, BeforeValidator(_margin)]
Count = Annotated[int, BeforeValidator(_strict_int)]


def _min_delta(value: Any) -> Any:
    value = _strict_number(value)
    if value < 0:  # accepted here, it stopped the run after generation (assert_improves refuses it)
        raise ValueError(
            f"must be >= 0, got {value!r}; for 'not worse by more than x' write no_regression: {{margin: x}}"
        )
    return value


class Improves(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_delta: Annotated[float, BeforeValidator(_min_delta)] = Field(
        0.0, description="smallest improvement that counts (superiority margin), >= 0"
    )
    alpha: GateAlpha | None = Field(None, description="significance level in (0, 0.5); default: the run's --alpha")


class NoRegression(BaseModel):
    model_config = ConfigDict(extra="forbid")
    margin: Margin = Field(
        ..., description="largest drop tolerated (non-inferiority margin): a number, or a share of the base's mean (10%)"
    )
    alpha: GateAlpha | None = Field(None, description="significance level in (0, 0.5); default: the run's --alpha")


def _against(value: Any) -> Any:
    if value is not None and value not in AGAINST:
        raise ValueError(f"against={value!r} is not a pair; {AGAINST_HELP}")
    return value


AgainstKey = Annotated[Literal["base", "reference"] | None, BeforeValidator(_against)]


class GateEntry(BaseModel):
    """One entry of a gate file's ``gates:`` list: a metric and its gate."""

    model_config = ConfigDict(extra="forbid")
    metric: str = Field(..., description="a registered metric name, e.g. exact_match, rouge_l, bertscore_f1")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword options of the metric factory")
    name: str | None = Field(None, min_length=1, description="test name; default: the metric's name")
    improves: Improves | None = None
    no_regression: NoRegression | None = None
    against: AgainstKey = Field(None, description="the pair: base or reference; default: the file's")

    @model_validator(mode="after")
    def _one_gate(self) -> GateEntry:
        if (self.improves is None) == (self.no_regression is None):
            raise ValueError("give exactly one of 'improves' or 'no_regression'")
        return self

    def test_name(self) -> str:
        """The gate's pytest name: ``name``, else the metric and its options (``contains[text=x]``)."""
        opts = ",".join(f"{a}={b}" for a, b in self.options.items())
        return self.name or self.metric + (f"[{opts}]" if opts else "")


class GateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suite: str = Field(..., description="the suite JSONL, relative to this YAML file")
    name: str | None = Field(None, min_length=1, description="suite name in reports; default from the path")
    max_new_tokens: Count = Field(256, gt=0, description="generation budget per item")
    stop: list[str] = Field(default_factory=list, description="stop strings")
    against: AgainstKey = Field(
        None, description="the pair of every gate: base or reference; default: the reference when the run has one"
    )
    gates: list[GateEntry] = Field(..., min_length=1)

    def pair(self, k: int) -> str | None:
        """The pair gate ``k`` asks for (its own ``against``, else the file's; None: the run's default)."""
        return self.gates[k].against or self.against


def load_gatefile(path: Path, *, check_suite: bool = True, check_metrics: bool = True) -> GateFile:
    """Read and validate a gate YAML; every problem is one ``ConfigError`` naming the file.

    With ``check_metrics`` every gate's metric must be registered (``tunegate.harness.metrics``) and accept
    its options; with ``check_suite`` the suite file must exist and load (``tunegate.harness.data``).
    """
    path = Path(path)
    try:
        raw = strict_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read the gate file: {reason}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. !!timestamp 2020-99-99
        raise ConfigError(f"{path}: invalid YAML value: {str(exc)[:200] or type(exc).__name__}") from None
    try:
        spec = GateFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("; ".join(pydantic_problems(exc, str(path), line_of=_lines(path)))) from None
    except RecursionError:
        raise ConfigError(f"{path}: the YAML is nested too deeply to be a gate file") from None
    spec = _unique_names(path, spec)
    if check_metrics:
        _check_metrics(path, spec)
    if check_suite:
        _check_suite(path, spec)
    return spec


def _unique_names(path: Path, spec: GateFile) -> GateFile:
    """One pytest id and one record per gate (a second gate of one name replaced the first's
    record). Unnamed gates of one metric and options that differ in their test or their pair are
    told apart by it (``rouge_l[improves]``, ``rouge_l[vs reference]``); others must be named."""
    default: dict[str, list[int]] = {}
    for k, gate in enumerate(spec.gates):
        if gate.name is None:
            default.setdefault(gate.test_name(), []).append(k)
    gates = list(spec.gates)
    for name, ks in default.items():
        if len(ks) < 2:
            continue
        kinds = ["improves" if gates[k].improves is not None else "no_regression" for k in ks]
        pairs = [f"vs {spec.pair(k) or 'the run default'}" for k in ks]
        labels = [
            ", ".join(part for part, varies in ((kind, len(set(kinds)) > 1), (pair, len(set(pairs)) > 1)) if varies)
            for kind, pair in zip(kinds, pairs, strict=True)
        ]
        if len(set(labels)) == len(labels):
            for k, label in zip(ks, labels, strict=True):
                gates[k] = gates[k].model_copy(update={"name": f"{name}[{label}]"})
    spec = spec.model_copy(update={"gates": gates})
    seen: dict[str, int] = {}
    for k, gate in enumerate(spec.gates):
        first = seen.setdefault(gate.test_name(), k)
        if first != k:
            raise ConfigError(
                f"{path}: gates.{k}: its test name {gate.test_name()!r} is gates.{first}'s too; "
                "give one of them a `name:` (or drop the repeated gate)"
            )
    return spec


def _lines(path: Path) -> Callable[[tuple[Any, ...]], int | None]:
    """The 1-based line of a key path (``("gates", 0, "against")``) in the YAML file, for messages."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError, RecursionError):
        root = None

    def line_of(loc: tuple[Any, ...]) -> int | None:
        node, line = root, None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                hit = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(key)), None)
                if hit is None:
                    return line
                line, node = hit[0].start_mark.line + 1, hit[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                return line
        return line

    return line_of


def _check_metrics(path: Path, spec: GateFile) -> None:
    from tunegate.harness.metrics import METRICS  # lazy: the registry imports every metric module

    for k, gate in enumerate(spec.gates):
        if gate.metric not in METRICS:
            known = ", ".join(METRICS.names())
            raise ConfigError(
                f"{path}: gates.{k}.metric: unknown metric {gate.metric!r}; known: {known} "
                "(a custom metric must be registered in a conftest.py or plugin)"
            )
        factory = METRICS.get(gate.metric)
        try:
            inspect.signature(factory).bind(**gate.options)
        except TypeError as exc:
            raise ConfigError(
                f"{path}: gates.{k}.options: metric {gate.metric!r} {exc}; "
                f"its options are {gate.metric}{inspect.signature(factory)}"
            ) from None
        except ValueError:  # a factory without an inspectable signature: checked when it runs
            continue


def suite_path(path: Path, spec: GateFile) -> Path:
    """Where the gate file's suite is: relative to the gate file."""
    return Path(path).parent / spec.suite


def _check_suite(path: Path, spec: GateFile) -> None:
    from tunegate.harness.data import load_suite

    try:
        load_suite(suite_path(path, spec), name=spec.name)
    except DataError as exc:
        shown = "; ".join(exc.problems[:3]) + (f"; and {len(exc.problems) - 3} more" if len(exc.problems) > 3 else "")
        raise ConfigError(f"{path}: suite {spec.suite!r}: {shown}") from None


def is_gatefile(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and (
        path.name.startswith("tunegate_") or path.stem.endswith(".tunegate")
    )
