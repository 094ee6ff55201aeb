"""tunegate's pytest entry point (``pytest11``): options always, everything else only when asked.

Like pytest's junitxml plugin, the run state, fixtures and hooks (``tunegate.shell.pytest_run``) are
registered only when the session is configured for tunegate: a tunegate option on the command
line, a ``[tool.tunegate]`` table, a ``tunegate_*`` ini key, or a collected tunegate suite (a
``tunegate_*.yaml`` gate file, or a test module importing the ``tunegate`` package). Any other
pytest run in an environment where tunegate is installed sees nothing of it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tunegate.harness import options as opts
from tunegate.harness.errors import TunegateError
from tunegate.harness.gatefile import is_gatefile
from tunegate.shell.pytest_state import ACTIVE_KEY, PARTIALS_KEY, Active

if TYPE_CHECKING:
    pass

PLUGIN_NAME = "tunegate-run"
_IMPORTS_TUNEGATE = re.compile(rb"^\s*(?:from|import)\s+tunegate\b", re.MULTILINE)




class TunegateConfigWarning(pytest.PytestWarning):
    """tunegate's configuration may not be the one the user meant (e.g. another project's)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tunegate", "tunegate: evaluate a fine-tuned candidate against its base")
    for name, f in opts.option_fields():
        kind, text, ini = opts.option_kind(f), opts.help_text(name, f), f"tunegate_{name}"
        if kind == "bool":
            group.addoption(opts.flag(name), dest=name, action="store_true", default=None, help=text)
            parser.addini(ini, text, type="bool", default=None)
        elif kind == "list":
            group.addoption(
                opts.flag(name), dest=name, action="append", default=None, metavar=opts.metavar(f), help=text
            )
            parser.addini(ini, text, type="args", default=None)
        else:
            group.addoption(opts.flag(name), dest=name, action="store", default=None, metavar=opts.metavar(f), help=text)
            parser.addini(ini, text, type="string", default=None)


# -- which project's [tool.tunegate] --------------------------------------------------------------
def project_pyproject(config: pytest.Config) -> Path | None:
    """pyproject.toml of the project under test: found from the first test path argument (or the
    invocation dir), never from pytest's rootdir, which option values such as a space-separated
    ``--candidate /elsewhere/adapter`` can move to another project."""
    invocation = Path(config.invocation_params.dir)
    start = invocation
    if config.args_source == pytest.Config.ArgsSource.ARGS and config.args:
        first = invocation / config.args[0].split("::", 1)[0]
        if first.exists():
            start = first
    return opts.find_pyproject(start)


