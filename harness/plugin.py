"""The pytest plugin: options, fixtures, the end-of-run summary. Run state lives in harness.session.

Registered through the ``pytest11`` entry point, so ``pytest suites/`` needs no conftest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import ConfigError, GateFailure, TunegateError
from harness.options import OPTION_HELP, read_pyproject, resolve_options

if TYPE_CHECKING:
    from harness.session import ModelHandle, RunState

RUN_KEY = pytest.StashKey["RunState"]()
PARTIALS_KEY = pytest.StashKey["list[dict[str, Any]]"]()
SUITE_FIXTURES = {"compare", "candidate", "base", "judge", "tunegate_run"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tunegate", "tunegate: evaluate a fine-tuned candidate against its base")
    for name, (help_text, default) in OPTION_HELP.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            group.addoption(flag, action="store_true", default=None, help=help_text)
            parser.addini(f"tunegate_{name}", help_text, type="bool", default=None)
        elif isinstance(default, list):
            group.addoption(flag, action="append", default=None, metavar="PATH", help=help_text)
            parser.addini(f"tunegate_{name}", help_text, type="args", default=None)
        else:
            group.addoption(flag, action="store", default=None, help=f"{help_text} (default: {default!r})")
            parser.addini(f"tunegate_{name}", help_text, default=None)


def _load_backends() -> list[str]:
    import harness.models  # noqa: F401  (registers the built-in backends)
    from harness.models.base import BACKENDS

    return BACKENDS.names()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tunegate: an eval suite test (base vs candidate)")
    cli = {name: config.getoption(name) for name in OPTION_HELP}
    ini = {name: config.getini(f"tunegate_{name}") for name in OPTION_HELP}
    try:
        pyproject = read_pyproject(Path(str(config.rootpath)))
        options = resolve_options(cli, pyproject, ini, _load_backends())
        _check_candidates(options.candidate, options.backend)
    except TunegateError as exc:
        raise pytest.UsageError(str(exc)) from None
    from harness.session import RunState

    config.stash[RUN_KEY] = RunState(options)
    config.stash[PARTIALS_KEY] = []


def _check_candidates(candidates: tuple[str, ...], backend: str) -> None:
    if backend not in ("hf", "vllm"):
        return
    from harness.models.hf import classify_adapter

    for c in candidates:
        if not Path(c).exists():
            raise ConfigError(
                f"--candidate={c!r}: no such directory; pass an adapter dir (adapter_config.json)"
            )
        classify_adapter(Path(c))


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.cache.close()
        del config.stash[RUN_KEY]


def _run(config: pytest.Config) -> RunState:
    return config.stash[RUN_KEY]


# -- multiple candidates: every suite test runs once per candidate ------------------------------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "_tunegate_candidate" not in metafunc.fixturenames:
        return
    run = _run(metafunc.config)
    if len(run.candidates) > 1:
        metafunc.parametrize(
            "_tunegate_candidate",
            range(len(run.candidates)),
            indirect=True,
            ids=[c.label for c in run.candidates],
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = _run(config)
    needs = [it for it in items if SUITE_FIXTURES & set(getattr(it, "fixturenames", ()))]
    for it in needs:
        it.add_marker("tunegate")
    if needs and not run.candidates and any("compare" in getattr(it, "fixturenames", ()) for it in needs):
        raise pytest.UsageError(
            f"{len(needs)} suite test(s) compare a candidate with the base, but no candidate was given: "
            "pass --candidate ADAPTER_DIR (or set candidate = [...] under [tool.tunegate] in pyproject.toml)"
        )


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tunegate_run(request: pytest.FixtureRequest) -> RunState:
    """The run's state: options, models, cache, comparisons."""
    return _run(request.config)


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
def compare(
    request: pytest.FixtureRequest, tunegate_run: RunState, candidate: ModelHandle
) -> Callable[..., Any]:
    """``compare(suite, metric)`` -> a Comparison of base and candidate with paired statistics."""

    def _compare(suite: Any, metric: Any) -> Any:
        try:
            return tunegate_run.compare(suite, metric, candidate, nodeid=request.node.nodeid)
        except TunegateError as exc:
            pytest.fail(str(exc), pytrace=False)

    return _compare


