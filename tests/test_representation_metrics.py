"""Measures of a representation: effective rank, CKA and consistency under the task's symmetries."""

import pandas as pd
import pytest
import torch

from grokkit import ModularTask
from grokkit.fourier import fourier_network
from grokkit.metrics import circularity, commutativity, effective_rank, linear_cka, prediction_table, shift_equivariance


def test_effective_rank_counts_equal_directions():
    assert effective_rank(torch.eye(6)) == pytest.approx(6)
    assert effective_rank(torch.outer(torch.arange(1.0, 5.0), torch.ones(3))) == pytest.approx(1)


def test_cka_is_invariant_to_rotation_and_scale_and_low_for_unrelated_features():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 8, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert linear_cka(x, 3 * x @ rotation) == pytest.approx(1.0, abs=1e-6)
    assert linear_cka(x, torch.randn(500, 8, generator=g)) < 0.1


def test_a_perfect_table_is_fully_consistent():
    m = 13
    table = prediction_table(fourier_network(m, [2]), m)
    train = ModularTask(m).split(n_train=60, seed=0).train_pairs
    assert commutativity(table, train) == 1.0
    assert shift_equivariance(table) == 1.0


def test_a_random_table_is_consistent_by_chance_only():
    m = 31
    table = torch.randint(0, m, (m, m), generator=torch.Generator().manual_seed(1))
    train = ModularTask(m).split(n_train=300, seed=0).train_pairs
    assert commutativity(table, train) < 0.15
    assert shift_equivariance(table) == pytest.approx(1 / m, abs=0.01)


def test_commutativity_counts_only_pairs_trained_in_one_order():
    table = torch.tensor([[0, 1], [0, 1]])  # f(0, 1) = 1 but f(1, 0) = 0
    assert commutativity(table, torch.tensor([[0, 1]])) == 0.0
    with pytest.raises(ValueError, match="swap missing"):
        commutativity(table, torch.tensor([[0, 1], [1, 0]]))


def test_circularity():
    angle = torch.arange(50) * 2 * torch.pi / 50
    assert circularity(torch.stack([angle.cos(), angle.sin()], dim=1)) < 1e-3


@pytest.mark.parametrize("call, message", [
    (lambda: effective_rank(torch.ones(3)), "2-D float"),
    (lambda: linear_cka(torch.ones(3, 2), torch.ones(4, 2)), "same inputs"),
    (lambda: shift_equivariance(torch.zeros(3, 3)), "integer tensor"),
    (lambda: commutativity(torch.zeros(3, 3, dtype=torch.long), torch.tensor([[0, 5]])), r"entries must be in \[0, 2\]"),
    (lambda: circularity(torch.zeros(4, 3)), r"\(n, 2\)"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_shares_give_a_wilson_interval_per_group():
    from grokkit.metrics import shares

    table = pd.DataFrame({"lr": [1e-3] * 10 + [1e-2] * 10, "ok": [True] * 5 + [False] * 5 + [True] * 10})
    found = shares(table, "lr", "ok").set_index("lr")
    assert list(found["runs"]) == [10, 10] and list(found["successes"]) == [5, 10]
    assert found.loc[1e-3, "share"] == 0.5 and found.loc[1e-3, "low"] == pytest.approx(0.2366, abs=1e-3)
    assert found.loc[1e-3, "high"] == pytest.approx(0.7634, abs=1e-3)
    assert found.loc[1e-2, "high"] == 1.0 and found.loc[1e-2, "low"] == pytest.approx(0.7225, abs=1e-3)
    assert shares(table, "lr", "ok", level=0.5).loc[0, "high"] < found.loc[1e-3, "high"], "a lower level gives a narrower interval"


def test_shares_refuse_a_column_that_is_not_true_or_false():
    from grokkit.metrics import shares

    with pytest.raises(ValueError, match="True and False"):
        shares(pd.DataFrame({"lr": [1, 2], "ok": [0.3, 0.9]}), "lr", "ok")
    with pytest.raises(ValueError, match="lacks the columns"):
        shares(pd.DataFrame({"lr": [1]}), "lr", "ok")
    with pytest.raises(ValueError, match="level"):
        shares(pd.DataFrame({"lr": [1], "ok": [True]}), "lr", "ok", level=1.0)
