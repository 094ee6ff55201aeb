"""How many intra-op threads torch gets: the CPUs this process may really use, not the host's.

torch starts one OpenMP worker per core it sees. In a container whose CPU quota is below the
host's core count, or on a machine whose other processes already keep cores busy, those workers
spin-wait on each other's shares of a contended core and every operation is many times slower
(the demo's training: ~400 tokens/s idle, 23-27 with two threads against one busy process,
130-160 with one). So the count is, first that wins:

1. ``--threads N`` (or ``[tool.tunegate] threads``, or ``tunegate train --threads``);
2. ``OMP_NUM_THREADS`` when the user set it;
3. the usable CPUs: the affinity mask (``os.sched_getaffinity``) capped by the cgroup's CPU quota
   (``cpu.max``, or ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``), less the cores other processes
   kept busy over a short sample of ``/proc/stat`` at start (at least one thread).

The thread count does not change generated texts (the slot loop's GEMMs split rows and columns
between threads, never a row's sum; ``tests/harness/models/test_canonical_prefill.py`` checks one
and two threads give the same texts), so it is not part of the response-cache key.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
SAMPLE_S = 0.25


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    source: str  # "--threads", "OMP_NUM_THREADS" or "usable CPUs"
    usable: float  # CPUs the process may use (affinity, cgroup quota)
    busy: float  # cores other processes kept busy at start (0 when not sampled)

    def describe(self) -> str:
        if self.source == "usable CPUs":
            return f"{self.threads} (usable CPUs {self.usable:g}, {self.busy:.1f} busy with other processes)"
        return f"{self.threads} ({self.source})"


def cgroup_quota(root: Path = CGROUP) -> float | None:
    """CPUs allowed by the cgroup's quota, or ``None`` when there is none (or no cgroup)."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def usable_cpus() -> float:
    """The CPUs this process may run on (affinity mask), capped by the cgroup's CPU quota and
    shared with the other workers of a pytest-xdist run."""
    try:
        cpus: float = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_quota()
    usable = min(cpus, quota) if quota else cpus
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    return max(1.0, usable / int(workers)) if workers.isdigit() and int(workers) > 1 else usable


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs from /proc/stat, or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    values = [float(x) for x in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_cores(seconds: float = SAMPLE_S) -> float:
    """Cores kept busy by other processes over a short sample (this process is idle meanwhile)."""
    before = _cpu_times()
    if before is None:
        return 0.0
    time.sleep(seconds)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return 0.0
    share = (after[0] - before[0]) / (after[1] - before[1])
    return share * (os.cpu_count() or 1)


def choose_threads(requested: int = 0) -> ThreadChoice:
    """The thread count for this process (see the module docstring); ``requested`` > 0 wins."""
    usable = usable_cpus()
    if requested > 0:
        return ThreadChoice(requested, "--threads", usable, 0.0)
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return ThreadChoice(int(env), "OMP_NUM_THREADS", usable, 0.0)
    busy = busy_cores() if usable > 1 else 0.0
    # a core another process keeps more than half busy is not ours
    free = min(usable, (os.cpu_count() or 1) - busy)
    return ThreadChoice(max(1, min(math.floor(usable), math.floor(free + 0.5))), "usable CPUs", usable, busy)


_APPLIED: ThreadChoice | None = None


def apply_threads(requested: int = 0) -> ThreadChoice:
    """Choose the thread count once per process and give it to torch; later calls return the
    first choice unless ``requested`` names another count."""
    global _APPLIED
    if _APPLIED is None or (requested > 0 and requested != _APPLIED.threads):
        import torch

        _APPLIED = choose_threads(requested)
        torch.set_num_threads(_APPLIED.threads)
    return _APPLIED


_USABLE: float | None = None


def busy_note() -> str:
    """``machine busy: load 3.1 > 2 CPUs`` while oversubscribed, else empty (for progress lines)."""
    global _USABLE
    if _USABLE is None:
        _USABLE = usable_cpus()
    try:
        load = os.getloadavg()[0]
    except OSError:
        return ""
    # The load counts this process's own threads: one CPU's worth of runnable work beyond the
    # usable CPUs is oversubscription, a load equal to them is this run using its share.
    return f"machine busy: load {load:.1f} > {_USABLE:g} CPUs" if load >= _USABLE + 1 else ""
