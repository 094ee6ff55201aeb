"""Input that breaks or floods, and output that can lie, tried as a user runs tunegate: ``pytest``
in a subprocess (models served by the local fake server unless a case needs a real tokenizer) or
the ``tunegate`` command. Each case asserts the documented exit code and no traceback.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeServer

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}
GOOD = {"id": "a", "messages": [{"role": "user", "content": "Say hello."}], "reference": "hello"}
GATE = "suite: data/s.jsonl\nmax_new_tokens: 4\ngates:\n  - metric: exact_match\n    improves: {}\n"
HOSTILE_NAME = "x\n::error title=tunegate::ALL GATES PASSED\n::add-mask::FAIL\n## ✅ PASS\x1b[2J\x1b[32mALL PASSED"


def _line(**overrides: Any) -> str:
    return json.dumps({**GOOD, **overrides})


def _tunegate(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "import sys; from tunegate.shell.cli import main; sys.exit(main())", *args]
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout, errors="replace")


def _pytest(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout, errors="replace")


def _served(port: int, cache: Path) -> list[str]:
    return [
        "--backend", "openai", "--base", "served-base", "--candidate", "served-adapter",
        "--base-url", f"http://127.0.0.1:{port}/v1", "--cache-dir", str(cache),
    ]  # fmt: skip


def _report(results: dict[str, Any], tmp_path: Path, *options: str) -> tuple[int, str]:
    """``tunegate report`` on ``results`` (written to tmp_path/results.json) into tmp_path/out: the
    exit code and what it printed, which holds no traceback (``_clean``)."""
    src = tmp_path / "results.json"
    src.write_text(json.dumps(results))
    done = _tunegate("report", str(src), "-o", str(tmp_path / "out"), *options, cwd=tmp_path)
    out = done.stdout + done.stderr
    _clean(out)
    return done.returncode, out


def _clean(out: str) -> None:
    shown = out if len(out) < 6000 else out[:3000] + "\n...\n" + out[-3000:]
    assert "Traceback" not in out and "INTERNALERROR" not in out, shown
    assert "RecursionError" not in out and "OverflowError" not in out, shown


def _project(tmp_path: Path, suite_lines: list[str] | bytes) -> Path:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    data = suite_lines if isinstance(suite_lines, bytes) else ("\n".join(suite_lines) + "\n").encode()
    (project / "data" / "s.jsonl").write_bytes(data)
    (project / "tunegate_s.yaml").write_text(GATE)
    return project


# --- input that breaks -----------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [600, 900])
def test_a_deeply_nested_reference_is_refused_at_load(tmp_path: Path, depth: int) -> None:
    deep = "[" * depth + "1" + "]" * depth
    project = _project(tmp_path, [_line(id="g0"), _line(id="deep")[:-1] + f', "meta": {{"r": {deep}}}}}'])
    with FakeServer() as server:
        done = _pytest("tunegate_s.yaml", *_served(server.port, tmp_path / "cache"), cwd=project)
    out = done.stdout + done.stderr
    _clean(out)
    assert done.returncode == 2, out[-3000:]
    assert "data/s.jsonl:2" in out and "nested more than" in out, out[-3000:]


def test_data_check_names_a_deeply_nested_line(tmp_path: Path) -> None:
    deep = "[" * 800 + '"x"' + "]" * 800
    bad = '{"id": "deep", "messages": [{"role": "user", "content": "x"}], "reference": ' + deep + "}"
    project = _project(tmp_path, [_line(id="g0"), bad])
    done = _tunegate("data", "check", "data/s.jsonl", cwd=project)
    out = done.stdout + done.stderr
    _clean(out)
    assert done.returncode == 1, out[-3000:]  # data check: 1 = errors found
    assert "data/s.jsonl:2" in out and "nested more than" in out, out[-3000:]


def test_100k_malformed_lines_are_capped_per_kind(tmp_path: Path) -> None:
    lines = [_line(id="g0")] + ["{oops"] * 100_000 + [_line(id="g1", extra=1)] * 20
    project = _project(tmp_path, lines)
    (project / "tunegate_s.yaml").unlink()  # a Python suite: load_suite's own message, not the gate file's
    (project / "test_s.py").write_text(
        "from pathlib import Path\nfrom tunegate.harness.data import load_suite\n"
        "SUITE = load_suite(Path(__file__).parent / 'data' / 's.jsonl')\n"
        "def test_s(compare):\n    pass\n"
    )
    junit = tmp_path / "junit.xml"
    with FakeServer() as server:
        done = _pytest(*_served(server.port, tmp_path / "cache"), "--junitxml", str(junit), cwd=project)
    out = done.stdout + done.stderr
    _clean(out)
    assert done.returncode == 2, out[-3000:]
    assert "problem(s) found" in out, out[-3000:]
    assert "more of this kind (invalid JSON)" in out, out[-3000:]
    # pytest may print a collection error twice (its section, and the short summary, which is
    # not truncated where CI is set): the cap holds for each printing.
    printings = out.count("more of this kind (invalid JSON)")
    assert out.count("invalid JSON:") <= (8 + 2) * printings, out[-3000:]
    assert len(out.splitlines()) < 400, f"{len(out.splitlines())} lines printed"
    assert junit.stat().st_size < 100_000, junit.stat().st_size


# --- reports ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run's results.json (models served by the fake server)."""
    tmp = tmp_path_factory.mktemp("served")
    project = _project(tmp, [_line(id=f"g{i}") for i in range(6)])
    with FakeServer() as server:
        done = _pytest("tunegate_s.yaml", *_served(server.port, tmp / "cache"), "--report", str(tmp / "r"), cwd=project)
    assert (tmp / "r" / "results.json").exists(), (done.stdout + done.stderr)[-3000:]
    return tmp / "r" / "results.json"


