"""Hostile and careless input, tried from the outside through the real entry points.

Every case builds one malformed input (a suite file, a gate YAML, an adapter dir, a CLI value, a
results.json, a trainer config, a cache file) in a fresh directory, runs it as a user would
(``pytest ... --base --candidate`` in a subprocess, or the ``tunegate`` command) and asserts:

* the exit code is the documented one (docs/ci.md: pytest 0 pass, 1 gate failed, 2 collection
  error, 4 usage/configuration error; ``tunegate report``/``train``/``cache``: 2 usage or input
  error; ``tunegate data check``: 1 errors found, 2 usage error);
* the output holds no ``Traceback``, no ``INTERNALERROR`` and no frame listing of tunegate's own
  code (``tunegate/harness/xxx.py:NN: in``);
* the message names the file (with its line where that makes sense) or the bad value.

Configuration-time cases are fast (no model loads); the cases that run models, and most of the
corpus, are marked ``slow``; a representative handful stays in the default run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tunegate.harness.record import SCHEMA_VERSION, ModelRecord, Models, RunInfo, RunRecord, RunVerdict, Tool

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
# tunegate's own frames in pytest's collection-error listing: "tunegate/harness/data.py:287: in parse_items"
OWN_FRAME = re.compile(r"tunegate/(?:harness|reports|judges|trainers)/[\w/]+\.py:\d+: in ")

GOOD = {"id": "a", "messages": [{"role": "user", "content": "Say hello."}], "reference": "hello"}


def line(**overrides: object) -> bytes:
    return json.dumps({**GOOD, **overrides}).encode()


def good_line(i: int) -> bytes:
    return json.dumps({**GOOD, "id": f"g{i}"}).encode()


GATE = "suite: data/s.jsonl\nmax_new_tokens: 4\ngates:\n  - metric: exact_match\n    improves: {}\n"


@dataclass
class Ctx:
    """Where a case builds its input: the project dir, the tiny models, a scratch dir."""

    project: Path
    model: Path
    adapter: Path
    scratch: Path

    @property
    def cache(self) -> Path:
        return self.scratch / "cache"

    def write(self, rel: str, data: bytes | str) -> Path:
        path = self.project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
        return path

    def models(self, *, candidate: str | None = None, base: str | None = None) -> list[str]:
        return [
            "--base", base or str(self.model), "--candidate", candidate or str(self.adapter),
            "--dtype", "fp32", "--cache-dir", str(self.cache),
        ]  # fmt: skip

    def suite(self, data: bytes, *extra: str) -> list[str]:
        """A gate file over ``data/s.jsonl`` holding ``data``: the suite is loaded at collection."""
        self.write("data/s.jsonl", data)
        self.write("tunegate_s.yaml", GATE)
        return ["tunegate_s.yaml", *self.models(), *extra]

    def gate(self, text: str | bytes, *extra: str) -> list[str]:
        self.write("data/s.jsonl", b"\n".join(good_line(i) for i in range(4)) + b"\n")
        self.write("tunegate_g.yaml", text)
        return ["tunegate_g.yaml", *self.models(), *extra]

    def adapter_copy(self, name: str = "adapter") -> Path:
        dst = self.scratch / name
        shutil.copytree(self.adapter, dst)
        return dst

    def python_suite(self) -> None:
        """A one-test Python suite over data/s.jsonl (4 good items)."""
        self.write("data/s.jsonl", b"\n".join(good_line(i) for i in range(4)) + b"\n")
        self.write(
            "test_s.py",
            "from pathlib import Path\nfrom tunegate.harness.data import load_suite\nfrom tunegate.harness.metrics import make_metric\n"
            "SUITE = load_suite(Path(__file__).parent / 'data' / 's.jsonl', max_new_tokens=4)\n"
            "def test_s(compare):\n    compare(SUITE, make_metric('exact_match'))\n",
        )


@dataclass
class Call:
    kind: str  # "pytest" or "cli"
    args: list[str]
    needles: list[str] = field(default_factory=list)
    then: Callable[[Ctx, str], None] | None = None  # extra checks on the state left behind


@dataclass
class Case:
    id: str
    build: Callable[[Ctx], Call]
    rc: int
    fast: bool = False
    xfail: str = ""


CASES: list[Case] = []


def case(
    id: str, rc: int, *, fast: bool = False, xfail: str = ""
) -> Callable[[Callable[[Ctx], Call]], Callable[[Ctx], Call]]:
    def register(build: Callable[[Ctx], Call]) -> Callable[[Ctx], Call]:
        CASES.append(Case(id, build, rc, fast, xfail))
        return build

    return register


def pt(args: list[str], *needles: str) -> Call:
    return Call("pytest", args, list(needles))


def cli(args: list[str], *needles: str) -> Call:
    return Call("cli", args, list(needles))


# ---------------------------------------------------------------------------------------------
# suite JSONL (loaded when the gate file is collected: exit 2, the file and the line named)
# ---------------------------------------------------------------------------------------------
@case("suite-bad-json", 2, fast=True)
def _(c: Ctx) -> Call:
    return pt(c.suite(good_line(0) + b'\n{"id": "b", "messages": [\n'), "data/s.jsonl:2", "invalid JSON")


@case("suite-bom-accepted", 0)
def _(c: Ctx) -> Call:
    return pt(
        c.suite(b"\xef\xbb\xbf" + good_line(0) + b"\n" + good_line(1) + b"\n", "--collect-only"), "1 item"
    )


@case("suite-crlf-accepted", 0)
def _(c: Ctx) -> Call:
    return pt(c.suite(good_line(0) + b"\r\n" + good_line(1) + b"\r\n", "--collect-only"), "1 item")


@case("suite-nan", 2, fast=True)
def _(c: Ctx) -> Call:
    return pt(c.suite(good_line(0) + b'\n{"id": "b", "messages": [{"role": "user", "content": "x"}], "reference": NaN}\n'),
              "data/s.jsonl:2", "NaN")  # fmt: skip


@case("suite-infinity-in-tags", 2)
def _(c: Ctx) -> Call:
    bad = b'{"id": "b", "messages": [{"role": "user", "content": "x"}], "tags": {"w": -Infinity}}'
    return pt(c.suite(good_line(0) + b"\n" + bad + b"\n"), "data/s.jsonl:2", "Infinity")


@case("suite-overflowing-number", 2)
def _(c: Ctx) -> Call:
    bad = b'{"id": "b", "messages": [{"role": "user", "content": "x"}], "meta": {"w": 1e999}}'
    return pt(c.suite(good_line(0) + b"\n" + bad + b"\n"), "data/s.jsonl:2")


@case("suite-lone-surrogate", 2)
def _(c: Ctx) -> Call:
    bad = b'{"id": "b", "messages": [{"role": "user", "content": "x \\ud800 y"}]}'
    return pt(c.suite(good_line(0) + b"\n" + bad + b"\n"), "data/s.jsonl:2", "surrogate")


@case("suite-duplicate-ids", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(line(id="same") + b"\n" + line(id="same") + b"\n"), "data/s.jsonl:2", "same")


@case("suite-empty-messages", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(line(messages=[]) + b"\n"), "data/s.jsonl:1", "messages")


@case("suite-last-message-not-user", 2)
def _(c: Ctx) -> Call:
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "the answer"}]
    return pt(c.suite(line(messages=msgs) + b"\n"), "data/s.jsonl:1", "user")


@case("suite-unknown-role", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(line(messages=[{"role": "robot", "content": "hi"}]) + b"\n"), "data/s.jsonl:1", "robot")


@case("suite-content-not-text", 2)
def _(c: Ctx) -> Call:
    return pt(
        c.suite(line(messages=[{"role": "user", "content": {"a": 1}}]) + b"\n"), "data/s.jsonl:1", "content"
    )


@case("suite-non-utf8", 2, fast=True)
def _(c: Ctx) -> Call:
    return pt(c.suite(good_line(0) + b'\n{"id": "b\xff\xfe", "messages": []}\n'), "data/s.jsonl:2", "UTF-8")


@case("suite-nul-byte", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(good_line(0) + b"\n\x00\x00\n"), "data/s.jsonl:2")


@case("suite-line-is-a-list", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(good_line(0) + b"\n[1, 2, 3]\n"), "data/s.jsonl:2")


@case("suite-huge-line", 2)
def _(c: Ctx) -> Call:
    # 8 MB of one JSON line that never closes: read, rejected by line, never echoed whole
    huge = b'{"id": "h", "messages": [{"role": "user", "content": "' + b"A" * 8_000_000
    return Call(
        "pytest", c.suite(good_line(0) + b"\n" + huge + b"\n"), ["data/s.jsonl:2"], then=_short_output
    )


def _short_output(c: Ctx, out: str) -> None:
    assert len(out) < 50_000, f"the 8 MB line was echoed: {len(out)} characters of output"


@case("suite-deeply-nested", 2)
def _(c: Ctx) -> Call:
    deep = (
        b'{"id": "d", "messages": [{"role": "user", "content": "x"}], "meta": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}"
    )
    return pt(c.suite(good_line(0) + b"\n" + deep + b"\n"), "data/s.jsonl:2")


@case("suite-missing-id", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(json.dumps({"messages": GOOD["messages"]}).encode() + b"\n"), "data/s.jsonl:1", "id")


@case("suite-tags-wrong-type", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(line(tags=5) + b"\n"), "data/s.jsonl:1", "tags")


@case("suite-meta-wrong-type", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(line(meta="not an object") + b"\n"), "data/s.jsonl:1", "meta")


@case("suite-reference-number-accepted", 0)
def _(c: Ctx) -> Call:
    # any JSON reference is kept (compared as its JSON text): a number is not an error
    return pt(c.suite(line(reference=42) + b"\n", "--collect-only"), "1 item")


@case("suite-empty-file", 2, fast=True)
def _(c: Ctx) -> Call:
    return pt(c.suite(b""), "data/s.jsonl", "empty")


@case("suite-only-blank-lines", 2)
def _(c: Ctx) -> Call:
    return pt(c.suite(b"\n   \n\t\n"), "data/s.jsonl")


@case("suite-path-is-a-directory", 2)
def _(c: Ctx) -> Call:
    (c.project / "data" / "s.jsonl").mkdir(parents=True)
    c.write("data/s.jsonl/inner.jsonl", good_line(0))
    c.write("tunegate_s.yaml", GATE)
    return pt(["tunegate_s.yaml", *c.models()], "data/s.jsonl", "directory")


@case("suite-symlink-loop", 2)
def _(c: Ctx) -> Call:
    (c.project / "data").mkdir()
    os.symlink("s.jsonl", c.project / "data" / "s.jsonl")
    c.write("tunegate_s.yaml", GATE)
    return pt(["tunegate_s.yaml", *c.models()], "data/s.jsonl", "ymlink loop")


@case("suite-dangling-symlink", 2)
def _(c: Ctx) -> Call:
    (c.project / "data").mkdir()
    os.symlink(c.scratch / "gone.jsonl", c.project / "data" / "s.jsonl")
    c.write("tunegate_s.yaml", GATE)
    return pt(["tunegate_s.yaml", *c.models()], "data/s.jsonl")


@case("suite-unreadable-fifo", 2)
def _(c: Ctx) -> Call:
    # a named pipe with no writer: reading it would block forever
    (c.project / "data").mkdir()
    os.mkfifo(c.project / "data" / "s.jsonl")
    c.write("tunegate_s.yaml", GATE)
    return pt(["tunegate_s.yaml", *c.models()], "data/s.jsonl", "not a regular file")


@case(
    "python-suite-bad-line-shows-no-frames", 2,
)  # fmt: skip
def _(c: Ctx) -> Call:
    c.python_suite()
    c.write("data/s.jsonl", good_line(0) + b'\n{"id": "b", "messages": [}\n')
    return pt(["test_s.py", *c.models()], "data/s.jsonl:2")


# ---------------------------------------------------------------------------------------------
# gate YAML files (collection errors: exit 2, the file named)
# ---------------------------------------------------------------------------------------------
def _gate(metric: str = "exact_match", body: str = "improves: {}") -> str:
    return f"suite: data/s.jsonl\nmax_new_tokens: 4\ngates:\n  - metric: {metric}\n    {body}\n"


@case("gate-margin-true", 2, fast=True)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate(body="no_regression: {margin: true}")), "tunegate_g.yaml", "margin", "bool")


@case("gate-margin-string", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate(body='no_regression: {margin: "0.1"}')), "tunegate_g.yaml", "margin", "'0.1'")


@case("gate-margin-negative", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate(body="no_regression: {margin: -0.1}")), "tunegate_g.yaml", "margin")


@case("gate-margin-nan", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate(body="no_regression: {margin: .nan}")), "tunegate_g.yaml", "margin")


@case("gate-unknown-metric", 2, fast=True)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate(metric="no_such_metric")), "tunegate_g.yaml", "unknown metric 'no_such_metric'")


@case("gate-unknown-metric-option", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate(body="options: {feild: x}\n    improves: {}")), "tunegate_g.yaml", "feild")


@case("gate-unknown-key", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate() + "treshold: 3\n"), "tunegate_g.yaml", "treshold")


@case("gate-missing-suite-file", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate().replace("data/s.jsonl", "data/nope.jsonl")), "tunegate_g.yaml", "nope.jsonl")


@case("gate-alpha-half", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate(body="improves: {alpha: 0.5}")), "tunegate_g.yaml", "alpha")


@case("gate-both-improves-and-no-regression", 2)
def _(c: Ctx) -> Call:
    return pt(
        c.gate(_gate(body="improves: {}\n    no_regression: {margin: 0.1}")), "tunegate_g.yaml", "exactly one"
    )


@case("gate-no-gates", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate("suite: data/s.jsonl\ngates: []\n"), "tunegate_g.yaml", "gates")


@case("gate-max-new-tokens-zero", 2)
def _(c: Ctx) -> Call:
    return pt(
        c.gate(_gate().replace("max_new_tokens: 4", "max_new_tokens: 0")), "tunegate_g.yaml", "max_new_tokens"
    )


@case("gate-not-a-mapping", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate("- suite\n- gates\n"), "tunegate_g.yaml")


@case("gate-empty-file", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(""), "tunegate_g.yaml")


@case("gate-invalid-yaml", 2)
def _(c: Ctx) -> Call:
    return pt(
        c.gate("suite: data/s.jsonl\ngates:\n  - metric: [unclosed\n"), "tunegate_g.yaml:", "invalid YAML"
    )


@case("gate-yaml-bomb", 2, fast=True)
def _(c: Ctx) -> Call:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
    return pt(c.gate("suite: data/s.jsonl\ngates: *i\n" + bomb.replace("a: &a", "x: &a")), "tunegate_g.yaml")


@case("gate-deep-nesting", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate("suite: data/s.jsonl\ngates: " + "[" * 20_000 + "]" * 20_000 + "\n"), "tunegate_g.yaml")


@case("gate-python-tag", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate("suite: !!python/object/apply:os.system ['echo PWNED']\ngates: []\n"), "tunegate_g.yaml")


@case("gate-non-utf8", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(b"suite: data/s\xff.jsonl\n"), "tunegate_g.yaml")


# ---------------------------------------------------------------------------------------------
# adapters (usage errors before any model loads: exit 4, the adapter named)
# ---------------------------------------------------------------------------------------------
@case("adapter-pickle-only", 4, fast=True)
def _(c: Ctx) -> Call:
    bad = c.adapter_copy()
    (bad / "adapter_model.safetensors").unlink()
    (bad / "adapter_model.bin").write_bytes(b"\x80\x04\x95")
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], str(bad), "adapter_model.bin")


@case("adapter-missing-config", 4)
def _(c: Ctx) -> Call:
    bad = c.adapter_copy()
    (bad / "adapter_config.json").unlink()
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], str(bad), "adapter_config.json")


@case("adapter-config-not-json", 4, fast=True)
def _(c: Ctx) -> Call:
    bad = c.adapter_copy()
    (bad / "adapter_config.json").write_text("{'r': 8,")
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], "adapter_config.json")


@case("adapter-config-a-list", 4)
def _(c: Ctx) -> Call:
    bad = c.adapter_copy()
    (bad / "adapter_config.json").write_text("[1, 2]")
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], "adapter_config.json")


@case("adapter-for-another-base", 4)
def _(c: Ctx) -> Call:
    bad = c.adapter_copy()
    config = json.loads((bad / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "SomeOrg/a-completely-different-7b"
    (bad / "adapter_config.json").write_text(json.dumps(config))
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], "SomeOrg/a-completely-different-7b")


@case("adapter-empty-dir", 4)
def _(c: Ctx) -> Call:
    bad = c.scratch / "empty"
    bad.mkdir()
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], str(bad))


@case("adapter-is-a-file", 4)
def _(c: Ctx) -> Call:
    bad = c.scratch / "adapter.safetensors"
    shutil.copy(c.adapter / "adapter_model.safetensors", bad)
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], str(bad))


@case("adapter-symlink-loop", 4)
def _(c: Ctx) -> Call:
    bad = c.scratch / "loop"
    os.symlink(bad, bad)
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], str(bad))


@case("adapter-weights-truncated", 4)
def _(c: Ctx) -> Call:
    bad = c.adapter_copy()
    weights = bad / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    c.python_suite()
    return pt(["test_s.py", *c.models(candidate=str(bad))], "adapter_model.safetensors", "truncated")


@case("base-weights-empty", 4)
def _(c: Ctx) -> Call:
    base = c.scratch / "base"
    shutil.copytree(c.model, base)
    (base / "model.safetensors").write_bytes(b"")
    c.python_suite()
    return pt(["test_s.py", *c.models(base=str(base))], "model.safetensors", "too short")


@case("base-config-not-json", 4)
def _(c: Ctx) -> Call:
    base = c.scratch / "base"
    shutil.copytree(c.model, base)
    (base / "config.json").write_text("not json")
    c.python_suite()
    return pt(["test_s.py", *c.models(base=str(base))], "config.json")


@case("base-pickle-weights", 4)
def _(c: Ctx) -> Call:
    base = c.scratch / "base"
    shutil.copytree(c.model, base)
    (base / "model.safetensors").unlink()
    (base / "pytorch_model.bin").write_bytes(b"\x80\x04\x95")
    c.python_suite()
    return pt(["test_s.py", *c.models(base=str(base))], "pytorch_model.bin")


# ---------------------------------------------------------------------------------------------
# command-line values and [tool.tunegate] (usage errors at configure: exit 4, the value named)
# ---------------------------------------------------------------------------------------------
def _option_case(id: str, extra: list[str], *needles: str, fast: bool = False) -> None:
    def build(c: Ctx) -> Call:
        c.python_suite()
        return pt(["test_s.py", *c.models(), *[a.format(scratch=c.scratch) for a in extra]], *needles)

    CASES.append(Case(id, build, 4, fast))


_option_case("opt-alpha-half", ["--alpha", "0.5"], "--alpha='0.5'", fast=True)
_option_case("opt-alpha-abc", ["--alpha", "abc"], "--alpha='abc'")
_option_case("opt-alpha-nan", ["--alpha", "nan"], "--alpha='nan'")
_option_case("opt-sample-negative", ["--sample", "-1"], "--sample='-1'")
_option_case("opt-seed-float", ["--seed", "1.5"], "--seed='1.5'")
_option_case("opt-dtype-fp8", ["--dtype", "fp8"], "--dtype='fp8'")
_option_case("opt-backend-nope", ["--backend", "nope"], "--backend='nope'", fast=True)
_option_case("opt-candidate-missing", ["--candidate", "/nonexistent/adapter"], "/nonexistent/adapter")
_option_case("opt-base-missing", ["--base", "/nonexistent/model"], "--base='/nonexistent/model'")
_option_case("opt-judge-option-without-equals", ["--judge-option", "timeout"], "'timeout' is not KEY=VALUE")
_option_case("opt-report-under-a-file", ["--report", "/etc/hostname/x"], "/etc/hostname/x", fast=True)
_option_case("opt-report-under-proc", ["--report", "/proc/tunegate-report"], "/proc/tunegate-report")


@case("opt-report-is-a-file", 4)
def _(c: Ctx) -> Call:
    c.python_suite()
    blocker = c.write("out.html", "a file")
    return pt(["test_s.py", *c.models(), "--report", str(blocker)], f"--report={str(blocker)!r}")


@case("opt-cache-dir-is-a-file", 4)
def _(c: Ctx) -> Call:
    c.python_suite()
    blocker = c.write("cachefile", "a file")
    args = ["test_s.py", *c.models()]
    args[args.index("--cache-dir") + 1] = str(blocker)
    return pt(args, str(blocker))


@case("pyproject-unknown-key", 4)
def _(c: Ctx) -> Call:
    c.python_suite()
    c.write("pyproject.toml", '[tool.tunegate]\nbasse = "x"\n')
    return pt(["test_s.py", *c.models()], "pyproject.toml", "basse")


@case("pyproject-wrong-type", 4)
def _(c: Ctx) -> Call:
    c.python_suite()
    c.write("pyproject.toml", '[tool.tunegate]\nalpha = "abc"\n')
    return pt(["test_s.py", "--base", str(c.model), "--candidate", str(c.adapter), "--cache-dir", str(c.cache)],
              "alpha", "abc")  # fmt: skip


@case("pyproject-invalid-toml", 4)
def _(c: Ctx) -> Call:
    c.python_suite()
    c.write("pyproject.toml", '[tool.tunegate]\nalpha = 0.05\nbase = "unterminated\n')
    return pt(["test_s.py", *c.models()], "pyproject.toml")


# ---------------------------------------------------------------------------------------------
# tunegate report (exit 2, one line naming the file)
# ---------------------------------------------------------------------------------------------
def _minimal_record() -> dict[str, Any]:
    """The smallest valid results.json: a run that stopped before any comparison."""
    return RunRecord(
        tool=Tool(), run=RunInfo(started_at="", finished_at="", duration_s=0.0), models=Models(base=ModelRecord(label="base")),
        verdict=RunVerdict(status="ERROR", reason="the run stopped before any comparison"),
    ).to_json()


def _report(c: Ctx, data: bytes | str, *needles: str) -> Call:
    path = c.write("run/results.json", data)
    return cli(["report", str(path)], "tunegate report: error:", *needles)


@case("report-not-json", 2, fast=True)
def _(c: Ctx) -> Call:
    return _report(c, "<html>not json</html>", "results.json")


@case("report-newer-schema", 2)
def _(c: Ctx) -> Call:
    return _report(c, json.dumps({"schema_version": SCHEMA_VERSION + 7, "run": {}}), "results.json", "newer")


@case("report-truncated", 2)
def _(c: Ctx) -> Call:
    text = json.dumps({"schema_version": SCHEMA_VERSION, "run": {"command": "pytest"}, "comparisons": []})
    return _report(c, text[: len(text) // 2], "results.json")


@case("report-a-list", 2)
def _(c: Ctx) -> Call:
    return _report(c, "[1, 2, 3]", "results.json")


@case("report-only-a-version", 2)
def _(c: Ctx) -> Call:
    # a record missing what every run writes is refused where it is read (RunRecord.from_json), naming the fields
    return _report(c, json.dumps({"schema_version": SCHEMA_VERSION}), "results.json", "verdict: Field required")


@case("report-fields-of-wrong-type", 2)
def _(c: Ctx) -> Call:
    data = {"schema_version": SCHEMA_VERSION, "run": "x", "comparisons": "y", "items": 3, "verdict": []}
    return _report(c, json.dumps(data), "results.json")


@case("report-missing-file", 2)
def _(c: Ctx) -> Call:
    return cli(["report", str(c.scratch / "nope.json")], "nope.json")


@case("report-is-a-directory", 2)
def _(c: Ctx) -> Call:
    (c.project / "run" / "results.json").mkdir(parents=True)
    return cli(["report", str(c.project / "run" / "results.json")], "results.json")


@case("report-compare-one-bad", 2)
def _(c: Ctx) -> Call:
    bad = c.write("old.json", "{")
    return cli(["report", "--compare", str(bad), str(bad)], "old.json")


# ---------------------------------------------------------------------------------------------
# tunegate data check (1: errors found, 2: usage error)
# ---------------------------------------------------------------------------------------------
def _chat(i: int) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": f"question {i}?"},
                                    {"role": "assistant", "content": f"answer {i}."}]}).encode()  # fmt: skip


@case("data-check-bad-json", 1, fast=True)
def _(c: Ctx) -> Call:
    train = c.write("train.jsonl", _chat(0) + b"\n{oops\n" + _chat(2) + b"\n")
    return cli(["data", "check", str(train)], "train.jsonl:2")


@case("data-check-nan", 1)
def _(c: Ctx) -> Call:
    train = c.write(
        "train.jsonl", _chat(0) + b'\n{"messages": [{"role": "user", "content": "x"}], "w": NaN}\n'
    )
    return cli(["data", "check", str(train)], "train.jsonl:2")


@case("data-check-missing-file", 2)
def _(c: Ctx) -> Call:
    return cli(["data", "check", str(c.scratch / "nope.jsonl")], "nope.jsonl")


@case("data-check-directory", 2)
def _(c: Ctx) -> Call:
    (c.project / "train.jsonl").mkdir()
    return cli(["data", "check", str(c.project / "train.jsonl")], "train.jsonl")


@case("data-check-non-utf8", 1)
def _(c: Ctx) -> Call:
    train = c.write("train.jsonl", _chat(0) + b"\n\xff\xfe\n")
    return cli(["data", "check", str(train)], "train.jsonl:2")


@case("data-check-bad-eval", 2)
def _(c: Ctx) -> Call:
    train = c.write("train.jsonl", b"\n".join(_chat(i) for i in range(3)) + b"\n")
    return cli(
        ["data", "check", str(train), "--eval", str(c.scratch / "eval-missing.jsonl")], "eval-missing.jsonl"
    )


@case("data-check-report-on-a-file", 2)
def _(c: Ctx) -> Call:
    train = c.write("train.jsonl", b"\n".join(_chat(i) for i in range(3)) + b"\n")
    blocker = c.write("blocker", "x")
    return cli(["data", "check", str(train), "--report", str(blocker / "sub")], str(blocker / "sub"))


@case("data-check-sample-negative", 2)
def _(c: Ctx) -> Call:
    train = c.write("train.jsonl", b"\n".join(_chat(i) for i in range(3)) + b"\n")
    return cli(["data", "check", str(train), "--sample", "-5"], "-5")


# ---------------------------------------------------------------------------------------------
# tunegate train with bad configs (exit 2, found before any model loads)
# ---------------------------------------------------------------------------------------------
def _train(c: Ctx, body: str, *needles: str) -> Call:
    c.write("train.jsonl", b"\n".join(_chat(i) for i in range(8)) + b"\n")
    config = c.write(
        "train.yaml", f"base: {c.model}\ntrain: train.jsonl\noutput: {c.scratch / 'out'}\n" + body
    )
    return Call("cli", ["train", str(config)], ["train.yaml", *needles], then=_no_adapter_written)


def _no_adapter_written(c: Ctx, out: str) -> None:
    assert not (c.scratch / "out").exists(), "a refused config still wrote an adapter"


@case("train-unknown-key", 2, fast=True)
def _(c: Ctx) -> Call:
    return _train(c, "learning_rte: 0.001\n", "learning_rte")


@case("train-lr-as-string", 2)
def _(c: Ctx) -> Call:
    return _train(c, "learning_rate: fast\n", "learning_rate")


@case("train-lr-negative", 2)
def _(c: Ctx) -> Call:
    return _train(c, "learning_rate: -0.1\n", "learning_rate")


@case("train-missing-train-file", 2)
def _(c: Ctx) -> Call:
    call = _train(c, "")
    (c.project / "train.jsonl").unlink()
    call.needles.append("train.jsonl")
    return call


@case("train-dev-is-an-eval-suite", 2)
def _(c: Ctx) -> Call:
    c.write("suites/data/s.jsonl", b"\n".join(good_line(i) for i in range(4)) + b"\n")
    return _train(c, "dev: suites/data/s.jsonl\neval_suites: [suites/data]\n", "s.jsonl")


@case("train-config-not-a-mapping", 2)
def _(c: Ctx) -> Call:
    config = c.write("train.yaml", "- just\n- a list\n")
    return cli(["train", str(config)], "train.yaml")


@case("train-config-missing", 2)
def _(c: Ctx) -> Call:
    return cli(["train", str(c.scratch / "nope.yaml")], "nope.yaml")


@case("train-line-without-answer", 2)
def _(c: Ctx) -> Call:
    call = _train(c, "")
    c.write("train.jsonl", _chat(0) + b'\n{"messages": [{"role": "user", "content": "no answer"}]}\n')
    call.needles = ["train.jsonl:2", "assistant"]
    return call


# ---------------------------------------------------------------------------------------------
# caches
# ---------------------------------------------------------------------------------------------
def _recommended(c: Ctx, out: str) -> None:
    """Run the command the message recommends, then the cache works again."""
    match = re.search(r"tunegate cache clear(?: --cache-dir [^\s`]+)?", out)
    assert match is not None, out
    argv = match.group(0).split()[1:]
    done = _run_cli(c, argv)
    assert done.returncode == 0, done.stdout + done.stderr
    again = _run_cli(c, ["cache", "stats", "--cache-dir", str(c.cache)])
    assert again.returncode == 0 and "entries: 0" in again.stdout, again.stdout + again.stderr


@case("cache-corrupt-response-store", 2, fast=True)
def _(c: Ctx) -> Call:
    c.cache.mkdir(parents=True)
    (c.cache / "responses.sqlite").write_bytes(b"this is not a database at all" * 100)
    return Call(
        "cli", ["cache", "stats", "--cache-dir", str(c.cache)], ["responses.sqlite"], then=_recommended
    )


@case("cache-corrupt-judge-store", 2)
def _(c: Ctx) -> Call:
    (c.cache / "judges").mkdir(parents=True)
    (c.cache / "judges" / "judgments.sqlite").write_bytes(b"\x00garbage" * 500)
    return Call(
        "cli", ["cache", "stats", "--cache-dir", str(c.cache)], ["judgments.sqlite"], then=_recommended
    )


@case("cache-dir-is-a-file", 2)
def _(c: Ctx) -> Call:
    blocker = c.write("cachefile", "x")
    return cli(["cache", "stats", "--cache-dir", str(blocker)], str(blocker), "not a directory")


@case(
    "cache-corrupt-under-pytest",
    4,
)
def _(c: Ctx) -> Call:
    c.python_suite()
    c.cache.mkdir(parents=True)
    (c.cache / "responses.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    return Call("pytest", ["test_s.py", *c.models()], ["responses.sqlite"], then=_recommended)


@case("tunegate-unknown-command", 2)
def _(c: Ctx) -> Call:
    return cli(["trian", "x.yaml"], "'trian'")


# ---------------------------------------------------------------------------------------------
# no input loses a finished run's results
# ---------------------------------------------------------------------------------------------
@case("renderer-fails-results-kept", 0)
def _(c: Ctx) -> Call:
    """report.html cannot be written (a directory holds its name): results.json and the verdict stay."""
    c.python_suite()
    out = c.scratch / "report"
    (out / "report.html").mkdir(parents=True)
    return Call("pytest", ["test_s.py", *c.models(), "--report", str(out)],
                ["verdict:", "tunegate report", "results.json"], then=_results_kept)  # fmt: skip


def _results_kept(c: Ctx, out: str) -> None:
    results = json.loads((c.scratch / "report" / "results.json").read_text())
    assert results["comparisons"] and results["items"]


@case("report-dir-removed-during-run", 0)
def _(c: Ctx) -> Call:
    """The report dir is replaced by a file while the models run: the verdict is still printed."""
    c.python_suite()
    out = c.scratch / "report"
    c.write(
        "test_s.py",
        "import shutil\nfrom pathlib import Path\nfrom tunegate.harness.data import load_suite\n"
        "from tunegate.harness.metrics import make_metric\n"
        "SUITE = load_suite(Path(__file__).parent / 'data' / 's.jsonl', max_new_tokens=4)\n"
        "def test_s(compare):\n    compare(SUITE, make_metric('exact_match'))\n"
        f"    shutil.rmtree({str(out)!r})\n    Path({str(out)!r}).write_text('now a file')\n",
    )
    return pt(["test_s.py", *c.models(), "--report", str(out)], "verdict:", "could not write", str(out))


# ---------------------------------------------------------------------------------------------
# more careless mistakes: swapped arguments, wrong types, other commands
# ---------------------------------------------------------------------------------------------
@case("swapped-base-and-candidate", 4)
def _(c: Ctx) -> Call:
    """--base ADAPTER --candidate MODEL: an adapter dir is no base model."""
    c.python_suite()
    return pt(["test_s.py", *c.models(base=str(c.adapter), candidate=str(c.model))], str(c.adapter))


@case("gate-suite-is-not-jsonl", 2)
def _(c: Ctx) -> Call:
    c.write("data/notes.txt", "just some notes\nnot json at all\n")
    return pt(c.gate(_gate().replace("data/s.jsonl", "data/notes.txt")), "notes.txt:1")


@case("gate-metric-option-wrong-type", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate(body="options: [field, x]\n    improves: {}")), "tunegate_g.yaml", "options")


@case("gate-suite-null", 2)
def _(c: Ctx) -> Call:
    return pt(c.gate(_gate().replace("suite: data/s.jsonl", "suite: null")), "tunegate_g.yaml", "suite")


def _judged(c: Ctx, *extra: str) -> list[str]:
    """A suite with a judged test: the judge's settings are checked when it is collected."""
    c.python_suite()
    c.write("test_j.py", "from tunegate.harness.data import load_suite\n\n\ndef test_judged(judge):\n    pass\n")
    return ["test_j.py", *c.models(), "--judge", "openai-compatible", "--judge-model", "m", *extra]


