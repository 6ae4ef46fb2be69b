"""Train many Li₂ networks at once: S members stacked on a leading axis, one batched op per layer.

Members share the architecture (modulus M, width K, activation) and the evaluation interval, and may
differ in everything else: seed, training subset and its size, loss, optimizer, learning rate and
weight decay. Subsets of different sizes are padded to the largest and masked out of the loss.
The forward and backward passes are written by hand: the one-hot first layer is a row gather forward
and an ``index_add_`` backward, the three ``(S, n, K)`` work tensors are allocated once, and autograd
is used only for the cheap ``(S, n, M)`` loss. The optimizer family (Adam/AdamW, SGD or Muon) is
shared by the stack; learning rates and weight decays are per member. Adam, AdamW and SGD follow
``torch.optim``'s update rules exactly. A member that reaches its step budget or its test-accuracy
target is retired from the stack (:meth:`Ensemble.retire`), so it stops costing compute.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch.nn import functional as F

from ._validate import check_bool, check_choice, check_float, check_sequence
from .device import pick_device
from .losses import LOSSES
from .models import ACTIVATIONS, TwoLayerNet
from .tasks import Split

BETAS = (0.9, 0.999)
EPS = 1e-8
MOMENTUM = 0.9
"""Heavy-ball momentum of SGD and Nesterov momentum of Muon."""
NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)
"""Coefficients of the quintic Newton–Schulz iteration that orthogonalizes Muon's update (Jordan et al. 2024)."""
UPDATE_RULES = {"adam": ("adam", "adam"), "adamw": ("adam", "adam"), "sgd": ("sgd", "sgd"), "muon": ("muon", "adam")}
"""The update rule of the hidden layer W and of the top layer V, by optimizer. Members whose rules agree
can share an ensemble: Adam and AdamW differ only in how each member applies its weight decay."""


