"""Train many Li₂ networks at once: S members stacked on a leading axis, one batched op per layer.

Members share the architecture (modulus M, width K, activation) and the evaluation interval, and may
differ in everything else: seed, training subset and its size, loss, optimiser, learning rate and
weight decay. Subsets of different sizes are padded to the largest and masked out of the loss.
The forward and backward passes are written by hand: the one-hot first layer is a row gather forward
and an ``index_add_`` backward, the three ``(S, n, K)`` work tensors are allocated once, and autograd
is used only for the cheap ``(S, n, M)`` loss. Adam/AdamW are applied with per-member learning rates
and weight decays and follow ``torch.optim``'s update rule exactly. A member that reaches its step
budget or its test-accuracy target is removed from the stack, so it stops costing compute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .losses import LOSSES
from .models import ACTIVATIONS, TwoLayerNet
from .tasks import Split

BETAS = (0.9, 0.999)
EPS = 1e-8


def _padded(tensors: Sequence[torch.Tensor], fill: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 1-D tensors of different lengths into ``(S, n_max)`` plus a float mask of real entries."""
    n_max = max(t.shape[0] for t in tensors)
    out = torch.full((len(tensors), n_max), fill, dtype=tensors[0].dtype)
    mask = torch.zeros(len(tensors), n_max)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
        mask[i, : t.shape[0]] = 1.0
    return out, mask


class StackedPairs:
    """The train (or test) pairs of every member, padded, with work buffers for width ``hidden``."""

    def __init__(self, pairs: Sequence[torch.Tensor], labels: Sequence[torch.Tensor], modulus: int, hidden: int, device: torch.device) -> None:
        first, self.mask = _padded([p[:, 0] for p in pairs])
        second, _ = _padded([p[:, 1] + modulus for p in pairs])
        self.labels, _ = _padded(list(labels))
        self.counts = self.mask.sum(dim=1)
        s, n = first.shape
        offsets = (torch.arange(s) * 2 * modulus).unsqueeze(1)  # row of member i in the flat (S·2M, K) table
        self.first = (first + offsets).reshape(-1).to(device)
        self.second = (second + offsets).reshape(-1).to(device)
        self.labels, self.mask, self.counts = self.labels.to(device), self.mask.to(device), self.counts.to(device)
        self.modulus, self.hidden = modulus, hidden
        self.pre, self.features, self.grad = (torch.empty(s, n, hidden, device=device) for _ in range(3))

    def keep(self, members: torch.Tensor) -> None:
        """Drop every member not listed in ``members`` (indices into the current stack)."""
        s, n = self.mask.shape
        old = torch.arange(s, device=members.device)[members]
        rows = lambda flat: flat.view(s, n)[members] - (old * 2 * self.modulus).unsqueeze(1)  # noqa: E731
        first, second = rows(self.first), rows(self.second)
        offsets = (torch.arange(len(members), device=members.device) * 2 * self.modulus).unsqueeze(1)
        self.first, self.second = (first + offsets).reshape(-1), (second + offsets).reshape(-1)
        self.labels, self.mask, self.counts = self.labels[members], self.mask[members], self.counts[members]
        self.pre, self.features, self.grad = (t[members] for t in (self.pre, self.features, self.grad))


@dataclass(frozen=True)
class MemberSettings:
    """Per-member training settings as ``(S, 1, 1)`` tensors, so they broadcast over the weights."""

    lr: torch.Tensor
    weight_decay: torch.Tensor
    decoupled: torch.Tensor  # 1.0 for AdamW, 0.0 for Adam with coupled L2

    def keep(self, members: torch.Tensor) -> MemberSettings:
        return MemberSettings(self.lr[members], self.weight_decay[members], self.decoupled[members])


