"""tunegate as a plain dependency: build the wheel, install it without extras into a fresh venv,
run pytest in an unrelated project and in a user project with its own suite.

The fresh venv reaches the heavy dependencies (torch, transformers, ...) through a directory of
links to this environment's site-packages that leaves out tunegate itself and pytest-xdist (a
dev extra): installing torch offline into every test venv is not practical, and what is under
test is tunegate's wheel and its behaviour without the extras, not the dependencies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LEFT_OUT = ("tunegate", "__editable__", "_tunegate_", "xdist", "pytest_xdist")
SHIPPED = ("tunegate/", "tunegate-")
NEVER_SHIPPED = ("/out/", "tests/", "__pycache__", ".pyc", "artifacts/", "gpu_out/", ".egg-info")

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _build_wheel(tmp: Path) -> Path:
    """Build from a copy of the tree with local run output planted in it (it must not ship)."""
    src = tmp / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", ".*_cache"),
    )
    planted = src / "tunegate" / "reports" / "out"
    planted.mkdir(parents=True, exist_ok=True)
    (planted / "report.html").write_text("<html>a local run</html>")
    (planted / "results.json").write_text("{}")
    (src / "artifacts").mkdir(exist_ok=True)
    (src / "artifacts" / "adapter_model.safetensors").write_bytes(b"x")
    res = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".", "-w", str(tmp / "dist")],
        cwd=src,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("tunegate-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    res = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    assert res.returncode == 0, res.stderr
    python = venv / "bin" / "python"
    deps = tmp / "deps"
    deps.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.suffix == ".pth" or any(entry.name.lower().startswith(p) for p in LEFT_OUT):
            continue
        (deps / entry.name).symlink_to(entry)
    fresh_site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    )
    (fresh_site / "zz_deps.pth").write_text(f"{deps}\n")
    # --no-index: every declared dependency must already be there; no extras are asked for.
    res = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "-q", str(wheel)], cwd=tmp
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return python


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", TUNEGATE_CACHE_DIR=str(tmp / "tunegate-cache"))
    return env


UNRELATED_CONFTEST = """
import pytest

@pytest.fixture
def compare():
    return lambda a, b: a == b

@pytest.fixture
def judge():
    return "ours"

@pytest.fixture
def candidate():
    return "ours"
"""

USER_SUITE = """
from pathlib import Path

from tunegate.harness import metrics
from tunegate.harness.data import load_suite

SUITE = load_suite(Path(__file__).parent / "data" / "faq.jsonl", name="faq", max_new_tokens=8)


def test_answers_do_not_regress(compare):
    compare(SUITE, metrics.make_metric("exact_match")).assert_no_regression(margin=0.5)
"""


def test_wheel_in_a_fresh_venv_without_extras(tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path) -> None:
    started = time.perf_counter()
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(SHIPPED) for n in names), [n for n in names if not n.startswith(SHIPPED)]
    stray = [n for n in names if any(bad in n for bad in NEVER_SHIPPED)]
    assert stray == []
    assert "tunegate/reports/templates/report.css" in names and "tunegate/harness/py.typed" in names
    entry_points = zipfile.ZipFile(wheel).read("tunegate-0.1.0.dist-info/entry_points.txt").decode()
    assert "tunegate = tunegate.harness.plugin" in entry_points

    python = _fresh_venv(tmp_path, wheel)
    env = _env(tmp_path)
    probe = _run(
        [str(python), "-c", "import importlib.util as u, tunegate.harness; print(u.find_spec('xdist') is None, tunegate.harness.__file__)"],
        cwd=tmp_path,
        env=env,
    )
    assert probe.returncode == 0, probe.stderr
    no_xdist, where = probe.stdout.split()
    assert no_xdist == "True"
    assert str(tmp_path / "venv") in where  # the wheel's harness, not this checkout's

    # (a) an unrelated project with its own compare/judge/candidate fixtures: green, silent
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    (unrelated / "conftest.py").write_text(UNRELATED_CONFTEST)
    (unrelated / "test_one.py").write_text("def test_one(compare, judge, candidate):\n    assert compare(1, 1)\n")
    res = _run([str(python), "-m", "pytest", "-p", "no:cacheprovider"], cwd=unrelated, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    plugins = [line for line in res.stdout.splitlines() if line.startswith("plugins:")]
    assert plugins and "tunegate" in plugins[0]  # loaded, and silent:
    lines = (res.stdout + res.stderr).splitlines()
    assert [line for line in lines if "tunegate" in line.lower() and not line.startswith(("plugins:", "rootdir:"))] == []
    assert sorted(p.name for p in unrelated.iterdir()) == ["conftest.py", "test_one.py"]
    assert not (tmp_path / "tunegate-cache").exists()

    # (b) a user project: own pyproject, own suite and data, reaches a verdict
    user = tmp_path / "user"
    (user / "suites" / "data").mkdir(parents=True)
    rows = [
        {"id": f"q{i}", "messages": [{"role": "user", "content": f"Say the number {i}."}], "reference": str(i)}
        for i in range(10)
    ]
    (user / "suites" / "data" / "faq.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (user / "suites" / "test_faq.py").write_text(USER_SUITE)
    (user / "pyproject.toml").write_text(
        f'[project]\nname = "user-project"\nversion = "0"\n\n[tool.tunegate]\nbase = "{tiny_model_dir}"\n'
        f'dtype = "fp32"\nreport = "reports/out"\n'
    )
    adapter = tmp_path / "elsewhere" / "adapter"
    shutil.copytree(tiny_adapter_dir, adapter)
    res = _run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "suites", f"--candidate={adapter}"],
        cwd=user,
        env=env,
    )
    out = res.stdout + res.stderr
    assert res.returncode in (0, 1), out[-4000:]
    assert "verdict:" in out, out[-4000:]
    results = json.loads((user / "reports" / "out" / "results.json").read_text())
    assert results["verdict"]["status"] in ("PASS", "FAIL")
    assert [c["suite"] for c in results["comparisons"]] == ["faq"]
    print(f"wheel, fresh venv, two projects: {time.perf_counter() - started:.1f} s; verdict {results['verdict']['status']}")