def _padded(tensors: Sequence[torch.Tensor], fill: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 1-D tensors of different lengths into ``(S, n_max)`` plus a float mask of real entries."""
    n_max = max(t.shape[0] for t in tensors)
    out = torch.full((len(tensors), n_max), fill, dtype=tensors[0].dtype)
    mask = torch.zeros(len(tensors), n_max)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
        mask[i, : t.shape[0]] = 1.0
    return out, mask


class _StackedPairs:
    """The train (or test) inputs of every member, padded, with work buffers for width ``hidden``.

    ``rows`` (S·n, T) holds, for every member and padded pair, the rows of its T tokens (a, b and
    maybe a hint) in the flat ``(S·T·M, K)`` table of all members' first layers; ``tokens[t]`` is
    its column t, contiguous, for the backward pass.
    """

    pre: torch.Tensor  # pre-activations W x of the last pass, kept for the backward pass

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
class _MemberSettings:
    """Per-member training settings as ``(S, 1, 1)`` tensors, so they broadcast over the weights."""

    lr: torch.Tensor
    hidden_lr: torch.Tensor  # learning rate of the hidden layer W
    weight_decay: torch.Tensor
    decoupled: torch.Tensor  # 1.0 for AdamW, 0.0 for Adam with coupled L2


@dataclass(frozen=True)
class _AdamMoments:
    """Adam's state for one stacked weight: running means of the gradient and of its square."""

    first: torch.Tensor
    second: torch.Tensor


@dataclass(frozen=True)
class _Momentum:
    """The momentum buffer of one stacked weight: heavy ball for SGD, Nesterov for Muon."""

    buffer: torch.Tensor


_PerMember = TypeVar("_PerMember", _MemberSettings, _AdamMoments, _Momentum)


def _kept(state: _PerMember, members: torch.Tensor) -> _PerMember:
    """A dataclass of per-member tensors (settings or optimizer state) cut down to ``members``."""
    return dataclasses.replace(state, **{f.name: getattr(state, f.name)[members] for f in dataclasses.fields(state)})


class Ensemble:
    """S networks of one architecture trained as one: their stacked weights, optimizer state and data.

    ``columns`` (S, T·M, K) holds each member's Wᵀ and ``V`` (S, M, K) its top layer; ``members`` gives,
    for each position in the stack, the member's index at construction. A training step is
    :meth:`forward_backward`, then :meth:`metrics` when the step is recorded, then :meth:`step`;
    :meth:`retire` drops finished members from everything the ensemble holds, so callers keep no
    parallel state. ``splits`` and every keyword argument hold one entry per model; ``hidden_lr`` is
    the learning rate of the hidden layer W, ``lr`` that of V.
    """

    def __init__(
        self,
        models: Sequence[TwoLayerNet],
        splits: Sequence[Split],
        device: str | torch.device | None = None,
        *,
        losses: Sequence[str],
        optimizers: Sequence[str],
        lr: Sequence[float],
        hidden_lr: Sequence[float],
        weight_decay: Sequence[float],
    ) -> None:
        models, splits = _check_members(models, splits)
        count, first, where = len(models), models[0], pick_device(device)
        self.losses = [check_choice("losses", name, LOSSES) for name in _one_each("losses", losses, count)]
        optimizers = [check_choice("optimizers", name, UPDATE_RULES) for name in _one_each("optimizers", optimizers, count)]
        rules = {UPDATE_RULES[name] for name in optimizers}
        if len(rules) > 1:
            raise ValueError(f"optimizers must share their update rules (only Adam and AdamW mix), got {sorted(set(optimizers))}")
        self.modulus, self.hidden, self.activation, self.inputs = first.modulus, first.hidden, first.activation, first.inputs
        self.sigma = ACTIVATIONS[self.activation]
        self.columns = torch.stack([m.W.detach().t() for m in models]).contiguous().to(where)
        self.V = torch.stack([m.V.detach() for m in models]).to(where)
        self._settings = _MemberSettings(
            lr=_per_member("lr", lr, count, where, positive=True),
            hidden_lr=_per_member("hidden_lr", hidden_lr, count, where, positive=True),
            weight_decay=_per_member("weight_decay", weight_decay, count, where),
            decoupled=_per_member("decoupled", [float(name == "adamw") for name in optimizers], count, where),
        )
        self._updates = [_RULES[rule] for rule in rules.pop()]  # (state, update) of W, then of V
        self._states = [
            state(*(torch.zeros_like(weight) for _ in dataclasses.fields(state)))
            for weight, (state, _) in zip((self.columns, self.V), self._updates, strict=True)
        ]
        self._train = _StackedPairs([s.train_pairs for s in splits], [s.train_labels for s in splits], self.modulus, self.hidden, where)
        self._test = _StackedPairs([s.test_pairs for s in splits], [s.test_labels for s in splits], self.modulus, self.hidden, where)
        self._last: tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]] | None = None  # loss, outputs, gradients
        self.members = list(range(count))
        self.step_count = 0

    @property
    def activations(self) -> int:
        """Hidden activations of one training step (members × padded pairs × K): the work that sets how many threads pay off."""
        return self._train.features.numel()

    def member(self, index: int) -> TwoLayerNet:
        """Member ``index`` as a standalone :class:`TwoLayerNet` on CPU."""
        net = TwoLayerNet(self.modulus, self.hidden, self.activation, inputs=self.inputs)
        with torch.no_grad():
            net.W.copy_(self.columns[index].t())
            net.V.copy_(self.V[index])
        return net

    def _features(self, batch: _StackedPairs) -> torch.Tensor:
        """σ(W x) for every member and pair; the pre-activations W x are kept in ``batch.pre``.

        The one-hot product W x is the sum of the T token columns: one ``embedding_bag`` pass.
        """
        flat = self.columns.view(-1, self.hidden)
        batch.pre = F.embedding_bag(batch.rows, flat, mode="sum").view(batch.features.shape)
        if self.activation == "x2":
            return torch.mul(batch.pre, batch.pre, out=batch.features)
        return batch.features.copy_(self.sigma(batch.pre))

    def forward_backward(self) -> torch.Tensor:
        """Each member's training loss, shape (S,); the gradients are kept for :meth:`step`, the outputs for :meth:`metrics`."""
        batch = self._train
        with torch.no_grad():
            features = self._features(batch)
            outputs = torch.bmm(features, self.V.transpose(1, 2))
        outputs.requires_grad_(True)
        with torch.enable_grad():
            per_member = _member_losses(outputs, batch, self.losses)
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
        self._last = (per_member.detach(), outputs.detach(), [grad_columns, grad_v])
        return self._last[0]

    def _last_pass(self) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        if self._last is None:
            raise RuntimeError("call forward_backward() first: metrics() and step() use its outputs and gradients at the current weights")
        return self._last

    @torch.no_grad()
    def metrics(self) -> torch.Tensor:
        """Train loss, train accuracy, test loss and test accuracy of each member, shape (S, 4), at the current weights."""
        loss, outputs, _ = self._last_pass()
        test_outputs = torch.bmm(self._features(self._test), self.V.transpose(1, 2))
        test_loss, test_acc = _member_losses(test_outputs, self._test, self.losses), _accuracy(test_outputs, self._test)
        return torch.stack([loss, _accuracy(outputs, self._train), test_loss, test_acc], dim=1)

    @torch.no_grad()
    def step(self) -> None:
        """One optimizer update of every member, with the gradients of the last :meth:`forward_backward`."""
        _, _, grads = self._last_pass()
        self._last = None  # the weights move: outputs and gradients go stale
        self.step_count += 1
        s = self._settings
        layers = zip((self.columns, self.V), grads, self._states, (s.hidden_lr, s.lr), self._updates, strict=True)
        for weight, grad, state, lr, (_, update) in layers:
            update(weight, grad, state, lr, s, self.step_count)

    def retire(self, done: Sequence[bool]) -> None:
        """Drop the members flagged in ``done`` (one flag per member in the stack), so they stop costing compute.

        Weights, optimizer state, settings, data and the pending gradients all shrink together.
        """
        flags = [check_bool("done", flag) for flag in _one_each("done", done, len(self.members))]
        keep = [slot for slot, flag in enumerate(flags) if not flag]
        if len(keep) == len(flags):
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.V.device)
        self.members = [self.members[slot] for slot in keep]
        self.losses = [self.losses[slot] for slot in keep]
        self.columns, self.V = self.columns[index], self.V[index]
        self._states = [_kept(state, index) for state in self._states]
        self._settings = _kept(self._settings, index)
        self._train.keep(index)
        self._test.keep(index)
        if self._last is not None:
            loss, outputs, grads = self._last
            self._last = (loss[index], outputs[index], [g[index] for g in grads])


