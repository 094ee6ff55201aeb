"""Hooks and fixtures of an active tunegate run. ``tunegate.shell.plugin`` registers this module only
when the session is configured for tunegate, and unregisters it at ``pytest_unconfigure``.

Run state lives in ``config.stash[ACTIVE_KEY]`` (``tunegate.shell.plugin.Active``); controller-only
work (results, report, summary) is skipped on pytest-xdist workers.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tunegate.harness.crashes import CRASH_PROPERTY, crash_site
from tunegate.harness.errors import (
    CacheError,
    ConfigError,
    GateFailure,
    ModelLoadError,
    RemoteAccessError,
    TunegateError,
)
from tunegate.harness.terminal import terminal_line
from tunegate.shell.pytest_state import ACTIVE_KEY, PARTIALS_KEY, Active

if TYPE_CHECKING:
    from tunegate.harness.record import RunRecord
    from tunegate.harness.session import ModelHandle, RunState

SUITE_FIXTURES = frozenset({"compare", "candidate", "base", "judge", "tunegate_run"})
MODEL_FIXTURES = frozenset({"compare", "candidate", "base"})
# Raised inside a test, these mean the run is set up wrong: stop once with exit code 4.
STOP_ERRORS = (ConfigError, ModelLoadError, CacheError, RemoteAccessError)


def _redact(value: Any) -> Any:
    from tunegate.harness.redact import redact

    return redact(value)


def _active(config: pytest.Config) -> Active:
    return config.stash[ACTIVE_KEY]


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# -- lifecycle (called by tunegate.shell.plugin) ----------------------------------------------------------
def started(config: pytest.Config, active: Active) -> None:
    """Route tunegate.harness.progress through pytest's terminal, with output capture suspended."""
    _crashes.clear()
    from tunegate.harness import progress

    state = {"open": False}

    def write(text: str, in_place: bool) -> None:
        tr = config.pluginmanager.getplugin("terminalreporter")
        if tr is None:
            return
        capman = config.pluginmanager.getplugin("capturemanager")
        ctx = capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()
        with ctx:
            text = terminal_line(_redact(text))
            if in_place:
                tr.rewrite(text, erase=True)
                state["open"] = True
            else:
                if state["open"]:
                    tr.write("\n")
                    state["open"] = False
                tr.write_line(text)

    try:  # pytest writes to the real stdout; during configure nothing captures it yet
        tty = sys.stdout.isatty() and not _is_worker(config)
    except (AttributeError, ValueError):
        tty = False
    progress.set_writer(write, tty=tty)


def stopped(config: pytest.Config, active: Active) -> None:
    from tunegate.harness import progress

    progress.set_writer(None)
    active.run.cache.close()


# -- multiple candidates: every suite test runs once per candidate ------------------------------
def pytest_report_header(config: pytest.Config) -> list[str]:
    """For the hf backend on CPU: the numerics its texts depend on (part of the cache key) and
    the torch threads chosen (:mod:`tunegate.harness.models.threads`)."""
    options = _active(config).run.options
    if options.backend != "hf":
        return []
    import torch

    from tunegate.harness.models.numerics import numerics_tag
    from tunegate.harness.models.threads import apply_threads

    device = "cuda" if torch.cuda.is_available() else "cpu"
    lines = [f"tunegate numerics: {numerics_tag(device)}"]
    if device == "cpu":
        lines.append(f"tunegate threads: {apply_threads(options.threads).describe()}")
    return lines


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "_tunegate_candidate" not in metafunc.fixturenames:
        return
    run = _active(metafunc.config).run
    if len(run.candidates) > 1:
        metafunc.parametrize(
            "_tunegate_candidate",
            range(len(run.candidates)),
            indirect=True,
            ids=[c.label for c in run.candidates],
        )