def test_report_on_a_ci_of_1e308(served_results: Path, tmp_path: Path) -> None:
    results = json.loads(served_results.read_text())
    for c in results["comparisons"]:
        c.update(ci_low=-1e308, ci_high=1e308, delta=0.0)
    code, out = _report(results, tmp_path)
    assert code == 0, out[-3000:]
    assert (tmp_path / "out" / "report.html").stat().st_size > 0


def test_a_50mb_suite_name_is_clipped_in_every_output(served_results: Path, tmp_path: Path) -> None:
    results = json.loads(served_results.read_text())
    name = "S" * 50_000_000
    for c in results["comparisons"]:
        c["suite"] = name
    results["items"] = {name: next(iter(results["items"].values()))}
    code, out = _report(results, tmp_path)
    assert code == 0, out[-3000:]
    for written in ("report.html", "summary.md"):
        size = (tmp_path / "out" / written).stat().st_size
        assert size < 2_000_000, f"{written}: {size:,} bytes"
    assert len(out) < 200_000


# --- output that can lie -------------------------------------------------------------------------
def test_terminal_lines_cannot_issue_workflow_commands_or_escapes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "s.jsonl").write_text("\n".join(_line(id=f"g{i}") for i in range(4)) + "\n")
    (project / "test_s.py").write_text(
        "from pathlib import Path\nfrom tunegate.harness.data import load_suite\n"
        "from tunegate.harness.metrics import make_metric\n"
        f"SUITE = load_suite(Path(__file__).parent / 'data' / 's.jsonl', name={HOSTILE_NAME!r}, max_new_tokens=4)\n"
        "def test_s(compare):\n    compare(SUITE, make_metric('exact_match')).assert_improves()\n"
    )
    with FakeServer() as server:
        done = _pytest(*_served(server.port, tmp_path / "cache"), "--report", str(tmp_path / "r"), cwd=project)
    out = done.stdout + done.stderr
    _clean(out)
    assert done.returncode == 1, out[-3000:]
    lines = out.splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith("::")], "a workflow command was printed"
    assert not [ln for ln in lines if ln.lstrip().startswith("## ✅")], "a fake heading was printed"
    assert "\x1b[2J" not in out and "\x1b[32mALL" not in out, "an ANSI escape from data was printed"
    assert "\\x1b[2J" in out, out[-3000:]  # shown, escaped, in the summary table


