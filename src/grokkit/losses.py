"""Losses by name. Each maps outputs ``(n, M)`` and integer labels ``(n,)`` to one loss per pair ``(n,)``;
the training loss is their mean over the training pairs."""

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


LOSSES: dict[str, Loss] = {"mse": mse, "cross_entropy": cross_entropy}
