"""Rubrics as files: Markdown with YAML front matter, validated strictly, versioned by content hash.

A rubric file looks like this (the front matter holds the settings, the Markdown body below it is
the instructions the judge reads)::

    ---
    name: support_style
    description: Tone, helpfulness and style of a support reply
    field: reply                # optional: grade this field of a JSON output
    show_reference: false
    criteria:
      - name: greeting
        description: Opens with "Hi <first name>," or "Hello,".
    scale:
      min: 1
      max: 5
      anchors:
        - score: 5
          description: Follows every rule.
          example: |
            Hi Dana, ...
        # one anchor per score, min..max
    ---
    Grade the reply as the support team's style reviewer would ...

The version of a rubric is the sha256 of its normalised text (UTF-8, no BOM, LF line ends, no
trailing spaces): editing a word changes it and invalidates cached judgments and calibrations;
re-saving with CRLF line ends does not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tunegate.harness.errors import JudgeError
from tunegate.harness.validation import pydantic_problems

RUBRIC_DIR = Path(__file__).parent / "rubrics"
SUFFIXES = (".md", ".markdown")
KNOWN_KEYS = (
    "at the top level: name, description, criteria, scale, show_reference, field; criteria: name, "
    "description; scale: min, max, anchors; anchors: score, description, example"
)
FIX_HINT = "see docs/judges.md (Rubric format), then check it with `tunegate judge validate {path}`"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Criterion(_Strict):
    """One thing the judge looks at."""

    name: str = Field(min_length=1, description="short identifier, e.g. 'greeting'")
    description: str = Field(min_length=1, description="what meeting the criterion looks like")


class Anchor(_Strict):
    """What one score means, with an example response that earns it."""

    score: int
    description: str = Field(min_length=1, description="what earns this score")
    example: str = Field(min_length=1, description="a response that earns exactly this score")


class Scale(_Strict):
    """Integer scores ``min..max`` (digits 0-9: each score is one token for logprob judges)."""

    min: int = Field(default=1, ge=0, le=9)
    max: int = Field(default=5, ge=1, le=9)
    anchors: list[Anchor] = Field(min_length=2, description="one anchored example per score")

    @model_validator(mode="after")
    def _one_anchor_per_score(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        scores = [a.score for a in self.anchors]
        wanted = list(range(self.min, self.max + 1))
        if sorted(scores) != wanted:
            raise ValueError(f"anchors must hold exactly one entry per score {wanted}, got scores {scores}")
        return self

    @property
    def scores(self) -> list[int]:
        return list(range(self.min, self.max + 1))


class RubricSpec(_Strict):
    """The front matter of a rubric file. Unknown keys are rejected."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="identifier used in metric names")
    description: str = ""
    criteria: list[Criterion] = Field(min_length=1)
    scale: Scale
    show_reference: bool = Field(default=False, description="put the item's reference answer in the prompt")
    field: str | None = Field(
        default=None,
        description="when outputs are JSON objects, grade this field (outputs that are not are graded as written)",
    )

    @field_validator("criteria")
    @classmethod
    def _unique_criteria(cls, value: list[Criterion]) -> list[Criterion]:
        names = [c.name for c in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"criterion names must be unique, repeated: {dupes}")
        return value


@dataclass(frozen=True)
class Rubric:
    """A loaded rubric: its settings, its instructions, where it came from and its content hash."""

    spec: RubricSpec
    instructions: str
    path: str
    hash: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    @property
    def scale(self) -> Scale:
        return self.spec.scale

    def describe(self) -> dict[str, Any]:
        return {
            "rubric": self.name,
            "rubric_hash": self.hash,
            "rubric_path": self.path,
            "scale": [self.scale.min, self.scale.max],
            "show_reference": self.spec.show_reference,
            "field": self.spec.field,
        }


