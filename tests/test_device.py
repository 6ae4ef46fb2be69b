"""The CPU thread count: chosen from the CPUs this process may use and from how busy other processes keep them."""

import subprocess
import time

import pytest
import torch

from grokkit import device
from grokkit.device import CpuLoad, CpuThreads, fair_threads, usable_cpus

linux_only = pytest.mark.skipif(not hasattr(device.os, "sched_getaffinity"), reason="affinity and /proc/stat are Linux")


@linux_only
def test_usable_cpus_follow_affinity_and_quota(monkeypatch):
    assert set(usable_cpus()) <= device.os.sched_getaffinity(0) and usable_cpus()
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: {0, 2, 3, 5})
    monkeypatch.setattr(device, "_cgroup_quota", lambda: None)
    assert usable_cpus() == [0, 2, 3, 5]
    monkeypatch.setattr(device, "_cgroup_quota", lambda: 1.5)  # a quota of 1.5 CPUs lets two threads run
    assert usable_cpus() == [0, 2]
    monkeypatch.setattr(device, "_cgroup_quota", lambda: 0.2)
    assert usable_cpus() == [0]


@pytest.mark.parametrize(
    ("busy", "cpus", "limit", "expected"),
    [
        (0.0, 2, 2, 2),
        (1.0, 2, 2, 1),
        (0.6, 2, 2, 1),
        (0.2, 2, 2, 2),
        (3.0, 2, 2, 1),
        (0.0, 8, 4, 4),
        (2.5, 8, 8, 5),
    ],
)
def test_fair_threads_counts_only_free_cores(monkeypatch, busy, cpus, limit, expected):
    monkeypatch.setattr(device, "usable_cpus", lambda: list(range(cpus)))
    monkeypatch.setattr(CpuLoad, "busy_elsewhere", lambda self: busy)
    monkeypatch.setattr(device, "_LOAD", None)
    assert fair_threads(limit) == expected


@linux_only
def test_load_sees_a_competing_process_and_not_ourselves():
    cpus = usable_cpus()
    load = CpuLoad(cpus)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # our own busy loop must not count
        pass
    alone = load.busy_elsewhere()
    competitor = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        time.sleep(0.1)
        load.busy_elsewhere()
        time.sleep(0.5)
        busy = load.busy_elsewhere()
    finally:
        competitor.kill()
        competitor.wait()
    assert busy > alone + 0.5, f"one busy process seen as {busy:.2f} CPUs, with nothing else running {alone:.2f}"


def test_small_work_uses_one_thread_and_the_callers_count_is_restored(monkeypatch):
    before = torch.get_num_threads()
    with CpuThreads(10, torch.device("cpu")):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_large_work_follows_the_load_while_it_runs(monkeypatch):
    monkeypatch.setattr(device, "RECHECK_SECONDS", 0.0)
    free = iter([2, 1, 2])
    monkeypatch.setattr(device, "fair_threads", lambda limit: next(free))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with CpuThreads(device.SMALL_WORK, torch.device("cpu")) as threads:
            seen = [torch.get_num_threads()]
            threads.recheck()
            seen.append(torch.get_num_threads())
            threads.recheck()
            seen.append(torch.get_num_threads())
        assert seen == [2, 1, 2]
    finally:
        torch.set_num_threads(before)


@linux_only
def test_load_readings_span_at_least_the_window_and_a_stale_one_starts_a_fresh_window(monkeypatch):
    load = CpuLoad(usable_cpus())
    time.sleep(device.LOAD_WINDOW)
    first = load.busy_elsewhere()
    start = load.last
    assert load.busy_elsewhere() == first and load.last == start  # too soon: tick noise, not a reading
    assert not load.stale
    monkeypatch.setattr(device, "RECHECK_SECONDS", device.LOAD_WINDOW / 4)  # the reading is now more than 2 rechecks old
    time.sleep(device.LOAD_WINDOW)
    load.busy_elsewhere()
    assert load.stale and load.last[0] - start[0] >= device.LOAD_WINDOW  # the old window, read without waiting
    assert load.last[0] >= time.monotonic() - device.LOAD_WINDOW  # and a fresh one starts now


@linux_only
def test_a_run_that_starts_on_a_stale_reading_looks_again_one_window_later(monkeypatch):
    device.fair_threads(2)  # the process-wide reading exists
    monkeypatch.setattr(device._LOAD, "stale", True)
    monkeypatch.setattr(device, "fair_threads", lambda limit: limit)
    threads = CpuThreads(work=device.SMALL_WORK, device=torch.device("cpu"))
    before = time.monotonic()
    threads.recheck()
    assert threads.next_check - before <= device.LOAD_WINDOW + 0.05
