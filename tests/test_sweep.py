import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from grokkit import TrainConfig, grid, histories, random_configs, sweep, train, train_many
from grokkit.sweep import RunCache, runs_table

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
    for row, config in zip(table.itertuples(), configs, strict=True):
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
    for a, b in zip(first["history"], second["history"], strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_hinted_sweep_loads_from_cache_with_its_third_input(tmp_path):
    configs = grid(BASE.replace(hint=0.9), seed=[0, 1])
    first = sweep(configs, cache_dir=tmp_path, progress=False)
    second = sweep(configs, cache_dir=tmp_path, progress=False)
    assert (first["source"] == "trained").all() and (second["source"] == "cache").all()
    for a, b in zip(first["history"], second["history"], strict=True):
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
    for a, b in zip(uninterrupted["history"], final["history"], strict=True):
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
    for a, b in zip(alone["history"], shared["history"].iloc[:2], strict=True):
        pd.testing.assert_frame_equal(a, b)


def test_bad_sweep_arguments():
    with pytest.raises(ValueError, match="configs is empty"):
        sweep([])
    with pytest.raises(ValueError, match="backend must be 'local' or 'ray'"):
        sweep([BASE], backend="dask")
    with pytest.raises(ValueError, match="max_members must be None or an int >= 1"):
        sweep([BASE], max_members=0)


def test_runs_table_has_one_row_per_run_and_stacks_histories():
    runs = train_many(grid(TrainConfig(modulus=11, n_train=60, hidden=16, steps=40, eval_every=10), seed=[0, 1]))
    table = runs_table(runs, test_level=0.5)
    assert table["seed"].tolist() == [0, 1] and table["last_step"].tolist() == [40, 40]
    assert table["result"].tolist() == runs
    for row, run in zip(table.itertuples(), runs, strict=True):
        assert row.generalized == (row.generalized_step is not None and not pd.isna(row.generalized_step))
        assert row.final_test_acc == run.history["test_acc"].iloc[-1]
    stacked = histories(table, "seed")
    assert len(stacked) == sum(len(r.history) for r in runs) and set(stacked["seed"]) == {0, 1}


def test_sweep_keeps_snapshots_and_caches_them(tmp_path):
    config = TrainConfig(modulus=11, n_train=60, hidden=16, steps=40, eval_every=10)
    solo = train(config, snapshot_every=20)
    first = sweep([config], cache_dir=tmp_path, snapshot_every=20, progress=False)
    again = sweep([config], cache_dir=tmp_path, snapshot_every=20, progress=False)
    assert first["source"].tolist() == ["trained"] and again["source"].tolist() == ["cache"]
    for table in (first, again):
        snapshots = table["result"].iloc[0].snapshots
        assert sorted(snapshots) == sorted(solo.snapshots) == [0, 20, 40]
        assert all(torch.equal(snapshots[s].W, solo.snapshots[s].W) for s in snapshots)
    finer = sweep([config], cache_dir=tmp_path, snapshot_every=10, progress=False)
    assert finer["source"].tolist() == ["trained"], "a cached run without the snapshots asked for is trained again"
    assert sorted(finer["result"].iloc[0].snapshots) == [0, 10, 20, 30, 40]


def test_random_configs_draw_n_uniformly_and_rates_log_uniformly_from_one_seed():
    configs = random_configs(BASE, 50, seed=3, pairs=(0.1, 0.5), weight_decays=(1e-5, 1e-2), lrs=(1e-4, 1e-2))
    assert [c.seed for c in configs] == list(range(50)) and {c.hidden for c in configs} == {BASE.hidden}
    assert all(12 <= c.n_train <= 60 and 1e-5 <= c.weight_decay <= 1e-2 and 1e-4 <= c.lr <= 1e-2 for c in configs)
    rng = np.random.default_rng(3)  # the draws, in order: n, then weight decay, then learning rate, run after run
    first = (int(rng.uniform(0.1, 0.5) * 121), float(10 ** rng.uniform(-5, -2)), float(10 ** rng.uniform(-4, -2)))
    assert (configs[0].n_train, configs[0].weight_decay, configs[0].lr) == pytest.approx(first)
    assert configs == random_configs(BASE, 50, seed=3, pairs=[0.1, 0.5], weight_decays=[1e-5, 1e-2], lrs=[1e-4, 1e-2])
    with pytest.raises(ValueError, match="pairs"):
        random_configs(BASE, 5, seed=0, pairs=(0.1, 1.5), weight_decays=(1e-5, 1e-2), lrs=(1e-4, 1e-2))
    with pytest.raises(ValueError, match="weight_decays"):
        random_configs(BASE, 5, seed=0, pairs=(0.1, 0.5), weight_decays=(0.0, 1e-2), lrs=(1e-4, 1e-2))
    with pytest.raises(ValueError, match="lrs"):
        random_configs(BASE, 5, seed=0, pairs=(0.1, 0.5), weight_decays=(1e-5, 1e-2), lrs=(1e-2, 1e-4))
    with pytest.raises(TypeError, match="lrs"):
        random_configs(BASE, 5, seed=0, pairs=(0.1, 0.5), weight_decays=(1e-5, 1e-2), lrs=1e-3)
    with pytest.raises(ValueError, match="runs"):
        random_configs(BASE, 0, seed=0, pairs=(0.1, 0.5), weight_decays=(1e-5, 1e-2), lrs=(1e-4, 1e-2))
    with pytest.raises(TypeError, match="base"):
        random_configs("base", 5, seed=0, pairs=(0.1, 0.5), weight_decays=(1e-5, 1e-2), lrs=(1e-4, 1e-2))