def normalise(text: str) -> str:
    """The text a rubric's hash is computed from: LF line ends, no trailing spaces, one final newline."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def rubric_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def parse_rubric(text: str, where: str) -> Rubric:
    """Validate rubric text; every problem is reported as ``where:line: message`` in one error."""
    norm = normalise(text)
    lines = norm.split("\n")
    if not lines or lines[0].strip() != "---":
        raise _error(
            where, [f"{where}:1: a rubric file starts with a '---' line opening its YAML front matter"]
        )
    try:
        close = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise _error(
            where, [f"{where}:1: the front matter opened on line 1 is never closed by a '---' line"]
        ) from None
    front = "\n".join(lines[1:close])
    instructions = "\n".join(lines[close + 1 :]).strip()
    try:
        data = yaml.safe_load(front)
        root = yaml.compose(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _error(where, [f"{where}:{line}: invalid YAML in the front matter: {problem}"]) from None
    if not isinstance(data, dict):
        raise _error(where, [f"{where}:2: the front matter must be a YAML mapping (key: value lines)"])
    problems: list[str] = []
    spec: RubricSpec | None = None
    try:
        spec = RubricSpec.model_validate(data)
    except ValidationError as exc:
        problems += pydantic_problems(
            exc, where, line_of=lambda loc: _line_of(root, loc) + 2, known=KNOWN_KEYS
        )
    if not instructions:
        problems.append(
            f"{where}:{close + 2}: the instructions are empty; write them as Markdown below the closing '---'"
        )
    if problems or spec is None:
        raise _error(where, problems)
    return Rubric(
        spec=spec, instructions=instructions, path=where, hash=hashlib.sha256(norm.encode()).hexdigest()
    )


def load_rubric(name_or_path: str | Path, search: Sequence[str | Path] = ()) -> Rubric:
    """Load a rubric by name (``support_style`` -> ``tunegate/judges/rubrics/support_style.md``) or by path.

    ``search`` lists extra folders tried before the built-in ones, so a project can ship its own.
    """
    path = find_rubric(name_or_path, search)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JudgeError(f"{path}: cannot read the rubric file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _error(str(path), [f"{path}:{line}: not valid UTF-8; re-save the file as UTF-8"]) from None
    return parse_rubric(text, str(path))


def find_rubric(name_or_path: str | Path, search: Sequence[str | Path] = ()) -> Path:
    raw = str(name_or_path)
    direct = Path(raw).expanduser()
    if direct.suffix in SUFFIXES or "/" in raw or direct.is_file():
        if direct.is_file():
            return direct
        if direct.is_dir():
            raise JudgeError(
                f"rubric file {raw!r} is a directory; pass a rubric .md file inside it, or a rubric name"
            )
        raise JudgeError(
            f"rubric file {raw!r} not found; known rubrics: {', '.join(known_rubrics(search)) or '(none)'}"
        )
    folders = [Path(s) for s in search] + [RUBRIC_DIR]
    for folder in folders:
        for suffix in SUFFIXES:
            candidate = folder / f"{raw}{suffix}"
            if candidate.is_file():
                return candidate
    raise JudgeError(
        f"unknown rubric {raw!r}; known rubrics: {', '.join(known_rubrics(search)) or '(none)'} "
        f"(looked in {', '.join(str(f) for f in folders)}); pass a path to a .md rubric file or add one there"
    )


def known_rubrics(search: Sequence[str | Path] = ()) -> list[str]:
    names: set[str] = set()
    for folder in [Path(s) for s in search] + [RUBRIC_DIR]:
        if folder.is_dir():
            names.update(p.stem for p in folder.iterdir() if p.suffix in SUFFIXES)
    return sorted(names)


def _error(where: str, problems: list[str]) -> JudgeError:
    head = f"invalid rubric {where}: {len(problems)} problem(s); fix them ({FIX_HINT.format(path=where)}):"
    return JudgeError("\n".join([head, *("  " + p for p in problems)]))


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """0-based line inside the front matter of the YAML node at ``loc`` (the deepest one that exists)."""
    if node is None:
        return 0
    line = int(node.start_mark.line)
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child = value if not isinstance(value, yaml.ScalarNode) else key
                    line = int(key.start_mark.line)
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
            line = int(child.start_mark.line)
        if child is None:
            break
        node = child
    return line