def _role(item: pytest.Item, fixtures: set[str]) -> str:
    """The role a test starts with; a leakage check or drift measurement it runs sets its own
    (``RunRecorder.test_roles``). Never guessed from the test's name."""
    if "compare" in fixtures or type(item).__name__ == "GateItem":
        return "gate"
    return "custom"


def _candidate_label(item: pytest.Item, run: RunState) -> str | None:
    if len(run.candidates) < 2:
        return None
    index = getattr(item, "candidate_index", None)
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "_tunegate_candidate" in callspec.params:
        index = callspec.params["_tunegate_candidate"]
    return run.candidates[int(index)].label if index is not None else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tunegate.harness import nodeids
    from tunegate.shell import preflight

    nodeids.make_readable(items, Path(config.rootpath))  # before any id is recorded
    active = _active(config)
    run = active.run
    ours: list[tuple[pytest.Item, set[str]]] = []
    for it in items:
        fixtures = set(getattr(it, "fixturenames", ()))
        if SUITE_FIXTURES & fixtures or it.get_closest_marker("tunegate") is not None:
            it.add_marker("tunegate")
            ours.append((it, fixtures))
            active.items[it.nodeid] = {"candidate": _candidate_label(it, run), "role": _role(it, fixtures)}
    if not ours:
        return
    comparing = [it for it, fx in ours if "compare" in fx or type(it).__name__ == "GateItem"]
    if comparing and not run.candidates:
        raise pytest.UsageError(
            f"{len(comparing)} suite test(s) compare a candidate with the base, but no candidate was given: "
            "pass --candidate ADAPTER_DIR (or set candidate = [...] under [tool.tunegate] in pyproject.toml)"
        )
    try:
        if comparing or any(MODEL_FIXTURES & fx for _, fx in ours):
            preflight.check_base(run.options)
        if any("judge" in fx for _, fx in ours):
            preflight.check_judge(run.options)
    except TunegateError as exc:
        raise pytest.UsageError(str(exc)) from None


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tunegate_run(request: pytest.FixtureRequest) -> RunState:
    """The run's state: options, models, cache, comparisons."""
    return _active(request.config).run


@pytest.fixture(scope="session")
def base(tunegate_run: RunState) -> ModelHandle:
    """The base model of the run (``--base``)."""
    return tunegate_run.base


@pytest.fixture
def _tunegate_candidate(request: pytest.FixtureRequest) -> int:
    return int(getattr(request, "param", 0))


@pytest.fixture
def candidate(tunegate_run: RunState, _tunegate_candidate: int) -> ModelHandle:
    """The candidate under test (each suite test runs once per ``--candidate``)."""
    if not tunegate_run.candidates:
        pytest.skip("no --candidate given")
    return tunegate_run.candidates[_tunegate_candidate]


@pytest.fixture
def compare(request: pytest.FixtureRequest, tunegate_run: RunState, candidate: ModelHandle) -> Callable[..., Any]:
    """``compare(suite, metric, against=None)`` -> a Comparison of the candidate with the reference
    (``--reference``) or the base, with paired statistics. ``against``: ``"base"`` or
    ``"reference"``; left out, the reference when the run has one, else the base.

    Errors propagate unchanged: a TunegateError is shown as its one-paragraph message, and a
    ConfigError or ModelLoadError (a bad ``against`` included) stops the run with exit code 4.
    """

    def _compare(suite: Any, metric: Any, *, against: str | None = None) -> Any:
        pair = tunegate_run.pair(against, where="compare(...)")
        return tunegate_run.compare(suite, metric, candidate, nodeid=request.node.nodeid, against=pair)

    return _compare


@pytest.fixture(scope="session")
def judge(tunegate_run: RunState) -> Any:
    """The LLM judge (``--judge``): ``judge.rubric(name)`` and ``judge.pairwise(name)`` are metrics."""
    from tunegate.judges import Judge

    return Judge.from_options(tunegate_run.options)


