"""Gates as data: each gate of a ``tunegate_*.yaml`` file becomes one pytest item.

The file is validated at collection (metrics, options, suite): a bad gate file is a collection
error (exit code 2) found before any model loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tunegate.harness.errors import GateFailure, TunegateError
from tunegate.harness.gatefile import GateFile, load_gatefile


class GateFileCollector(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from tunegate.shell.pytest_state import ACTIVE_KEY

        try:
            spec = load_gatefile(self.path)
        except TunegateError as exc:
            raise self.CollectError(str(exc)) from None
        run = self.config.stash[ACTIVE_KEY].run
        labels = [c.label for c in run.candidates] or ["candidate"]
        for k, gate in enumerate(spec.gates):
            try:
                run.pair(spec.pair(k), where=f"{self.path}: gates.{k}")
            except TunegateError as exc:
                raise self.CollectError(str(exc)) from None
            name = gate.test_name()
            for idx, label in enumerate(labels):
                full = name if len(labels) == 1 else f"{name}[{label}]"
                yield GateItem.from_parent(self, name=full, spec=spec, gate_index=k, candidate_index=idx)


class GateItem(pytest.Item):
    def __init__(self, *, spec: GateFile, gate_index: int, candidate_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.gate = spec.gates[gate_index]
        self.gate_index = gate_index
        self.candidate_index = candidate_index
        self.add_marker("tunegate")

    def runtest(self) -> None:
        from tunegate.harness.data import load_suite
        from tunegate.harness.gatefile import suite_path
        from tunegate.harness.metrics import make_metric
        from tunegate.shell.pytest_state import ACTIVE_KEY

        run = self.config.stash[ACTIVE_KEY].run
        if not run.candidates:
            raise pytest.UsageError(f"{self.path}: gates need a candidate: pass --candidate ADAPTER_DIR")
        suite = load_suite(
            suite_path(self.path, self.spec),
            name=self.spec.name,
            max_new_tokens=self.spec.max_new_tokens,
            stop=self.spec.stop,
        )
        metric = make_metric(self.gate.metric, **self.gate.options)
        comparison = run.compare(
            suite, metric, run.candidates[self.candidate_index], nodeid=self.nodeid, against=self.spec.pair(self.gate_index)
        )
        if self.gate.improves is not None:
            comparison.assert_improves(min_delta=self.gate.improves.min_delta, alpha=self.gate.improves.alpha)
        elif self.gate.no_regression is not None:
            comparison.assert_no_regression(
                margin=self.gate.no_regression.margin, alpha=self.gate.no_regression.alpha
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GateFailure | TunegateError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"gate {self.name}"
