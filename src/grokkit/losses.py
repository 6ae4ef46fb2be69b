"""Losses by name. Each maps outputs ``(n, M)`` and integer labels ``(n,)`` to one loss per pair ``(n,)``;
the training loss is their mean over the training pairs.

They differ in value and, more importantly, in the gradient they send back to the outputs, which is
the only thing training sees. ``alpha_weighted`` is defined by its gradient alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def centred_targets(labels: torch.Tensor, modulus: int) -> torch.Tensor:
    """Ỹ = onehot(y) − 1/M: one-hot targets with each row's mean removed."""
    return F.one_hot(labels, modulus).to(torch.get_default_dtype()) - 1.0 / modulus


def mse(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Squared error to the centred one-hot target, summed over the M classes."""
    return (outputs - centred_targets(labels, outputs.shape[-1])).pow(2).sum(dim=-1)


def cross_entropy(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy."""
    return F.cross_entropy(outputs, labels, reduction="none")


def multi_margin(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Multi-class hinge: (1/M) Σ_{c ≠ y} max(0, 1 − (o_y − o_c)); zero once every margin is at least 1."""
    return F.multi_margin_loss(outputs, labels, reduction="none")


def _stable_s(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, x + 1, 1 / (1 - x.clamp(max=0)))


def stablemax_cross_entropy(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with StableMax in place of softmax (Prieto et al. 2025): p_c ∝ s(o_c), where
    s(x) = x + 1 for x ≥ 0 and 1/(1 − x) below, which grows linearly instead of exponentially."""
    s = _stable_s(outputs.double())
    return (s.sum(dim=-1).log() - s.gather(1, labels.view(-1, 1))[:, 0].log()).to(outputs.dtype)


def alpha_weighted(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Defined only through its gradient: ∂/∂o = α (o − Ỹ) with α = 1 − softmax(o)_y held constant.

    The squared-error gradient, weighted per pair by how unsure the network still is; pairs it already
    gets right with confidence stop pulling. In the spirit of Tian's α-CL, α is detached, so the value
    of this "loss" means nothing and no closed-form function has this gradient.
    """
    error = (outputs - centred_targets(labels, outputs.shape[-1])).detach()
    alpha = 1 - torch.softmax(outputs.detach(), dim=-1).gather(1, labels.view(-1, 1))
    return (alpha * error * outputs).sum(dim=-1)


def register_loss(name: str, loss: Loss) -> None:
    """Add ``loss`` to :data:`LOSSES` under a new ``name``, so that a ``TrainConfig`` can name it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if name in LOSSES:
        raise ValueError(f"a loss named {name!r} is already registered; choose another name")
    if not callable(loss):
        raise TypeError(f"loss must be a function of (outputs, labels), got {type(loss).__name__}")
    LOSSES[name] = loss


LOSSES: dict[str, Loss] = {
    "mse": mse,
    "cross_entropy": cross_entropy,
    "multi_margin": multi_margin,
    "stablemax": stablemax_cross_entropy,
    "alpha_weighted": alpha_weighted,
}