@case(
    "opt-judge-option-bad-value",
    4,
)
def _(c: Ctx) -> Call:
    args = _judged(c, "--judge-base-url", "http://127.0.0.1:9/v1", "--judge-option", "timeout=soon")
    return pt(args, "timeout", "soon")


@case(
    "opt-judge-base-url-no-scheme",
    4,
)
def _(c: Ctx) -> Call:
    return pt(_judged(c, "--judge-base-url", "127.0.0.1:9/v1"), "127.0.0.1:9/v1")


_option_case("opt-base-url-not-a-url", ["--backend", "openai", "--base-url", "not a url"], "not a url")


@case("pyproject-candidate-not-a-list", 4)
def _(c: Ctx) -> Call:
    c.python_suite()
    c.write("pyproject.toml", f'[tool.tunegate]\nbase = "{c.model}"\ncandidate = 7\n')
    return pt(["test_s.py", "--dtype", "fp32", "--cache-dir", str(c.cache)], "candidate", "7")


@case("report-stamp-missing-dir", 2)
def _(c: Ctx) -> Call:
    path = c.write("run/results.json", json.dumps(_minimal_record()))
    return cli(["report", str(path), "--stamp", str(c.scratch / "no-adapter")], "no-adapter")


@case("report-out-under-a-file", 2)
def _(c: Ctx) -> Call:
    path = c.write("run/results.json", json.dumps(_minimal_record()))
    blocker = c.write("blocker", "x")
    return cli(["report", str(path), "-o", str(blocker / "out")], str(blocker))


