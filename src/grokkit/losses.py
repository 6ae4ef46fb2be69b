"""Losses by name. Each takes outputs ``(n, M)`` and integer labels ``(n,)`` and returns a scalar."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def centred_targets(labels: torch.Tensor, modulus: int) -> torch.Tensor:
    """Ỹ = onehot(y) − 1/M: one-hot targets with each row's mean removed."""
    return F.one_hot(labels, modulus).to(torch.get_default_dtype()) - 1.0 / modulus


def mse(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Squared error to the centred one-hot target, summed over classes and averaged over pairs."""
    return (outputs - centred_targets(labels, outputs.shape[1])).pow(2).sum(dim=1).mean()


def cross_entropy(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy, averaged over pairs."""
    return F.cross_entropy(outputs, labels)


LOSSES: dict[str, Loss] = {"mse": mse, "cross_entropy": cross_entropy}
