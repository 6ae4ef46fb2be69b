"""Train many Li₂ networks at once: S members stacked on a leading axis, one batched op per layer.

Members share the architecture (modulus M, width K, activation) and the evaluation interval, and may
differ in everything else: seed, training subset and its size, loss, optimiser, learning rate and
weight decay. Subsets of different sizes are padded to the largest and masked out of the loss.
The forward and backward passes are written by hand: the one-hot first layer is a row gather forward
and an ``index_add_`` backward, the three ``(S, n, K)`` work tensors are allocated once, and autograd
is used only for the cheap ``(S, n, M)`` loss. The optimiser family (Adam/AdamW, SGD or Muon) is
shared by the stack; learning rates and weight decays are per member. Adam, AdamW and SGD follow
``torch.optim``'s update rules exactly. A member that reaches its step
budget or its test-accuracy target is removed from the stack, so it stops costing compute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .losses import LOSSES
from .models import ACTIVATIONS, TwoLayerNet
from .tasks import Split

BETAS = (0.9, 0.999)
EPS = 1e-8
MOMENTUM = 0.9
"""Heavy-ball momentum of SGD and Nesterov momentum of Muon."""
NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)
"""Coefficients of the quintic Newton–Schulz iteration that orthogonalises Muon's update (Jordan et al. 2024)."""


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
    """The train (or test) inputs of every member, padded, with work buffers for width ``hidden``.

    ``rows`` (S·n, T) holds, for every member and padded pair, the rows of its T tokens (a, b and
    maybe a hint) in the flat ``(S·T·M, K)`` table of all members' first layers; ``tokens[t]`` is
    its column t, contiguous, for the backward pass.
    """

    def __init__(self, pairs: Sequence[torch.Tensor], labels: Sequence[torch.Tensor], modulus: int, hidden: int, device: torch.device) -> None:
        self.width = pairs[0].shape[1]
        padded = [_padded([p[:, t] + t * modulus for p in pairs]) for t in range(self.width)]
        self.mask = padded[0][1]
        self.labels, _ = _padded(list(labels))
        self.counts = self.mask.sum(dim=1)
        s, n = self.mask.shape
        offsets = (torch.arange(s) * self.width * modulus).unsqueeze(1)  # first row of member i in the flat table
        self.rows = torch.stack([rows + offsets for rows, _ in padded], dim=2).reshape(-1, self.width).to(device)
        self.labels, self.mask, self.counts = self.labels.to(device), self.mask.to(device), self.counts.to(device)
        self.modulus, self.hidden = modulus, hidden
        self.features, self.grad = (torch.empty(s, n, hidden, device=device) for _ in range(2))
        self._split_tokens()

    def _split_tokens(self) -> None:
        self.tokens = [self.rows[:, t].contiguous() for t in range(self.width)]

    def keep(self, members: torch.Tensor) -> None:
        """Drop every member not listed in ``members`` (indices into the current stack)."""
        s, n = self.mask.shape
        block = self.width * self.modulus
        shift = (torch.arange(len(members), device=members.device) - members) * block  # new minus old first row
        self.rows = (self.rows.view(s, n, self.width)[members] + shift.view(-1, 1, 1)).reshape(-1, self.width)
        self._split_tokens()
        self.labels, self.mask, self.counts = self.labels[members], self.mask[members], self.counts[members]
        self.features, self.grad = self.features[members], self.grad[members]


@dataclass(frozen=True)
class MemberSettings:
    """Per-member training settings as ``(S, 1, 1)`` tensors, so they broadcast over the weights."""

    lr: torch.Tensor
    hidden_lr: torch.Tensor  # learning rate of the hidden layer W
    weight_decay: torch.Tensor
    decoupled: torch.Tensor  # 1.0 for AdamW, 0.0 for Adam with coupled L2

    def keep(self, members: torch.Tensor) -> MemberSettings:
        return MemberSettings(self.lr[members], self.hidden_lr[members], self.weight_decay[members], self.decoupled[members])