@case("data-check-empty-train", 1)
def _(c: Ctx) -> Call:
    train = c.write("train.jsonl", b"")
    return cli(["data", "check", str(train)], "train.jsonl")


@case("train-base-missing", 2)
def _(c: Ctx) -> Call:
    call = _train(c, "")
    c.write("train.yaml", f"base: /nonexistent/base\ntrain: train.jsonl\noutput: {c.scratch / 'out'}\n")
    call.needles = ["/nonexistent/base"]
    return call


@case("train-max-steps-negative", 2)
def _(c: Ctx) -> Call:
    call = _train(c, "")
    call.args += ["--max-steps", "-3"]
    call.needles = ["-3"]
    return call


@case("judge-validate-missing-rubric", 1)  # validate: 1 = a rubric did not validate
def _(c: Ctx) -> Call:
    return cli(["judge", "validate", str(c.scratch / "nope.md")], "nope.md")


@case("judge-calibrate-bad-set", 2)
def _(c: Ctx) -> Call:
    bad = c.write("gold.jsonl", '{"output": "x", "gold": NaN}\n{oops\n')
    return cli(["judge", "calibrate", "--set", str(bad), "--cache-dir", str(c.cache)], "gold.jsonl")


@case("cache-unknown-action", 2)
def _(c: Ctx) -> Call:
    return cli(["cache", "purge"], "purge")