@pytest.fixture(scope="session")
def judge(tunegate_run: RunState) -> Any:
    """The LLM judge (``--judge``): ``judge.rubric(name)`` and ``judge.pairwise(name)`` are metrics."""
    try:
        import judges
    except ImportError as exc:  # pragma: no cover - judges ships with tunegate
        pytest.fail(f"the judges package is unavailable: {exc}", pytrace=False)
    o = tunegate_run.options
    try:
        return judges.Judge(o.judge, o.judge_model or None, cache_dir=str(o.cache_path))
    except TunegateError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def suite_loader(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``suite_loader("support/eval.jsonl")`` loads a suite relative to ``suites/data``."""
    from harness.data import load_suite

    root = Path(str(request.config.rootpath))

    def _load(path: str, **kwargs: Any) -> Any:
        for base_dir in (root / "suites" / "data", root):
            if (base_dir / path).exists():
                return load_suite(base_dir / path, **kwargs)
        return load_suite(path, **kwargs)

    return _load


# -- gate failures read as one paragraph ---------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if (
        call.excinfo is not None
        and call.excinfo.errisinstance((GateFailure, TunegateError))
        and report.failed
    ):
        report.longrepr = f"{item.nodeid}\n{call.excinfo.value}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    """A suite file that fails to load (bad JSONL, bad option) shows its message, not a traceback."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    text = str(report.longrepr)
    for line in text.splitlines():
        if line.startswith("E   harness.errors.") or line.startswith("E   DataError") or "harness.errors." in line:
            message = text[text.index(line):].replace("E   ", "").replace("harness.errors.", "")
            where = getattr(collector, "path", None) or collector.nodeid
            report.longrepr = f"{where}: could not load the suite\n{message.strip()}"
            return


# -- end of run ----------------------------------------------------------------------------------
def _partial(run: RunState) -> dict[str, Any]:
    comparisons = []
    for nodeid, comp in run.comparisons:
        d = comp.to_dict()
        d["test"] = d.get("test")
        d["nodeid"] = nodeid
        comparisons.append(d)
    models = {m.label: m.record() for m in [run.base, *run.candidates] if m.loaded or m is run.base}
    for m in run.candidates:
        rec = models.setdefault(m.label, m.record())
        from harness.session import read_provenance

        rec["provenance"] = read_provenance(m.spec.adapter)
    return {
        "comparisons": comparisons,
        "items": run.items,
        "models": models,
        "suites": {
            s.name: {
                "name": s.name,
                "path": s.path,
                "version": s.version,
                "n_items": len(s.items),
                "sampled": run.options.sample or None,
            }
            for s in run.suites.values()
        },
        "sections": run.sections,
        "judges": run.judges,
        "adapter_checks": run.adapter_checks,
        "cache": {k: v for k, v in run.stats.to_dict().items() if k != "per_model"},
    }


def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect each worker's records."""
    data = getattr(node, "workeroutput", {}).get("tunegate")
    if data:
        node.config.stash[PARTIALS_KEY].append(json.loads(data))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    partial = _partial(run)
    if hasattr(config, "workerinput"):
        config.workeroutput["tunegate"] = json.dumps(partial, default=str)  # type: ignore[attr-defined]
        return
    partials = [partial, *config.stash[PARTIALS_KEY]]
    if not any(p["comparisons"] or p["items"] for p in partials):
        return
    from harness.results import build_results, command_line, merge_partials

    options = {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in run.options.__dict__.items() if k != "sources"
    }
    results = build_results(
        merge_partials(partials),
        options=options,
        started=run.started,
        exitstatus=int(exitstatus),
        command=command_line(),
    )
    config.stash[RESULTS_KEY] = results
    if results["verdict"]["status"] == "FAIL" and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if run.options.report:
        _write_report(Path(run.options.report), results)


RESULTS_KEY = pytest.StashKey["dict[str, Any]"]()


def _write_report(out: Path, results: dict[str, Any]) -> None:
    from harness.results import write_json_atomic

    write_json_atomic(out / "results.json", results)
    try:
        from reports import write_reports
    except ImportError:
        return
    write_reports(results, out)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS_KEY, None)
    if results is None:
        return
    from harness.summary import format_summary

    for line in format_summary(
        results, report_dir=_run(config).options.report if RUN_KEY in config.stash else ""
    ):
        terminalreporter.write_line(line)


# -- gates as data: tunegate_*.yaml files ----------------------------------------------------------
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from harness.gatefile import is_gatefile

    if is_gatefile(file_path):
        return GateFileCollector.from_parent(parent, path=file_path)
    return None


class GateFileCollector(pytest.File):
    def collect(self) -> Any:
        from harness.gatefile import load_gatefile

        try:
            spec = load_gatefile(self.path)
        except TunegateError as exc:
            raise self.CollectError(str(exc)) from None
        run = _run(self.config)
        labels = [c.label for c in run.candidates] or ["candidate"]
        for k, gate in enumerate(spec.gates):
            name = gate.name or gate.metric + (f"[{','.join(f'{a}={b}' for a, b in gate.options.items())}]" if gate.options else "")
            for idx, label in enumerate(labels):
                full = name if len(labels) == 1 else f"{name}[{label}]"
                yield GateItem.from_parent(self, name=full, spec=spec, gate_index=k, candidate_index=idx)


class GateItem(pytest.Item):
    def __init__(self, *, spec: Any, gate_index: int, candidate_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.gate = spec.gates[gate_index]
        self.candidate_index = candidate_index
        self.add_marker("tunegate")

    def runtest(self) -> None:
        from harness.data import load_suite
        from harness.metrics import make_metric

        run = _run(self.config)
        if not run.candidates:
            raise pytest.UsageError(f"{self.path}: gates need a candidate: pass --candidate ADAPTER_DIR")
        suite = load_suite(
            self.path.parent / self.spec.suite,
            name=self.spec.name,
            max_new_tokens=self.spec.max_new_tokens,
            stop=self.spec.stop,
        )
        metric = make_metric(self.gate.metric, **self.gate.options)
        comparison = run.compare(suite, metric, run.candidates[self.candidate_index], nodeid=self.nodeid)
        if self.gate.improves is not None:
            comparison.assert_improves(min_delta=self.gate.improves.min_delta, alpha=self.gate.improves.alpha)
        else:
            assert self.gate.no_regression is not None
            comparison.assert_no_regression(margin=self.gate.no_regression.margin, alpha=self.gate.no_regression.alpha)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (GateFailure, TunegateError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"gate {self.name}"
