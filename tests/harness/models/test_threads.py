"""Torch threads from the CPUs a process may use; the numerics line a text depends on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunegate.harness.models import threads
from tunegate.harness.models.numerics import numerics_tag


def test_cgroup_quota_v2_and_v1(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert threads.cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_quota(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.cgroup_quota(v1) == 0.5
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.cgroup_quota(v1) is None


def test_choice_order_option_then_env_then_usable_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "usable_cpus", lambda: 4.0)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.0: 1.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.choose_threads(2).threads == 2 and threads.choose_threads(2).source == "--threads"
    assert threads.choose_threads().threads == 3 and threads.choose_threads().source == "OMP_NUM_THREADS"
    monkeypatch.delenv("OMP_NUM_THREADS")
    choice = threads.choose_threads()
    assert (choice.threads, choice.source) == (3, "usable CPUs")  # one core taken by another process
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.0: 3.9)
    assert threads.choose_threads().threads == 1  # never fewer than one
    monkeypatch.setattr(threads, "usable_cpus", lambda: 1.5)  # a cgroup quota of 1.5 CPUs
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.0: 0.0)
    assert threads.choose_threads().threads == 1


def test_xdist_workers_share_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    monkeypatch.setattr(threads, "cgroup_quota", lambda root=threads.CGROUP: None)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    assert threads.usable_cpus() == 2.0
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT")
    assert threads.usable_cpus() == 4.0


def test_numerics_line_names_kernels_and_builds() -> None:
    import torch

    tag = numerics_tag("cpu")
    assert tag.startswith(f"cpu {torch.backends.cpu.get_cpu_capability()} [")
    assert f"torch {torch.__version__}" in tag and "transformers " in tag