def _tunegate_table(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        return opts.read_tunegate_table(path)
    except TunegateError:
        # Another project's unreadable pyproject is not ours to report, unless it names tunegate.
        try:
            if "tunegate" not in path.read_text(encoding="utf-8", errors="replace"):
                return None
        except OSError:
            return None
        raise


def _cli(config: pytest.Config) -> dict[str, Any]:
    return {name: config.getoption(name) for name, _ in opts.option_fields()}


def _ini(config: pytest.Config) -> dict[str, Any]:
    return {name: config.getini(f"tunegate_{name}") for name, _ in opts.option_fields()}


def _configured(config: pytest.Config, table: dict[str, Any] | None) -> str:
    if any(v is not None for v in _cli(config).values()):
        return "command line"
    if table is not None:
        return "[tool.tunegate]"
    if any(v not in (None, []) for v in _ini(config).values()):
        return "tunegate_* ini key"
    return ""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tunegate: a tunegate eval test (base vs candidate)")
    config.stash[PARTIALS_KEY] = []
    pyproject = project_pyproject(config)
    try:
        table = _tunegate_table(pyproject)
    except TunegateError as exc:
        raise pytest.UsageError(str(exc)) from None
    if table is None and pyproject is not None:
        from tunegate.harness import tooltable

        names = tooltable.lookalikes(pyproject)
        if names:
            config.issue_config_time_warning(
                TunegateConfigWarning(tooltable.warning_text(pyproject, names)), stacklevel=2
            )
    reason = _configured(config, table)
    if reason:
        try:
            activate(config, reason)
        except TunegateError as exc:
            raise pytest.UsageError(str(exc)) from None


def activate(config: pytest.Config, reason: str) -> Active:
    """Resolve and check the options, build the run state, register the run's hooks and fixtures."""
    active = config.stash.get(ACTIVE_KEY, None)
    if active is not None:
        return active
    import tunegate.judges  # noqa: F401  (registers the judge providers --judge is checked against)
    from tunegate.shell import preflight

    pyproject = project_pyproject(config)
    table = _tunegate_table(pyproject) or {}
    options = opts.resolve_options(
        _cli(config), table, _ini(config), pyproject_path=pyproject or "pyproject.toml"
    )
    from tunegate.harness.redact import learn_from_options

    learn_from_options(options)  # every secret the run was given is masked in all it writes
    project_dir = pyproject.parent if pyproject is not None else Path(config.invocation_params.dir)
    if options.reference == opts.REFERENCE_PRODUCTION:
        # The adapter `tunegate promote` recorded, checked unchanged since its run.
        from tunegate.harness.production import production_reference

        options = options.model_copy(update={"reference": str(production_reference(project_dir))})
    preflight.configure_checks(options, controller=not hasattr(config, "workerinput"))
    from tunegate.harness.session import RunState
    from tunegate.shell import pytest_run

    if table and pyproject is not None and Path(config.rootpath).resolve() != project_dir.resolve():
        config.issue_config_time_warning(
            TunegateConfigWarning(
                f"tunegate reads [tool.tunegate] from {pyproject}, but pytest chose the rootdir {config.rootpath} "
                "(an option value such as '--candidate DIR' can move it); write '--candidate=DIR' or pass "
                "--rootdir to make them agree"
            ),
            stacklevel=2,
        )
    if options.forgetting and not hasattr(config, "workerinput"):
        # The packaged forgetting gates are one more suite file of this run.
        import tunegate.harness.general.forgetting_suite as forgetting_suite

        path = str(Path(forgetting_suite.__file__))
        if path not in config.args:
            config.args.append(path)
    active = Active(run=RunState(options), project_dir=project_dir, reason=reason)
    config.stash[ACTIVE_KEY] = active
    config.pluginmanager.register(pytest_run, PLUGIN_NAME)
    pytest_run.started(config, active)
    return active


def _activate_or_exit(config: pytest.Config, reason: str) -> None:
    """Activation found during collection: a bad setting stops the run with the usage-error code."""
    if ACTIVE_KEY in config.stash:
        return
    try:
        activate(config, reason)
    except TunegateError as exc:
        message = str(exc)
    else:
        return
    pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_unconfigure(config: pytest.Config) -> None:
    active = config.stash.get(ACTIVE_KEY, None)
    if active is None:
        return
    from tunegate.shell import pytest_run

    pytest_run.stopped(config, active)
    del config.stash[ACTIVE_KEY]
    if config.pluginmanager.is_registered(pytest_run):
        config.pluginmanager.unregister(pytest_run)


# -- activation by what is collected ------------------------------------------------------------
def imports_tunegate(path: Path, config: pytest.Config) -> bool:
    """A test module whose source imports the ``tunegate`` package (not a local namesake)."""
    if not any(fnmatch.fnmatch(path.name, pat) for pat in config.getini("python_files")):
        return False
    try:
        source = path.read_bytes()
    except OSError:
        return False
    if not _IMPORTS_TUNEGATE.search(source):
        return False
    ours = Path(__file__).resolve().parents[1]
    for folder in (path.parent, *path.parent.parents):
        local = folder / "tunegate"
        if (local / "__init__.py").is_file() or (folder / "tunegate.py").is_file():
            return local.resolve() == ours
    return True


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if is_gatefile(file_path):
        _activate_or_exit(config, f"gate file {file_path.name}")
        from tunegate.shell.pytest_gates import GateFileCollector

        return GateFileCollector.from_parent(parent, path=file_path)
    if file_path.suffix == ".py" and ACTIVE_KEY not in config.stash and imports_tunegate(file_path, config):
        _activate_or_exit(config, f"{file_path.name} imports tunegate")
    return None


# -- pytest-xdist (optional: tunegate works without it) --------------------------------------------
@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect each worker's records (a worker may have activated on its own)."""
    data = getattr(node, "workeroutput", {}).get("tunegate")
    if not data:
        return
    config = node.config
    config.stash[PARTIALS_KEY].append(json.loads(data))
    if ACTIVE_KEY not in config.stash:
        try:
            activate(config, "a worker ran tunegate tests")
        except TunegateError as exc:
            warnings.warn(TunegateConfigWarning(f"tunegate: no report from this run: {exc}"), stacklevel=1)