def _check_members(models: object, splits: object) -> tuple[list[TwoLayerNet], list[Split]]:
    """``models`` and ``splits`` as lists: one split per model, every model of one architecture, every split of its task."""
    models = check_sequence("models", models, what="TwoLayerNet")
    if not all(isinstance(m, TwoLayerNet) for m in models):
        raise TypeError(f"models must be TwoLayerNet instances, got {sorted({type(m).__name__ for m in models})}")
    first = models[0]
    if any((m.modulus, m.hidden, m.activation, m.inputs) != (first.modulus, first.hidden, first.activation, first.inputs) for m in models):
        raise ValueError("ensemble members must share modulus, hidden, activation and inputs")
    splits = _one_each("splits", splits, len(models))
    if not all(isinstance(s, Split) for s in splits):
        raise TypeError(f"splits must be Split instances, got {sorted({type(s).__name__ for s in splits})}")
    if any(s.modulus != first.modulus or s.train_pairs.shape[1] != first.inputs for s in splits):
        raise ValueError(f"splits must have modulus {first.modulus} and {first.inputs} inputs per pair, like the models")
    return models, splits


def _one_each(name: str, values: object, count: int) -> list:
    """``values`` as a list with one entry per member; raise naming ``name`` otherwise."""
    values = check_sequence(name, values, what="entries, one per member")
    if len(values) != count:
        raise ValueError(f"{name} must hold one entry per member ({count}), got {len(values)}")
    return values


