"""Measures of a representation: effective rank, CKA and consistency under the task's symmetries."""

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