@pytest.fixture(scope="session")
def suite_loader(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``suite_loader("support/eval.jsonl")`` loads a suite relative to the project's ``suites/data``."""
    from tunegate.harness.data import load_suite

    root = _active(request.config).project_dir

    def _load(path: str, **kwargs: Any) -> Any:
        for base_dir in (root / "suites" / "data", root):
            if (base_dir / path).exists():
                return load_suite(base_dir / path, **kwargs)
        return load_suite(path, **kwargs)

    return _load


# -- a setup mistake found inside a test stops the run once (exit 4) -------------------------------
def _stop(item: pytest.Item, when: str, message: str) -> None:
    active = _active(item.config)
    info = active.items.get(item.nodeid, {})
    message = _redact(message)
    active.run.recorder.record_test(
        nodeid=item.nodeid,
        outcome="error",
        message=message,
        candidate=info.get("candidate"),
        gate_failure=False,
        role=active.run.recorder.test_roles.get(item.nodeid, info.get("role", "custom")),
        stopped=True,
    )
    pytest.exit(f"{item.nodeid} ({when}): {_printable(message)}", returncode=pytest.ExitCode.USAGE_ERROR)


def _printable(error: BaseException | str) -> str:
    """A failure message for the terminal: a gate's message is one paragraph, so a newline in it
    came from data and is shown escaped (``terminal_line``); other messages keep their lines,
    each escaped."""
    if isinstance(error, GateFailure):
        return terminal_line(str(error))
    return "\n".join(terminal_line(line) for line in str(error).split("\n"))


def _stopping(item: pytest.Item, when: str) -> Generator[None, None, None]:
    """Run a test phase; a configuration error inside a tunegate test stops the run once (exit 4).
    What the phase records (a comparison, a leakage check, a drift measurement) is the test's."""
    run = _active(item.config).run
    run.recorder.current_test = item.nodeid
    try:
        return (yield)
    except STOP_ERRORS as exc:
        if item.nodeid not in _active(item.config).items:
            raise
        message = str(exc)
    finally:
        run.recorder.current_test = ""
    _stop(item, when, message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _stopping(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _stopping(item, "call"))


# -- reports: one paragraph per failure, no secrets, every tunegate test recorded --------------------
def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    if isinstance(longrepr, str):
        return longrepr
    crash = getattr(longrepr, "reprcrash", None)
    return str(crash.message) if crash is not None else str(longrepr)


def _outcome(report: pytest.TestReport) -> str | None:
    if report.when == "call":
        return str(report.outcome)
    if report.when == "setup" and not report.passed:
        return "skipped" if report.skipped else "error"
    if report.when == "teardown" and report.failed:
        return "error"
    return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    active = _active(item.config)
    gate_failure = False
    site = crash_site(call.excinfo) if report.failed and call.excinfo is not None else ""
    if site and item.nodeid in active.items:
        error = call.excinfo.value if call.excinfo is not None else None
        report.user_properties.append((CRASH_PROPERTY, site))
        if item.config.getoption("tbstyle", "auto") in ("auto", "short", "line", "no"):
            report.longrepr = (
                f"{item.nodeid}\ninternal error in tunegate at {site}: {type(error).__name__}: {error}\n"
                "This is a bug in tunegate, not a failed gate (exit code 3); rerun with --tb=long for the "
                "traceback to report it."
            )
    if report.failed and call.excinfo is not None:
        if call.excinfo.errisinstance((GateFailure, TunegateError)):
            report.longrepr = f"{item.nodeid}\n{_printable(call.excinfo.value)}"
        gate_failure = call.excinfo.errisinstance(GateFailure)
    if report.failed and report.longrepr is not None:
        text = str(report.longrepr)
        clean = _redact(text)
        if clean != text:
            report.longrepr = clean
    if report.sections:
        report.sections = [(title, _redact(content)) for title, content in report.sections]
    info = active.items.get(item.nodeid)
    outcome = _outcome(report)
    if info is not None and outcome is not None:
        role = active.run.recorder.test_roles.get(item.nodeid, info["role"])
        active.run.recorder.record_test(
            nodeid=item.nodeid,
            outcome=outcome,
            message=_redact(_message(report)),
            candidate=info["candidate"],
            gate_failure=gate_failure and outcome == "failed" and role == "gate",
            role=role,
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A suite module that fails to load its data (bad JSONL, bad option) shows tunegate's message,
    naming the file and line, instead of a traceback through tunegate's code."""
    report = yield
    if not report.failed:
        return report
    text = str(report.longrepr)
    for line in text.splitlines():
        if line.startswith("E   ") and "tunegate.harness.errors." in line:
            message = text[text.index(line):].replace("E   ", "")
            message = re.sub(r"\b(?:tunegate\.)?harness\.errors\.(\w+): ", "", message).strip()
            where = getattr(collector, "path", None) or collector.nodeid
            report.longrepr = f"{where}: could not load the suite\n{_redact(message)}"
            break
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Counts crashes inside tunegate, also those reported by xdist workers."""
    if any(name == CRASH_PROPERTY for name, _ in report.user_properties):
        _crashes.append(report.nodeid)


_crashes: list[str] = []


# -- end of run ----------------------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Build results.json and the reports; before pytest's junitxml writes its file, so that
    junit.xml holds one ``tunegate::verdict[<candidate>]`` case per candidate."""
    config = session.config
    active = _active(config)
    if _crashes and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # a bug is not a failed gate (docs/ci.md)
    run = active.run
    if _is_worker(config):
        config.workeroutput["tunegate"] = json.dumps(run.partial(), default=str)  # type: ignore[attr-defined]
        return
    from tunegate.harness.partial import RunPartial, merge_partials

    workers = [RunPartial.model_validate(p) for p in config.stash[PARTIALS_KEY]]
    if int(exitstatus) in (0, 1):
        # Checks that run whenever their inputs are known (leakage with training data), for the
        # candidates no collected test checked, here or on a worker.
        for p in workers:
            run.recorder.leakage_checked.update(p.leakage_checked)
        run.automatic_checks()
    merged = merge_partials([RunPartial.model_validate(run.partial()), *workers])
    if merged.empty:
        return
    from tunegate.harness.results import build_results, command_line, verdict_fails

    options = run.options.model_dump(mode="json")
    results = build_results(
        merged,
        options=_redact(options),
        started=run.started,
        exitstatus=int(exitstatus),
        command=_redact(command_line()),
    )
    active.results = results
    if verdict_fails(results) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    from tunegate.harness.junit import add_verdicts

    add_verdicts(config, results)
    if run.options.report:
        active.report_error = write_report(Path(run.options.report), results)


def write_report(out: Path, results: RunRecord) -> str:
    """results.json first, then the rendered files; returns a one-line problem or ''.

    Every file gets the same permissions (0666 minus the umask), as any file the user writes
    (the one atomic writer, tunegate.harness.atomic, gives them).
    """
    from tunegate.harness.results import write_json_atomic

    target = out / "results.json"
    try:
        write_json_atomic(target, results.to_json())
    except OSError as exc:
        return f"tunegate: could not write {target}: {exc.strerror or exc}"
    problem = ""
    try:
        from tunegate.reports import write_reports

        write_reports(results, out)
    except Exception as exc:  # a renderer bug must not lose the run: results.json is already saved
        problem = (
            f"tunegate: the HTML report could not be rendered ({type(exc).__name__}: {exc}); {target} is "
            f"complete, render it again with: tunegate report {target} -o {out}"
        )
    return problem


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    active = config.stash.get(ACTIVE_KEY, None)
    if active is None or active.results is None:
        return
    from tunegate.harness.summary import format_summary

    for line in format_summary(active.results, report_dir=active.run.options.report):
        terminalreporter.write_line(terminal_line(_redact(line)))
    if active.report_error:
        terminalreporter.write_line(terminal_line(_redact(active.report_error)), red=True)
