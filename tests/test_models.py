import pytest
import torch
from torch.nn import functional as F

from grokkit import ModularTask, TwoLayerNet


def test_shapes_and_no_biases():
    net = TwoLayerNet(11, 32)
    pairs = ModularTask(11).pairs()
    assert net(pairs).shape == (121, 11)
    assert {name for name, _ in net.named_parameters()} == {"W", "V"}
    assert net.W.shape == (32, 22) and net.V.shape == (11, 32)


@pytest.mark.parametrize("activation", ["x2", "relu", "silu"])
def test_forward_equals_the_one_hot_formula(activation):
    m = 7
    net = TwoLayerNet(m, 16, activation)
    pairs = ModularTask(m).pairs()
    x = torch.cat([F.one_hot(pairs[:, 0], m), F.one_hot(pairs[:, 1], m)], dim=1).float()
    sigma = {"x2": lambda z: z**2, "relu": torch.relu, "silu": F.silu}[activation]
    expected = sigma(x @ net.W.t()) @ net.V.t()
    torch.testing.assert_close(net(pairs), expected)


def test_default_init_bounds_and_top_scale():
    net = TwoLayerNet(50, 400, generator=torch.Generator().manual_seed(0))
    assert net.W.abs().max() <= 1 / 100**0.5 and net.W.abs().max() > 0.9 / 100**0.5
    assert net.V.abs().max() <= 1 / 400**0.5
    assert torch.count_nonzero(TwoLayerNet(5, 8, top_init_scale=0.0).V) == 0
    half = TwoLayerNet(5, 8, top_init_scale=0.5, generator=torch.Generator().manual_seed(1))
    full = TwoLayerNet(5, 8, top_init_scale=1.0, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(half.V, 0.5 * full.V)
    torch.testing.assert_close(half.W, full.W)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"modulus": 1, "hidden": 4}, "modulus must be >= 2"),
        ({"modulus": 5, "hidden": 0}, "hidden must be >= 1"),
        ({"modulus": 5, "hidden": 4, "activation": "tanh"}, "activation must be one of"),
        ({"modulus": 5, "hidden": 4, "top_init_scale": -1.0}, "top_init_scale must be in"),
    ],
)
def test_bad_model_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwoLayerNet(**kwargs)