# ---------------------------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------------------------
def _tunegate() -> list[str]:
    script = Path(sys.executable).with_name("tunegate")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from tunegate.shell.cli import main; sys.exit(main())"]


def _run_cli(c: Ctx, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_tunegate(), *argv], cwd=c.project, env=ENV, capture_output=True, text=True, timeout=180,
        errors="replace",
    )  # fmt: skip


def _params() -> list[object]:
    out = []
    for c in CASES:
        marks: list[pytest.MarkDecorator] = []
        if not c.fast:
            marks.append(pytest.mark.slow)
        if c.xfail:
            marks.append(pytest.mark.xfail(strict=True, reason=c.xfail))
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def test_corpus_is_large_and_ids_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40
    assert 8 <= sum(c.fast for c in CASES) <= 16


@pytest.mark.parametrize("hostile", _params())
def test_hostile_input(
    hostile: Case, pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ctx = Ctx(project=pytester.path, model=tiny_model_dir, adapter=tiny_adapter_dir, scratch=scratch)
    call = hostile.build(ctx)
    if call.kind == "pytest":
        res = pytester.runpytest_subprocess("-p", "no:cacheprovider", *call.args, timeout=300)
        rc, out = int(res.ret), res.stdout.str() + "\n" + res.stderr.str()
    else:
        done = _run_cli(ctx, call.args)
        rc, out = done.returncode, done.stdout + "\n" + done.stderr
    shown = out if len(out) < 6000 else out[:3000] + "\n...\n" + out[-3000:]
    assert "Traceback" not in out, shown
    assert "INTERNALERROR" not in out, shown
    assert "During handling of the above exception" not in out, shown
    assert not OWN_FRAME.search(out), shown
    assert rc == hostile.rc, f"exit {rc}, documented {hostile.rc}\n{shown}"
    for needle in call.needles:
        assert needle in out, f"{needle!r} not in the output\n{shown}"
    if call.then is not None:
        call.then(ctx, out)