class Ensemble:
    """The stacked weights ``columns`` (S, 2M, K) = Wᵀ and ``V`` (S, M, K) with their Adam moments."""

    def __init__(self, models: Sequence[TwoLayerNet], settings: MemberSettings, device: torch.device) -> None:
        first = models[0]
        if any((m.modulus, m.hidden, m.activation) != (first.modulus, first.hidden, first.activation) for m in models):
            raise ValueError("ensemble members must share modulus, hidden and activation")
        self.modulus, self.hidden, self.activation = first.modulus, first.hidden, first.activation
        self.sigma = ACTIVATIONS[self.activation]
        self.columns = torch.stack([m.W.detach().t() for m in models]).contiguous().to(device)
        self.V = torch.stack([m.V.detach() for m in models]).to(device)
        self.moments = [torch.zeros_like(t) for t in (self.columns, self.columns, self.V, self.V)]
        self.settings = settings
        self.step_count = 0

    def keep(self, members: torch.Tensor) -> None:
        self.columns, self.V = self.columns[members], self.V[members]
        self.moments = [t[members] for t in self.moments]
        self.settings = self.settings.keep(members)

    def member(self, index: int) -> TwoLayerNet:
        """Member ``index`` as a standalone :class:`TwoLayerNet` on CPU."""
        net = TwoLayerNet(self.modulus, self.hidden, self.activation)
        with torch.no_grad():
            net.W.copy_(self.columns[index].t())
            net.V.copy_(self.V[index])
        return net

    def _features(self, batch: StackedPairs) -> torch.Tensor:
        flat = self.columns.view(-1, self.hidden)
        pre = batch.pre.view(-1, self.hidden)
        torch.index_select(flat, 0, batch.first, out=pre)
        pre.add_(torch.index_select(flat, 0, batch.second, out=batch.grad.view(-1, self.hidden)))  # grad is free here
        if self.activation == "x2":
            return torch.mul(batch.pre, batch.pre, out=batch.features)
        return batch.features.copy_(self.sigma(batch.pre))

    @torch.no_grad()
    def evaluate(self, batch: StackedPairs, losses: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-member loss and accuracy on ``batch``, each of shape (S,)."""
        outputs = torch.bmm(self._features(batch), self.V.transpose(1, 2))
        return member_losses(outputs, batch, losses), accuracy(outputs, batch)

    def loss_and_gradients(self, batch: StackedPairs, losses: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Per-member losses (S,), outputs (S, n, M) and the gradients of [columns, V]."""
        with torch.no_grad():
            features = self._features(batch)
            outputs = torch.bmm(features, self.V.transpose(1, 2))
        outputs.requires_grad_(True)
        with torch.enable_grad():
            per_member = member_losses(outputs, batch, losses)
            (grad_out,) = torch.autograd.grad(per_member.sum(), outputs)
        with torch.no_grad():
            grad_v = torch.bmm(grad_out.transpose(1, 2), features)
            if self.activation == "x2":  # σ'(z) = 2z
                grad_pre = torch.bmm(grad_out * 2, self.V, out=batch.grad).mul_(batch.pre)
            else:
                grad_features = torch.bmm(grad_out, self.V, out=batch.grad)
                pre = batch.pre.detach().requires_grad_(True)
                with torch.enable_grad():
                    (grad_pre,) = torch.autograd.grad(self.sigma(pre), pre, grad_features)
            grad_columns = torch.zeros_like(self.columns)
            flat_grad, flat_pre = grad_columns.view(-1, self.hidden), grad_pre.reshape(-1, self.hidden)
            flat_grad.index_add_(0, batch.first, flat_pre)
            flat_grad.index_add_(0, batch.second, flat_pre)
        return per_member.detach(), outputs.detach(), [grad_columns, grad_v]

    @torch.no_grad()
    def adam_step(self, grads: list[torch.Tensor]) -> None:
        """One Adam (coupled L2) or AdamW (decoupled) update per member, as ``torch.optim`` computes it."""
        self.step_count += 1
        beta1, beta2 = BETAS
        correction1 = 1 - beta1**self.step_count
        correction2_sqrt = math.sqrt(1 - beta2**self.step_count)
        s = self.settings
        for param, grad, m, v in ((self.columns, grads[0], *self.moments[:2]), (self.V, grads[1], *self.moments[2:])):
            grad.add_(param * (s.weight_decay * (1 - s.decoupled)))
            param.mul_(1 - s.lr * s.weight_decay * s.decoupled)
            m.lerp_(grad, 1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (v.sqrt() / correction2_sqrt).add_(EPS)
            param.sub_(m / denom * (s.lr / correction1))


def member_losses(outputs: torch.Tensor, batch: StackedPairs, losses: Sequence[str]) -> torch.Tensor:
    """Mean loss over each member's real pairs, with each member's own loss function; shape (S,)."""
    values = []
    for i, name in enumerate(losses):
        per_pair = LOSSES[name](outputs[i], batch.labels[i])
        values.append((per_pair * batch.mask[i]).sum() / batch.counts[i])
    return torch.stack(values)


def accuracy(outputs: torch.Tensor, batch: StackedPairs) -> torch.Tensor:
    return ((outputs.argmax(dim=2) == batch.labels).float() * batch.mask).sum(dim=1) / batch.counts


def stack_splits(splits: Sequence[Split], hidden: int, device: torch.device) -> tuple[StackedPairs, StackedPairs]:
    modulus = splits[0].modulus
    train = StackedPairs([s.train_pairs for s in splits], [s.train_labels for s in splits], modulus, hidden, device)
    test = StackedPairs([s.test_pairs for s in splits], [s.test_labels for s in splits], modulus, hidden, device)
    return train, test
