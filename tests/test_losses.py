"""The loss registry: each loss's value or gradient is the one its docstring states, and each trains."""

import pytest
import torch

from grokkit import LOSSES, TrainConfig, train
from grokkit.losses import alpha_weighted, centered_targets, mse, multi_margin, register_loss, stablemax_cross_entropy


def outputs_and_labels(seed=0, n=6, m=5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, m, generator=g, dtype=torch.float64), torch.randint(0, m, (n,), generator=g)


def test_alpha_weighted_has_the_stated_gradient():
    outputs, labels = outputs_and_labels()
    outputs.requires_grad_(True)
    (gradient,) = torch.autograd.grad(alpha_weighted(outputs, labels).sum(), outputs)
    alpha = 1 - torch.softmax(outputs.detach(), dim=1)[torch.arange(6), labels]
    expected = alpha.unsqueeze(1) * (outputs.detach() - centered_targets(labels, 5).double())
    assert torch.allclose(gradient, expected)


def test_alpha_weighted_gradient_is_not_the_gradient_of_any_function():
    """A gradient field is conservative only if its Jacobian is symmetric; α (o − Ỹ)'s is not."""
    outputs, labels = outputs_and_labels(n=1)
    target = centered_targets(labels, 5).double()[0]

    def field(o):
        return (1 - torch.softmax(o, dim=0)[labels[0]]) * (o - target)

    jacobian = torch.autograd.functional.jacobian(field, outputs[0])
    assert not torch.allclose(jacobian, jacobian.t(), atol=1e-3)


def test_stablemax_matches_its_definition_and_stays_finite():
    outputs, labels = outputs_and_labels()
    s = torch.where(outputs >= 0, outputs + 1, 1 / (1 - outputs))
    expected = -torch.log(s[torch.arange(6), labels] / s.sum(dim=1))
    assert torch.allclose(stablemax_cross_entropy(outputs, labels), expected)
    assert torch.isfinite(stablemax_cross_entropy(outputs * 1e4, labels)).all()


def test_multi_margin_is_zero_once_every_margin_is_one():
    labels = torch.tensor([0, 2])
    outputs = torch.zeros(2, 3)
    outputs[0, 0] = outputs[1, 2] = 1.0
    assert multi_margin(outputs, labels).tolist() == [0.0, 0.0]
    assert multi_margin(torch.zeros(2, 3), labels).tolist() == pytest.approx([2 / 3, 2 / 3])


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains_and_lowers_its_error(loss):
    result = train(TrainConfig(modulus=7, n_train=30, hidden=32, loss=loss, steps=60, eval_every=20), progress=False)
    assert result.history["train_acc"].iloc[-1] > result.history["train_acc"].iloc[0]


def test_a_registered_loss_can_be_trained_and_a_name_keeps_its_function():
    register_loss("test_double_mse", lambda o, y: 2 * mse(o, y))
    result = train(TrainConfig(modulus=7, n_train=30, hidden=16, loss="test_double_mse", steps=5), progress=False)
    assert len(result.history) == 2
    register_loss("mse", mse)  # the same function again: nothing to do
    assert LOSSES["mse"] is mse
    with pytest.raises(ValueError, match="'mse' is already registered to a different loss function; register the same function again"):
        register_loss("mse", lambda o, y: 2 * mse(o, y))
    with pytest.raises(TypeError, match="function of"):
        register_loss("test_not_callable", 3)


CELL = """
def test_cell_loss(outputs, labels):
    return scale * mse(outputs, labels)


register_loss("test_cell_loss", test_cell_loss)
"""


def test_a_notebook_cell_that_registers_a_loss_can_run_again():
    namespace = {"mse": mse, "register_loss": register_loss, "scale": 2.0}
    exec(CELL, namespace)
    first = LOSSES["test_cell_loss"]
    exec(CELL, namespace)  # a new function object from the same definition
    assert LOSSES["test_cell_loss"] is first
    with pytest.raises(ValueError, match="already registered to a different loss function"):
        exec(CELL.replace("scale *", "-scale *"), namespace)


def test_a_loss_that_captures_values_is_the_same_only_with_equal_values():
    def scaled(factor):
        return lambda o, y: factor * mse(o, y)

    register_loss("test_scaled_mse", scaled(2.0))
    register_loss("test_scaled_mse", scaled(2.0))
    with pytest.raises(ValueError, match="already registered"):
        register_loss("test_scaled_mse", scaled(3.0))
    register_loss("test_tensor_scaled_mse", scaled(torch.ones(2)))
    with pytest.raises(ValueError, match="already registered"):  # tensors do not compare to one bool: counted as different
        register_loss("test_tensor_scaled_mse", scaled(torch.ones(2)))
