"""The ``fake`` backend: deterministic texts from a declared script, for testing suites and gates
without a model.

Options (``--backend-option KEY=VALUE``; unknown keys are refused):

- ``answers``: a JSON object ``{"base": {id: text}, "candidate": {id: text}}`` or a JSONL file of
  rows ``{"id": ..., "base": ..., "candidate": ...}``; ``candidate`` covers every candidate (and a
  ``--reference``), a model's own label (``candidate``, ``candidate2``, the reference's ...) overrides it.
- ``references``: the suite's JSONL (``id`` and ``reference`` per row) with ``base_right`` /
  ``candidate_right``: the fraction of items (chosen by a hash of the item id, so the same items
  every run) a model answers with the reference; the others get ``wrong``.
- ``default``: the text for an item neither names.

It declares no capabilities: drift and adapter-probe checks say the backend does not support them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunegate.harness.data import Message
from tunegate.harness.errors import ConfigError
from tunegate.harness.models.base import Completion, GenerationRequest, ModelSpec, register_backend
from tunegate.harness.validation import pydantic_problems


class FakeBackendOptions(BaseModel):
    """``ModelSpec.options`` of the fake backend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answers: Path | None = None
    references: Path | None = None
    base_right: float = Field(0.0, ge=0.0, le=1.0)
    candidate_right: float = Field(1.0, ge=0.0, le=1.0)
    wrong: str = "I do not know."
    default: str | None = None
    # set by the runner for every backend; the fake one has no use for them
    batch_size: int | None = None
    threads: int | None = None


def _options(spec: ModelSpec) -> FakeBackendOptions:
    try:
        return FakeBackendOptions(**spec.options)
    except ValidationError as exc:
        where = f"invalid options for the fake backend ({spec.name})"
        problems = "; ".join(pydantic_problems(exc, where, unknown="unknown option"))
        known = ", ".join(k for k in FakeBackendOptions.model_fields if k not in ("batch_size", "threads"))
        raise ConfigError(f"{problems}; known options: {known} (docs/backends.md)") from None


def _read_rows(path: Path, what: str) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"fake backend option {what}={path}: cannot read it ({exc.strerror}); check the path") from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); fix the file given as {what}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected an object of model labels to {{id: text}}; fix the file given as {what}")
        rows: dict[str, dict[str, Any]] = {}
        for label, texts in data.items():
            if not isinstance(texts, dict):
                raise ConfigError(f"{path}: {label!r} must map item ids to texts; fix the file given as {what}")
            for item, value in texts.items():
                rows.setdefault(str(item), {"id": str(item)})[label] = value
        return list(rows.values())
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{n}: not valid JSON ({exc.msg}); fix the file given as {what}") from None
        if not isinstance(row, dict) or "id" not in row:
            raise ConfigError(f"{path}:{n}: expected an object with an \"id\"; fix the file given as {what}")
        out.append(row)
    return out


def picked(item_id: str, fraction: float) -> bool:
    """Whether ``item_id`` is among the ``fraction`` of items: a hash of the id, the same every run.

    >>> picked("q1", 0.0), picked("q1", 1.0)
    (False, True)
    """
    digest = hashlib.sha256(item_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


class FakeBackend:
    """Answers from the declared script; the base is the model without an adapter."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.options = _options(spec)
        self.role = "base" if spec.adapter is None else "candidate"
        self.answers: dict[str, str] = {}
        if self.options.answers is not None:
            for row in _read_rows(self.options.answers, "answers"):
                text = row.get(spec.label) if self.role == "candidate" and spec.label in row else row.get(self.role)
                if isinstance(text, str):
                    self.answers[str(row["id"])] = text
        self.references: dict[str, str] = {}
        if self.options.references is not None:
            for row in _read_rows(self.options.references, "references"):
                if isinstance(row.get("reference"), str):
                    self.references[str(row["id"])] = row["reference"]
        self.right = self.options.base_right if self.role == "base" else self.options.candidate_right
        self._script = hashlib.sha256(
            json.dumps([self.role, self.answers, self.references, self.right, self.options.wrong, self.options.default], sort_keys=True).encode()
        ).hexdigest()

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"fake:{self.spec.base}:{self.spec.adapter}:{self._script}".encode()).hexdigest()

    def render(self, messages: Sequence[Message]) -> str:
        return "\n".join(f"{m.role}: {m.content}" for m in messages)

    def text(self, item_id: str) -> str:
        if item_id in self.answers:
            return self.answers[item_id]
        if item_id in self.references:
            return self.references[item_id] if picked(item_id, self.right) else self.options.wrong
        if self.options.default is not None:
            return self.options.default
        raise ConfigError(
            f"the fake backend has no answer for item {item_id!r} ({self.spec.name}); add it to the answers file, "
            "give the suite as references=PATH, or set default=TEXT"
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        out = []
        for r in requests:
            text = self.text(r.id)
            words = text.split()
            limit = r.params.max_new_tokens
            finish = "length" if len(words) > limit else "stop"
            answer = " ".join(words[:limit]) if finish == "length" else text
            # A "token" here is a whitespace-separated word, for the answer and the prompt alike.
            prompt = len(self.render(r.messages).split())
            out.append(Completion(answer, min(len(words), limit), finish, prompt_tokens=prompt))
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "fake",
            "base": self.spec.base,
            "adapter": self.spec.adapter,
            "role": self.role,
            "script": self._script[:16],
        }


@register_backend("fake")
def make_fake(spec: ModelSpec, *, cache_dir: str) -> FakeBackend:
    return FakeBackend(spec)
