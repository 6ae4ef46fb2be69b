"""Forward and backward pass of :class:`TwoLayerNet` written out by hand, for full-batch training.

Autograd would allocate fresh ``(n, K)`` tensors for every intermediate on every step and turn the
first layer's backward pass into a slow accumulating ``index_put``. Here the three ``(n, K)`` buffers
are allocated once, the one-hot first layer is a row gather forward and an ``index_add_`` backward,
and autograd is used only for the cheap ``(n, M)`` loss. The result is the same gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .losses import Loss
from .models import TwoLayerNet


@dataclass
class PairBatch:
    """One fixed set of pairs with preallocated work buffers for the model's hidden width."""

    pairs: torch.Tensor
    labels: torch.Tensor
    hidden: int
    modulus: int
    _pre: torch.Tensor = field(init=False, repr=False)
    _features: torch.Tensor = field(init=False, repr=False)
    _grad: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.pairs.shape[0]
        like = dict(device=self.pairs.device, dtype=torch.get_default_dtype())
        self._pre, self._features, self._grad = (torch.empty(n, self.hidden, **like) for _ in range(3))
        self.first = self.pairs[:, 0].contiguous()
        self.second = (self.pairs[:, 1] + self.modulus).contiguous()


def _features(model: TwoLayerNet, columns: torch.Tensor, batch: PairBatch) -> torch.Tensor:
    """Fill the batch's buffers with W x (pre-activation) and F = σ(W x); return F."""
    torch.index_select(columns, 0, batch.first, out=batch._pre)
    batch._pre.add_(columns.index_select(0, batch.second))
    if model.activation == "x2":
        return torch.mul(batch._pre, batch._pre, out=batch._features)
    return batch._features.copy_(model._sigma(batch._pre))


@torch.no_grad()
def evaluate(model: TwoLayerNet, batch: PairBatch, loss_fn: Loss) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on ``batch``."""
    outputs = _features(model, model.W.t().contiguous(), batch) @ model.V.t()
    return loss_fn(outputs, batch.labels).item(), (outputs.argmax(1) == batch.labels).double().mean().item()


def loss_and_gradients(model: TwoLayerNet, batch: PairBatch, loss_fn: Loss) -> tuple[torch.Tensor, torch.Tensor]:
    """Set ``W.grad`` and ``V.grad`` for the loss on ``batch``; return (loss, outputs), both detached.

    The gradient backpropagated to the hidden layer, G_F = ∂loss/∂F, is formed in ``batch._grad`` and
    multiplied in place by σ'(W x), so no ``(n, K)`` tensor is allocated on the x² path.
    """
    with torch.no_grad():
        columns = model.W.t().contiguous()
        features = _features(model, columns, batch)
        outputs = features @ model.V.t()
    outputs.requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(outputs, batch.labels)
        (grad_out,) = torch.autograd.grad(loss, outputs)
    with torch.no_grad():
        model.V.grad = grad_out.t() @ features
        if model.activation == "x2":  # σ'(z) = 2z
            grad_pre = torch.mm(grad_out * 2, model.V, out=batch._grad).mul_(batch._pre)
        else:
            grad_features = torch.mm(grad_out, model.V, out=batch._grad)
            pre = batch._pre.detach().requires_grad_(True)
            with torch.enable_grad():
                (grad_pre,) = torch.autograd.grad(model._sigma(pre), pre, grad_features)
        grad_columns = torch.zeros_like(columns)
        grad_columns.index_add_(0, batch.first, grad_pre)
        grad_columns.index_add_(0, batch.second, grad_pre)
        model.W.grad = grad_columns.t().contiguous()
    return loss.detach(), outputs.detach()
