"""The shape of the code: no import cycles, modules of one idea (<= ~500 lines), layers respected
(lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "judges", "reports", "trainers", "shell")
MAX_LINES = 520


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / "tunegate" / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _imports(path: Path, name: str, known: set[str], lazy: bool = True) -> set[str]:
    """Modules ``name`` imports anywhere (module level or inside functions); TYPE_CHECKING blocks,
    which never run, are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not lazy:
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.With):
                # Imports inside functions count too: a lazy import is still a dependency.
                visit(node.body)
            elif isinstance(node, ast.If):
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    visit(node.orelse)
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.For | ast.While):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_pkg else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join([*here, base] if base else here)
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)

    visit(tree.body)
    return {m for m in found if m in known and m != name}


def graph(lazy: bool = True) -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(path, name, set(mods), lazy) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            strong(v)
    return out


def _without_package_reexports(g: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ re-exporting its submodules, and those submodules importing siblings
    # through their full names, is not a cycle between ideas: drop edges from a module to its own
    # parent packages.
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in g.items()}


def test_no_import_cycles() -> None:
    found = cycles(_without_package_reexports(graph()))
    assert found == [], f"import cycles: {found}"


# The shell (tunegate.shell): pytest's hooks and fixtures and the command line. It drives a run and so
# is the one layer that imports all the others; nothing imports it.
ABOVE = ("judges", "reports", "trainers")


def upward_imports(g: dict[str, set[str]]) -> dict[str, list[str]]:
    """Library modules (tunegate.harness) importing judges, reports, trainers or the shell, and modules
    of judges, reports and trainers importing the shell."""
    bad: dict[str, list[str]] = {}
    for m, deps in g.items():
        layer = m.split(".")[1] if "." in m else ""
        if layer in ("shell", ""):
            continue
        up = {d for d in deps if d.startswith("tunegate.shell") or (layer == "harness" and d.split(".")[1] in ABOVE)}
        if up:
            bad[m] = sorted(up)
    return bad


def test_the_library_does_not_import_the_layers_above_it() -> None:
    # Lazy (function-level) imports count: a dependency deferred to run time is still one.
    assert upward_imports(graph(lazy=True)) == {}


def test_a_lazy_upward_import_is_caught(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def later():\n    from tunegate.judges import Judge\n    return Judge\n", encoding="utf-8")
    found = _imports(planted, "tunegate.harness.planted", set(_modules()))
    assert upward_imports({"tunegate.harness.planted": found}) == {"tunegate.harness.planted": ["tunegate.judges"]}
    assert _imports(planted, "tunegate.harness.planted", set(_modules()), lazy=False) == set()


def test_a_lazy_import_of_the_shell_is_caught(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def later():\n    from tunegate.shell.cli import main\n    return main\n", encoding="utf-8")
    found = _imports(planted, "tunegate.reports.planted", set(_modules()))
    assert upward_imports({"tunegate.reports.planted": found}) == {"tunegate.reports.planted": ["tunegate.shell.cli"]}


def test_modules_hold_one_idea() -> None:
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"modules over {MAX_LINES} lines (split them): {long}"


def test_the_way_to_the_first_token_imports_no_heavy_optional_modules() -> None:
    """A gating run reaches its first token without scipy.stats (~0.8 s to import; only a check
    that no gate uses needs it) or peft (~1 s; only a candidate needs it)."""
    import subprocess
    import sys

    code = (
        "import sys; import tunegate.shell.plugin, tunegate.harness.stats, tunegate.harness.session, tunegate.harness.models.hf; "
        "print(sorted(m for m in ('scipy.stats', 'peft', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