def _per_member(name: str, values: object, count: int, device: torch.device, *, positive: bool = False) -> torch.Tensor:
    """One number ≥ 0 (> 0 if ``positive``) per member as an ``(S, 1, 1)`` tensor that broadcasts over the weights."""
    numbers = [check_float(name, v, minimum=0, open_min=positive) for v in _one_each(name, values, count)]
    return torch.tensor(numbers, dtype=torch.get_default_dtype(), device=device).view(-1, 1, 1)


def _adam(weight: torch.Tensor, grad: torch.Tensor, state: _AdamMoments, lr: torch.Tensor, s: _MemberSettings, step: int) -> None:
    """Adam (coupled L2) or AdamW (decoupled), as ``torch.optim`` computes them."""
    beta1, beta2 = BETAS
    correction1 = 1 - beta1**step
    correction2_sqrt = math.sqrt(1 - beta2**step)
    grad.add_(weight * (s.weight_decay * (1 - s.decoupled)))
    weight.mul_(1 - lr * s.weight_decay * s.decoupled)
    state.first.lerp_(grad, 1 - beta1)
    state.second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denom = (state.second.sqrt() / correction2_sqrt).add_(EPS)
    weight.sub_(state.first / denom * (lr / correction1))


def _sgd(weight: torch.Tensor, grad: torch.Tensor, state: _Momentum, lr: torch.Tensor, s: _MemberSettings, step: int) -> None:
    """Heavy-ball SGD with L2 weight decay, as ``torch.optim.SGD``: the first step starts the buffer at the gradient."""
    grad.add_(weight * s.weight_decay)
    if step == 1:
        state.buffer.copy_(grad)
    else:
        state.buffer.mul_(MOMENTUM).add_(grad)
    weight.sub_(state.buffer * lr)


def _muon(weight: torch.Tensor, grad: torch.Tensor, state: _Momentum, lr: torch.Tensor, s: _MemberSettings, step: int) -> None:
    """Muon on the hidden layer: Nesterov momentum, orthogonalized, with decoupled weight decay.

    Every singular value of the update is pushed towards 1, so directions (here: features) that
    the raw gradient barely touches move as fast as the dominant ones.
    """
    state.buffer.lerp_(grad, 1 - MOMENTUM)
    update = _orthogonalize(grad.lerp_(state.buffer, MOMENTUM))
    rows, cols = weight.shape[2], weight.shape[1]  # W is (K, T·M); ``columns`` stores Wᵀ
    weight.mul_(1 - lr * s.weight_decay)
    weight.sub_(update * (lr * max(1.0, rows / cols) ** 0.5))


_RULES: dict[str, tuple[type, Callable[..., None]]] = {"adam": (_AdamMoments, _adam), "sgd": (_Momentum, _sgd), "muon": (_Momentum, _muon)}
"""Each update rule of :data:`UPDATE_RULES` with the state it keeps per stacked weight."""


def _orthogonalize(matrices: torch.Tensor, iterations: int = 5) -> torch.Tensor:
    """Approximately U Vᵀ for each matrix U S Vᵀ of the stack ``(S, p, q)``, by Newton–Schulz iteration."""
    a, b, c = NEWTON_SCHULZ
    tall = matrices.shape[1] > matrices.shape[2]
    x = matrices.transpose(1, 2) if tall else matrices
    x = x / (x.norm(dim=(1, 2), keepdim=True) + 1e-7)
    for _ in range(iterations):
        gram = x @ x.transpose(1, 2)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.transpose(1, 2) if tall else x


def _member_losses(outputs: torch.Tensor, batch: _StackedPairs, losses: Sequence[str]) -> torch.Tensor:
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


def _accuracy(outputs: torch.Tensor, batch: _StackedPairs) -> torch.Tensor:
    return ((outputs.argmax(dim=2) == batch.labels).float() * batch.mask).sum(dim=1) / batch.counts