def test_summary_md_neutralises_autolinks_from_data(served_results: Path, tmp_path: Path) -> None:
    results = json.loads(served_results.read_text())
    results["verdict"].update(status="ERROR", reason="see www.evil.example or https://evil.example/x for a@evil.example")
    results["comparisons"][0]["suite"] = "www.evil.example"
    code, out = _report(results, tmp_path)
    assert code == 0, out[-3000:]
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "evil" in md
    for link in ("www.evil", "https://evil", "a@evil"):
        for line in md.splitlines():
            # outside code spans, no autolink survives
            plain = "".join(part for i, part in enumerate(line.split("`")) if i % 2 == 0)
            assert link not in plain, line


def test_stamp_respects_a_read_only_readme(served_results: Path, tmp_path: Path) -> None:
    results = json.loads(served_results.read_text())
    adapter = tmp_path / "served-adapter"
    adapter.mkdir()
    card = adapter / "README.md"
    card.write_text("# my adapter\n")
    card.chmod(0o444)
    try:
        code, out = _report(results, tmp_path, "--stamp", str(adapter))
        assert code == 2, out[-3000:]
        assert "read-only" in out and "README.md" in out, out[-3000:]
        assert card.read_text() == "# my adapter\n"
        assert stat.S_IMODE(card.stat().st_mode) == 0o444
    finally:
        card.chmod(0o644)


# --- prompts that do not fit (a real tokenizer: the tiny model) -------------------------------------
def _peak_rss_mb(cmd: list[str], cwd: Path, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``cmd`` from a fresh Python whose only child it is: its peak RSS is the child's."""
    probe = (
        "import json, resource, subprocess, sys\n"
        "cmd, cwd, timeout = json.loads(sys.argv[1])\n"
        "done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, errors='replace')\n"
        "print(json.dumps([done.returncode, done.stdout, done.stderr, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    raw = subprocess.run(
        [sys.executable, "-c", probe, json.dumps([cmd, str(cwd), timeout])],
        env=ENV, capture_output=True, text=True, timeout=timeout + 30,
    )  # fmt: skip
    rc, out, err, maxrss_kb = json.loads(raw.stdout)
    return subprocess.CompletedProcess(cmd, rc, out, err), maxrss_kb / 1024


@pytest.mark.slow
def test_a_prompt_longer_than_the_context_is_refused_before_generating(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "word " * 5} for i in range(2001)]
    project = _project(tmp_path, [_line(id="g0"), _line(id="long", messages=turns)])
    done = _pytest(
        "tunegate_s.yaml", "--base", str(tiny_model_dir), "--candidate", str(tiny_adapter_dir),
        "--dtype", "fp32", "--cache-dir", str(tmp_path / "cache"), cwd=project,
    )  # fmt: skip
    out = done.stdout + done.stderr
    _clean(out)
    assert done.returncode == 4, out[-3000:]
    assert "'long'" in out and "context of 2,048 tokens" in out and "tokens" in out, out[-3000:]


@pytest.mark.slow
def test_one_50mb_prompt_is_refused_without_runaway_memory(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    big = _line(id="big", messages=[{"role": "user", "content": "lorem ipsum " * 4_200_000}])
    project = _project(tmp_path, [_line(id="g0"), big])
    cmd = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tunegate_s.yaml", "--base", str(tiny_model_dir),
        "--candidate", str(tiny_adapter_dir), "--dtype", "fp32", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    done, peak_mb = _peak_rss_mb(cmd, project, timeout=600)
    out = done.stdout + done.stderr
    _clean(out)
    assert done.returncode == 4, out[-3000:]
    assert "'big'" in out and "characters" in out, out[-3000:]
    assert peak_mb < 3000, f"peak RSS {peak_mb:.0f} MB"
    assert resource  # the probe above reads the child's peak through resource.getrusage