class Ensemble:
    """The stacked weights ``columns`` (S, 2M, K) = Wᵀ and ``V`` (S, M, K) with their Adam moments."""

    def __init__(self, models: Sequence[TwoLayerNet], settings: MemberSettings, device: torch.device, optimizer: str = "adam") -> None:
        first = models[0]
        if any((m.modulus, m.hidden, m.activation, m.inputs) != (first.modulus, first.hidden, first.activation, first.inputs) for m in models):
            raise ValueError("ensemble members must share modulus, hidden, activation and inputs")
        self.modulus, self.hidden, self.activation, self.inputs = first.modulus, first.hidden, first.activation, first.inputs
        self.sigma = ACTIVATIONS[self.activation]
        self.columns = torch.stack([m.W.detach().t() for m in models]).contiguous().to(device)
        self.V = torch.stack([m.V.detach() for m in models]).to(device)
        self.moments = [torch.zeros_like(t) for t in (self.columns, self.columns, self.V, self.V)]
        self.settings = settings
        self.optimizer = optimizer
        self.step_count = 0

    def keep(self, members: torch.Tensor) -> None:
        self.columns, self.V = self.columns[members], self.V[members]
        self.moments = [t[members] for t in self.moments]
        self.settings = self.settings.keep(members)

    def member(self, index: int) -> TwoLayerNet:
        """Member ``index`` as a standalone :class:`TwoLayerNet` on CPU."""
        net = TwoLayerNet(self.modulus, self.hidden, self.activation, inputs=self.inputs)
        with torch.no_grad():
            net.W.copy_(self.columns[index].t())
            net.V.copy_(self.V[index])
        return net

    def _features(self, batch: StackedPairs) -> torch.Tensor:
        """σ(W x) for every member and pair; the pre-activations W x are kept in ``batch.pre``.

        The one-hot product W x is the sum of the T token columns: one ``embedding_bag`` pass.
        """
        flat = self.columns.view(-1, self.hidden)
        batch.pre = F.embedding_bag(batch.rows, flat, mode="sum").view(batch.features.shape)
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
            for rows in batch.tokens:
                flat_grad.index_add_(0, rows, flat_pre)
        return per_member.detach(), outputs.detach(), [grad_columns, grad_v]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        """One optimiser update of every member: the family chosen at construction, per-member settings."""
        self.step_count += 1
        s = self.settings
        if self.optimizer == "sgd":
            for param, grad, buffer, lr in ((self.columns, grads[0], self.moments[0], s.hidden_lr), (self.V, grads[1], self.moments[2], s.lr)):
                grad.add_(param * s.weight_decay)
                if self.step_count == 1:
                    buffer.copy_(grad)
                else:
                    buffer.mul_(MOMENTUM).add_(grad)
                param.sub_(buffer * lr)
            return
        if self.optimizer == "muon":
            self._muon(self.columns, grads[0], self.moments[0])
        else:
            self._adam(self.columns, grads[0], *self.moments[:2], s.hidden_lr)
        self._adam(self.V, grads[1], *self.moments[2:], s.lr)

    def _adam(self, param: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, lr: torch.Tensor) -> None:
        """Adam (coupled L2) or AdamW (decoupled), as ``torch.optim`` computes them."""
        s = self.settings
        beta1, beta2 = BETAS
        correction1 = 1 - beta1**self.step_count
        correction2_sqrt = math.sqrt(1 - beta2**self.step_count)
        grad.add_(param * (s.weight_decay * (1 - s.decoupled)))
        param.mul_(1 - lr * s.weight_decay * s.decoupled)
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (v.sqrt() / correction2_sqrt).add_(EPS)
        param.sub_(m / denom * (lr / correction1))

    def _muon(self, param: torch.Tensor, grad: torch.Tensor, buffer: torch.Tensor) -> None:
        """Muon on the hidden layer: Nesterov momentum, orthogonalised, with decoupled weight decay.

        Every singular value of the update is pushed towards 1, so directions (here: features) that
        the raw gradient barely touches move as fast as the dominant ones.
        """
        s = self.settings
        buffer.lerp_(grad, 1 - MOMENTUM)
        update = orthogonalise(grad.lerp_(buffer, MOMENTUM))
        rows, cols = param.shape[2], param.shape[1]  # W is (K, T·M); ``columns`` stores Wᵀ
        param.mul_(1 - s.hidden_lr * s.weight_decay)
        param.sub_(update * (s.hidden_lr * max(1.0, rows / cols) ** 0.5))


def orthogonalise(matrices: torch.Tensor, iterations: int = 5) -> torch.Tensor:
    """Approximately U Vᵀ for each matrix U S Vᵀ of the stack ``(S, p, q)``, by Newton–Schulz iteration."""
    a, b, c = NEWTON_SCHULZ
    tall = matrices.shape[1] > matrices.shape[2]
    x = matrices.transpose(1, 2) if tall else matrices
    x = x / (x.norm(dim=(1, 2), keepdim=True) + 1e-7)
    for _ in range(iterations):
        gram = x @ x.transpose(1, 2)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.transpose(1, 2) if tall else x


def member_losses(outputs: torch.Tensor, batch: StackedPairs, losses: Sequence[str]) -> torch.Tensor:
    """Mean loss over each member's real pairs, with each member's own loss function; shape (S,).

    Members that share a loss are evaluated in one call on their flattened pairs: indexing member by
    member would make autograd zero-fill the whole ``(S, n, M)`` gradient once per member.
    """
    s, n, m = outputs.shape
    if len(set(losses)) == 1:
        per_pair = LOSSES[losses[0]](outputs.reshape(s * n, m), batch.labels.reshape(-1)).view(s, n)
    else:
        per_pair = outputs.new_zeros(s, n)
        for name in dict.fromkeys(losses):
            members = torch.tensor([i for i, other in enumerate(losses) if other == name], device=outputs.device)
            values = LOSSES[name](outputs[members].reshape(-1, m), batch.labels[members].reshape(-1))
            per_pair = per_pair.index_put((members,), values.view(-1, n))
    return (per_pair * batch.mask).sum(dim=1) / batch.counts


def accuracy(outputs: torch.Tensor, batch: StackedPairs) -> torch.Tensor:
    return ((outputs.argmax(dim=2) == batch.labels).float() * batch.mask).sum(dim=1) / batch.counts


def stack_splits(splits: Sequence[Split], hidden: int, device: torch.device) -> tuple[StackedPairs, StackedPairs]:
    modulus = splits[0].modulus
    train = StackedPairs([s.train_pairs for s in splits], [s.train_labels for s in splits], modulus, hidden, device)
    test = StackedPairs([s.test_pairs for s in splits], [s.test_labels for s in splits], modulus, hidden, device)
    return train, test
