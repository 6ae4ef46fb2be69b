"""Property-based audit of the public API: every invalid argument is refused with a ValueError or
TypeError that names the argument, never with an error from deep inside torch, numpy or pandas."""

import math

import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import refused
from grokkit import (
    ACTIVATIONS,
    LOSSES,
    OPERATIONS,
    OPTIMIZERS,
    KeyResults,
    ModularTask,
    TrainConfig,
    TwoLayerNet,
    first_step_reaching,
    grid,
    histories,
    pick_device,
    sweep,
)

BASE = TrainConfig(modulus=11, n_train=60, hidden=8, steps=5, eval_every=5)

not_a_number = st.one_of(st.text(max_size=5), st.none(), st.booleans(), st.lists(st.integers(), max_size=2), st.just(object()))
not_an_int = st.one_of(not_a_number, st.floats(allow_nan=True))
bad_floats = st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf))


def outside(allowed):
    """Anything but one of the ``allowed`` names."""
    return st.one_of(not_a_number, st.text(max_size=6)).filter(lambda v: not (isinstance(v, str) and v in allowed))


INVALID_CONFIG_VALUES = {
    "modulus": st.one_of(not_an_int, st.integers(max_value=1)),
    "operation": outside(OPERATIONS),
    "n_train": st.one_of(st.text(max_size=3), st.floats(), st.integers(max_value=0), st.integers(min_value=121)),
    "hidden": st.one_of(not_an_int, st.integers(max_value=0)),
    "activation": outside(ACTIVATIONS),
    "top_init_scale": st.one_of(not_a_number, bad_floats, st.floats(max_value=-1e-9)),
    "loss": outside(LOSSES),
    "optimizer": outside(OPTIMIZERS),
    "lr": st.one_of(not_a_number, bad_floats, st.floats(max_value=0)),
    "weight_decay": st.one_of(not_a_number, bad_floats, st.floats(max_value=-1e-12)),
    "steps": st.one_of(not_an_int, st.integers(max_value=0)),
    "eval_every": st.one_of(not_an_int, st.integers(max_value=0)),
    "stop_at_test_acc": st.one_of(st.text(max_size=3), bad_floats, st.floats(max_value=0), st.floats(min_value=1.0001)),
    "seed": st.one_of(not_an_int, st.integers(max_value=-1)),
}


@pytest.mark.parametrize("field", sorted(INVALID_CONFIG_VALUES))
def test_every_config_field_refuses_invalid_values(field):
    @given(INVALID_CONFIG_VALUES[field])
    def check(value):
        refused(lambda: BASE.replace(**{field: value}), field)

    check()


@given(st.one_of(not_an_int, st.integers(max_value=1)), outside(OPERATIONS))
def test_task_refuses_bad_modulus_or_operation(modulus, operation):
    refused(lambda: ModularTask(modulus, "add"), "modulus")
    refused(lambda: ModularTask(7, operation), "operation")


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=49), not_an_int.filter(lambda v: v is not None)))
def test_split_refuses_bad_sizes(n_train):
    refused(lambda: ModularTask(7).split(n_train=n_train), "n_train")


@given(st.one_of(st.floats(max_value=0), st.floats(min_value=1), bad_floats))
def test_split_refuses_bad_fractions(fraction):
    refused(lambda: ModularTask(7).split(train_fraction=fraction), "train_fraction")


pair_tensors = st.one_of(
    st.builds(
        lambda n, bad: torch.cat([torch.zeros(n, 2, dtype=torch.long), torch.tensor([[0, bad]])]),
        st.integers(0, 4),
        st.one_of(st.integers(-50, -1), st.integers(7, 50)),
    ),  # one entry outside [0, 6]
    st.builds(lambda n, k: torch.zeros(n, k, dtype=torch.long), st.integers(1, 4), st.sampled_from([1, 3])),
    st.builds(lambda n: torch.zeros(n, 2), st.integers(1, 4)),
    st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=3),
)


@given(pair_tensors)
def test_model_and_labels_refuse_bad_pairs(pairs):
    model = TwoLayerNet(7, 4)
    refused(lambda: model(pairs), "pairs")
    refused(lambda: ModularTask(7).labels(pairs), "pairs")


@given(st.one_of(st.integers(max_value=1), not_an_int), st.one_of(st.integers(max_value=0), not_an_int))
def test_model_refuses_bad_sizes(modulus, hidden):
    refused(lambda: TwoLayerNet(modulus, 4), "modulus")
    refused(lambda: TwoLayerNet(7, hidden), "hidden")


@given(st.text(min_size=1, max_size=8).filter(lambda s: s.isidentifier() and s not in TrainConfig.__dataclass_fields__))
def test_grid_refuses_unknown_fields(name):
    refused(lambda: grid(BASE, **{name: [1]}), name)


@given(st.one_of(st.integers(max_value=0), st.booleans(), st.text(max_size=2)), st.text(max_size=6).filter(lambda s: s not in ("local", "ray")))
def test_sweep_refuses_bad_options(max_members, backend):
    refused(lambda: sweep([BASE], max_members=max_members, progress=False), "max_members")
    refused(lambda: sweep([BASE], backend=backend, progress=False), "backend")


@given(st.text(max_size=6).filter(lambda s: s not in ("cpu",)))
def test_pick_device_refuses_unknown_devices(name):
    refused(lambda: pick_device(name), "device")


HISTORY = pd.DataFrame({"step": [0, 10], "train_acc": [0.1, 1.0], "test_acc": [0.0, 0.5]})


@given(st.text(max_size=8).filter(lambda s: s not in HISTORY.columns), st.one_of(not_a_number, bad_floats))
def test_first_step_reaching_refuses_bad_columns_and_thresholds(column, threshold):
    refused(lambda: first_step_reaching(HISTORY, column, 0.5), "column")
    refused(lambda: first_step_reaching(HISTORY, "test_acc", threshold), "threshold")


@given(st.text(max_size=8).filter(lambda s: s not in ("seed", "history")))
def test_histories_refuses_unknown_columns(column):
    table = pd.DataFrame({"seed": [0], "history": [HISTORY]})
    refused(lambda: histories(table, column), "column")


@given(st.one_of(not_a_number.filter(lambda v: v is not None), bad_floats.map(complex)))
def test_key_results_refuse_non_numbers(value):
    refused(lambda: KeyResults("chapter").glue("answer", value), "answer")
