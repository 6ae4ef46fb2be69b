"""Losses by name. Each maps outputs ``(n, M)`` and integer labels ``(n,)`` to one loss per pair ``(n,)``;
the training loss is their mean over the training pairs.

They differ in value and, more importantly, in the gradient they send back to the outputs, which is
the only thing training sees. ``alpha_weighted`` is defined by its gradient alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from ._validate import check_int, check_labels, check_memory

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_label_tensor(labels: object, n: int | None = None) -> None:
    """The cheap checks of ``labels`` (type, dtype, shape; no pass over the values, so no device sync)."""
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long:
        raise TypeError(f"labels must be an int64 torch.Tensor of shape (n,), got {type(labels).__name__} {getattr(labels, 'dtype', '')}".rstrip())
    if labels.dim() != 1 or (n is not None and labels.shape[0] != n):
        raise ValueError(f"labels must have shape ({'n' if n is None else n},), one label per row of outputs, got {tuple(labels.shape)}")


def centered_targets(labels: torch.Tensor, modulus: int) -> torch.Tensor:
    """Ỹ = onehot(y) − 1/M: one-hot targets with each row's mean removed."""
    modulus = check_int("modulus", modulus, minimum=2)
    _check_label_tensor(labels)
    check_memory(f"labels ({labels.shape[0]}) and modulus={modulus}", labels.shape[0] * modulus * 8)
    try:
        return _centered_targets(labels, modulus)
    except RuntimeError:  # a label outside [0, M): say so, naming the argument
        check_labels("labels", labels, modulus)
        raise


def _centered_targets(labels: torch.Tensor, modulus: int) -> torch.Tensor:
    return F.one_hot(labels, modulus).to(torch.get_default_dtype()) - 1.0 / modulus


def _checked(loss: Loss) -> Loss:
    """``loss`` with its arguments checked: outputs ``(n, M)`` float, labels ``(n,)`` int64 in [0, M).

    The label range is checked only when the loss fails, so training pays nothing for the check.
    """

    @functools.wraps(loss)
    def checked(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # one cheap test on the training path (metadata only, no pass over the values); details on failure
        if not (
            isinstance(outputs, torch.Tensor)
            and isinstance(labels, torch.Tensor)
            and outputs.dtype.is_floating_point
            and labels.dtype is torch.long
            and outputs.dim() == 2
            and labels.dim() == 1
            and labels.shape[0] == outputs.shape[0]
        ):
            if not isinstance(outputs, torch.Tensor) or not outputs.dtype.is_floating_point or outputs.dim() != 2:
                raise TypeError(
                    f"outputs must be a float torch.Tensor of shape (n, M), got {type(outputs).__name__} {tuple(getattr(outputs, 'shape', ()))}"
                )
            _check_label_tensor(labels, outputs.shape[0])
        try:
            return loss(outputs, labels)
        except (RuntimeError, IndexError):
            check_labels("labels", labels, outputs.shape[1], outputs.shape[0])
            raise

    return checked


@_checked
def mse(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Squared error to the centered one-hot target, summed over the M classes."""
    return (outputs - _centered_targets(labels, outputs.shape[-1])).pow(2).sum(dim=-1)


@_checked
def cross_entropy(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy."""
    return F.cross_entropy(outputs, labels, reduction="none")


@_checked
def multi_margin(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Multi-class hinge: (1/M) Σ_{c ≠ y} max(0, 1 − (o_y − o_c)); zero once every margin is at least 1."""
    return F.multi_margin_loss(outputs, labels, reduction="none")


def _stable_s(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, x + 1, 1 / (1 - x.clamp(max=0)))


@_checked
def stablemax_cross_entropy(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with StableMax in place of softmax (Prieto et al. 2025): p_c ∝ s(o_c), where
    s(x) = x + 1 for x ≥ 0 and 1/(1 − x) below, which grows linearly instead of exponentially."""
    s = _stable_s(outputs.double())
    return (s.sum(dim=-1).log() - s.gather(1, labels.view(-1, 1))[:, 0].log()).to(outputs.dtype)


@_checked
def alpha_weighted(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Defined only through its gradient: ∂/∂o = α (o − Ỹ) with α = 1 − softmax(o)_y held constant.

    The squared-error gradient, weighted per pair by how unsure the network still is; pairs it already
    gets right with confidence stop pulling. In the spirit of Tian's α-CL, α is detached, so the value
    of this "loss" means nothing and no closed-form function has this gradient.
    """
    error = (outputs - _centered_targets(labels, outputs.shape[-1])).detach()
    alpha = 1 - torch.softmax(outputs.detach(), dim=-1).gather(1, labels.view(-1, 1))
    return (alpha * error * outputs).sum(dim=-1)


def register_loss(name: str, loss: Loss) -> None:
    """Add ``loss`` to :data:`LOSSES` under ``name``, so that a ``TrainConfig`` can name it.

    Registering the same function again is a no-op, so a notebook cell that defines and registers a
    loss can run twice; a name never changes its function, so configs that name it keep their meaning.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not callable(loss):
        raise TypeError(f"loss must be a function of (outputs, labels), got {type(loss).__name__}")
    if name in LOSSES and not _same_definition(LOSSES[name], loss):
        raise ValueError(
            f"name {name!r} is already registered to a different loss function; register the same function again "
            f"(allowed, it does nothing) or choose a new name for this one"
        )
    LOSSES.setdefault(name, loss)


def _same_definition(registered: Loss, loss: Loss) -> bool:
    """Whether ``loss`` is ``registered`` or a second run of the same ``def`` or ``lambda``, as in a re-run notebook cell."""
    try:
        return loss is registered or bool(_definition(registered) == _definition(loss))
    except (AttributeError, RuntimeError, TypeError, ValueError):  # not plain functions, or captured values (tensors) that do not compare
        return False


def _definition(function: Loss) -> tuple[object, ...]:
    """What decides how a function behaves: its module, name and code, its defaults and the values it captured."""
    f: Any = function
    captured = tuple(cell.cell_contents for cell in f.__closure__ or ())
    return (f.__module__, f.__qualname__, f.__code__, f.__defaults__, f.__kwdefaults__, captured)


LOSSES: dict[str, Loss] = {
    "mse": mse,
    "cross_entropy": cross_entropy,
    "multi_margin": multi_margin,
    "stablemax": stablemax_cross_entropy,
    "alpha_weighted": alpha_weighted,
}
