"""The Ray backend of sweep, on a local Ray instance started by the test."""

import pandas as pd
import pytest
import ray

from grokkit import TrainConfig, grid, sweep
from grokkit.losses import mse, register_loss

CONFIGS = grid(TrainConfig(modulus=11, n_train=60, hidden=16, steps=40, eval_every=10), seed=range(4))


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_sweep_equals_local_sweep_and_fills_the_cache(local_ray, tmp_path):
    remote = sweep(CONFIGS, backend="ray", max_members=2, cache_dir=tmp_path, progress=False)
    local = sweep(CONFIGS, progress=False)
    assert (remote["source"] == "trained").all()
    assert remote["seed"].tolist() == [0, 1, 2, 3]
    for a, b in zip(remote["history"], local["history"], strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5, atol=1e-6)
    again = sweep(CONFIGS, backend="ray", cache_dir=tmp_path, progress=False)
    assert (again["source"] == "cache").all()


def test_a_registered_loss_travels_to_the_workers(local_ray):
    def halved_mse(outputs, labels):  # defined here, so only this process knows it until a task carries it
        return 0.5 * mse(outputs, labels)

    register_loss("test_ray_halved_mse", halved_mse)
    configs = [c.replace(loss="test_ray_halved_mse", steps=10) for c in CONFIGS[:2]]
    remote = sweep(configs, backend="ray", max_members=1, progress=False)
    local = sweep(configs, progress=False)
    for a, b in zip(remote["history"], local["history"], strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5, atol=1e-6)
