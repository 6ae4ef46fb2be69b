"""Where training runs: the fastest available device unless one is forced, and CPU thread count."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` picks CUDA, then Apple MPS, then CPU; otherwise the named device, checked to exist."""
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be None, a str or a torch.device, got {type(device).__name__}")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device must name a torch device such as 'cpu', 'cuda' or 'mps', got {device!r}") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available here; use None or 'cpu'")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' was requested but MPS is not available here; use None or 'cpu'")
    if chosen.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'mps', got {device!r}")
    return chosen


SMALL_WORK = 1 << 20
"""Below this many hidden activations per step (members × pairs × K), one CPU thread is faster:
the ops are too small to split."""

SPARE_CORE = 0.3
"""A core counts as free when other processes leave at least 0.7 of it idle (see :func:`fair_threads`)."""
RECHECK_SECONDS = 1.0
"""How often a long run looks again at how busy the machine is."""
LOAD_WINDOW = 0.1
"""Shortest time a load reading spans: /proc/stat counts in 10 ms ticks, so shorter windows are noise."""


def usable_cpus() -> list[int]:
    """The CPUs this process may run on: its affinity mask, cut to the cgroup's CPU quota if one is set."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    quota = _cgroup_quota()
    return cpus if quota is None else cpus[: max(1, min(len(cpus), math.ceil(quota)))]


def _cgroup_quota() -> float | None:
    """CPUs allowed by a cgroup quota (v2 ``cpu.max`` or v1 ``cfs_quota_us``), or ``None`` if unlimited."""
    try:
        max_quota, max_period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if max_quota == "max" else int(max_quota) / int(max_period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


class CpuLoad:
    """How many of ``cpus`` other processes kept busy since the last reading (Linux ``/proc/stat``).

    Our own CPU time, every thread of this process included (spinning ones too), is subtracted, so
    the figure is what competes with us. Elsewhere (macOS, Windows) it reads 0: no competition seen.
    """

    def __init__(self, cpus: Sequence[int]) -> None:
        self.cpus = {f"cpu{c}" for c in cpus}
        self.last = self._read()
        self.value = 0.0
        self.stale = False  # whether the latest reading averaged over an old, long window

    def _read(self) -> tuple[float, float, float] | None:
        """(wall seconds, busy seconds of ``cpus``, this process's CPU seconds), or None without /proc."""
        try:
            lines = Path("/proc/stat").read_text().splitlines()
        except OSError:
            return None
        busy = 0
        for line in lines:
            name, *ticks = line.split()
            if name in self.cpus:
                values = [int(t) for t in ticks[:8]]
                busy += sum(values) - values[3] - values[4]  # all but idle and iowait
        return time.monotonic(), busy / TICKS_PER_SECOND, time.process_time()

    def busy_elsewhere(self) -> float:
        """CPUs' worth of work done by other processes since the previous reading (or construction).

        A call less than :data:`LOAD_WINDOW` after the previous reading returns that reading again. One
        more than ``2 * RECHECK_SECONDS`` after it (a new run, not a recheck) gets the average over that
        long window and starts a fresh one, so the run's first recheck, :data:`LOAD_WINDOW` later, sees
        the load of now without making the run wait.
        """
        now = self._read()
        if now is None or self.last is None:
            return 0.0
        stale = now[0] - self.last[0] > 2 * RECHECK_SECONDS
        wall0, busy0, own0 = self.last
        elapsed = now[0] - wall0
        if elapsed < LOAD_WINDOW:
            return self.value
        self.last = now
        self.value = max(0.0, (now[1] - busy0 - (now[2] - own0)) / elapsed)
        self.stale = stale
        return self.value


TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_LOAD: CpuLoad | None = None


def fair_threads(limit: int) -> int:
    """Intra-op threads to use now: the usable CPUs that other processes leave free, at most ``limit``.

    Threads of one op meet at barriers; when a competitor holds one of their cores, the others spin
    until the scheduler gives it back, and two threads run several times slower than one. So count
    only the cores that are actually free. The first call watches the machine for
    :data:`LOAD_WINDOW`; later calls use the load since the reading before.
    """
    global _LOAD
    cpus = usable_cpus()
    if _LOAD is None or _LOAD.cpus != {f"cpu{c}" for c in cpus}:
        _LOAD = CpuLoad(cpus)
        time.sleep(LOAD_WINDOW)
    free = len(cpus) - _LOAD.busy_elsewhere()
    return max(1, min(limit, len(cpus), math.floor(free + SPARE_CORE)))


class CpuThreads:
    """Sets torch's CPU thread count for a training run and keeps it fair while the run lasts.

    Small work (fewer than :data:`SMALL_WORK` hidden activations per step) always gets one thread.
    Larger work gets :func:`fair_threads`, looked at again by :meth:`recheck` at most once per
    :data:`RECHECK_SECONDS`, so a run adapts when another process starts or stops. On GPU it does
    nothing. Used as a context manager; the caller's thread count is restored afterwards.
    """

    def __init__(self, work: int, device: torch.device) -> None:
        self.active = device.type == "cpu"
        self.small = work < SMALL_WORK
        self.before = torch.get_num_threads()
        self.next_check = 0.0

    def __enter__(self) -> CpuThreads:
        self.recheck()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            torch.set_num_threads(self.before)

    def recheck(self) -> None:
        if not self.active or time.monotonic() < self.next_check:
            return
        wanted = 1 if self.small else fair_threads(self.before)
        if wanted != torch.get_num_threads():
            torch.set_num_threads(wanted)
        soon = not self.small and _LOAD is not None and _LOAD.stale  # look again once a fresh window has passed
        self.next_check = time.monotonic() + (LOAD_WINDOW if soon else RECHECK_SECONDS)
