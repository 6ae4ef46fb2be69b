import pytest
import torch

from grokkit import LOSSES, ModularTask, TwoLayerNet
from grokkit.fastpath import PairBatch, evaluate, loss_and_gradients


@pytest.mark.parametrize("activation", ["x2", "relu", "silu"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_hand_written_backward_equals_autograd(activation, loss):
    m, k = 13, 24
    split = ModularTask(m).split(n_train=80, seed=1)
    model = TwoLayerNet(m, k, activation, generator=torch.Generator().manual_seed(2))
    batch = PairBatch(split.train_pairs, split.train_labels, k, m)

    value, outputs = loss_and_gradients(model, batch, LOSSES[loss])
    fast = (model.W.grad.clone(), model.V.grad.clone())
    model.zero_grad()
    reference = LOSSES[loss](model(split.train_pairs), split.train_labels)
    reference.backward()

    torch.testing.assert_close(value, reference.detach())
    torch.testing.assert_close(outputs, model(split.train_pairs).detach())
    torch.testing.assert_close(fast[0], model.W.grad)
    torch.testing.assert_close(fast[1], model.V.grad)
    assert evaluate(model, batch, LOSSES[loss])[0] == pytest.approx(reference.item(), rel=1e-6)
