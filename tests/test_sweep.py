import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pandas as pd
import pytest
import torch

from grokkit import TrainConfig, grid, histories, sweep, train
from grokkit.sweep import RunCache

BASE = TrainConfig(modulus=11, n_train=60, hidden=16, steps=40, eval_every=10)


def test_grid_is_every_combination():
    configs = grid(BASE, seed=[0, 1, 2], weight_decay=[0.0, 1e-3])
    assert len(configs) == 6
    assert {(c.seed, c.weight_decay) for c in configs} == {(s, w) for s in (0, 1, 2) for w in (0.0, 1e-3)}
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\) \['seeds'\]"):
        grid(BASE, seeds=[1])


def test_sweep_table_matches_solo_runs(tmp_path):
    configs = grid(BASE, seed=[0, 1], n_train=[40, 80])
    table = sweep(configs, cache_dir=tmp_path, progress=False)
    assert len(table) == 4 and (table["source"] == "trained").all()
    assert table[["seed", "n_train"]].values.tolist() == [[c.seed, c.n_train] for c in configs]
    for row, config in zip(table.itertuples(), configs):
        alone = train(config, progress=False).history
        pd.testing.assert_frame_equal(row.history, alone, check_exact=False, rtol=1e-5, atol=1e-6)
        assert row.final_test_acc == pytest.approx(alone["test_acc"].iloc[-1], abs=1e-6)
    long = histories(table, "seed", "n_train")
    assert len(long) == sum(len(h) for h in table["history"]) and {"seed", "n_train", "run"} <= set(long.columns)


def test_second_sweep_loads_everything_from_cache(tmp_path):
    configs = grid(BASE, seed=[0, 1, 2])
    first = sweep(configs, cache_dir=tmp_path, progress=False)
    second = sweep(configs, cache_dir=tmp_path, progress=False)
    assert (second["source"] == "cache").all()
    for a, b in zip(first["history"], second["history"]):
        pd.testing.assert_frame_equal(a, b)


def test_hinted_sweep_loads_from_cache_with_its_third_input(tmp_path):
    configs = grid(BASE.replace(hint=0.9), seed=[0, 1])
    first = sweep(configs, cache_dir=tmp_path, progress=False)
    second = sweep(configs, cache_dir=tmp_path, progress=False)
    assert (first["source"] == "trained").all() and (second["source"] == "cache").all()
    for a, b in zip(first["history"], second["history"]):
        pd.testing.assert_frame_equal(a, b)
    for config in configs:
        cached, fresh = RunCache(tmp_path).load(config), train(config, progress=False)
        assert cached.model.inputs == 3
        torch.testing.assert_close(cached.model.W, fresh.model.W)
        pairs = cached.split.test_pairs
        torch.testing.assert_close(cached.model(pairs), fresh.model(pairs))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_cache_entry_is_recomputed(tmp_path, damage):
    sweep([BASE], cache_dir=tmp_path, progress=False)
    path = RunCache(tmp_path).path(BASE)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    else:
        raw[-10] ^= 0xFF
        path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="truncated or corrupt"):
        again = sweep([BASE], cache_dir=tmp_path, progress=False)
    assert again["source"].tolist() == ["trained"]
    assert RunCache(tmp_path).load(BASE) is not None


KILLED = grid(TrainConfig(modulus=23, n_train=200, hidden=128, steps=150, eval_every=10), seed=range(8))
SCRIPT = textwrap.dedent("""
    import sys
    from grokkit import TrainConfig, grid, sweep
    configs = grid(TrainConfig(modulus=23, n_train=200, hidden=128, steps=150, eval_every=10), seed=range(8))
    table = sweep(configs, cache_dir=sys.argv[1], max_members=1, progress=False)
    print(table["source"].value_counts().to_dict())
""")


def test_killed_sweep_resumes_with_only_the_unfinished_runs(tmp_path):
    cache = tmp_path / "cache"
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(cache)])
    deadline = time.monotonic() + 120
    while len(list(cache.glob("*.run"))) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(list(cache.glob("*.run")))
    assert 2 <= finished < 8, "the kill should land mid-sweep"
    resumed = subprocess.run([sys.executable, "-c", SCRIPT, str(cache)], capture_output=True, text=True, check=True)
    counts = eval(resumed.stdout.strip().splitlines()[-1])
    assert counts == {"cache": finished, "trained": 8 - finished}

    uninterrupted = sweep(KILLED, cache_dir=tmp_path / "fresh", max_members=1, progress=False)
    final = sweep(KILLED, cache_dir=cache, max_members=1, progress=False)
    for a, b in zip(uninterrupted["history"], final["history"]):
        pd.testing.assert_frame_equal(a, b)


def test_two_sweeps_sharing_a_cache_at_once(tmp_path):
    """Both processes write every entry (atomic renames); afterwards every entry is intact and correct."""
    cache = tmp_path / "shared"
    both = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(cache)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for process in both:
        assert process.wait(timeout=300) == 0
    assert sorted(p.suffix for p in cache.iterdir()) == [".run"] * 8, "a temporary file was left behind"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a damaged entry would warn
        shared = sweep(KILLED, cache_dir=cache, max_members=1, progress=False)
    assert (shared["source"] == "cache").all()
    alone = sweep(KILLED[:2], max_members=1, progress=False)
    for a, b in zip(alone["history"], shared["history"]):
        pd.testing.assert_frame_equal(a, b)


def test_bad_sweep_arguments():
    with pytest.raises(ValueError, match="configs is empty"):
        sweep([])
    with pytest.raises(ValueError, match="backend must be 'local' or 'ray'"):
        sweep([BASE], backend="dask")
    with pytest.raises(ValueError, match="max_members must be None or an int >= 1"):
        sweep([BASE], max_members=0)
