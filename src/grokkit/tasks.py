"""Group-arithmetic datasets: every pair (a, b) of Z_M with its label a ∘ b mod M, split by a seed.

The whole table has at most M² rows, so it is built eagerly as two small tensors; a split is a seeded
permutation of its rows, which makes train and test disjoint by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._validate import check_choice, check_float, check_int, check_labels, check_memory, check_pairs

OPERATIONS = ("add", "sub", "mul", "div")
"""Binary operations mod M. ``div`` is a·b⁻¹ and is defined only for b coprime to M."""

BYTES_PER_PAIR = 96
"""Peak memory of a split per pair of the table: the pairs, their labels, the permutation and the
train/test copies, as int64 (a generous estimate, used to refuse a modulus too big for memory)."""


@dataclass(frozen=True)
class Split:
    """A train/test split of one task. Pairs are ``(n, 2)`` int64 tensors, labels ``(n,)``."""

    modulus: int
    train_pairs: torch.Tensor
    train_labels: torch.Tensor
    test_pairs: torch.Tensor
    test_labels: torch.Tensor

    def __post_init__(self) -> None:
        check_int("modulus", self.modulus, minimum=2)
        width = self.train_pairs.shape[1] if isinstance(self.train_pairs, torch.Tensor) and self.train_pairs.dim() == 2 else 2
        if width not in (2, 3):
            raise ValueError(f"train_pairs must have 2 columns (a, b) or 3 (a, b, hint), got {width}")
        for part in ("train", "test"):
            pairs = check_pairs(f"{part}_pairs", getattr(self, f"{part}_pairs"), self.modulus, width)
            if pairs.shape[0] == 0:
                raise ValueError(f"{part}_pairs must hold at least one pair, so that {part} accuracy is defined")
            check_labels(f"{part}_labels", getattr(self, f"{part}_labels"), self.modulus, pairs.shape[0])

    @property
    def n_train(self) -> int:
        return int(self.train_labels.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.test_labels.shape[0])


@dataclass(frozen=True)
class ModularTask:
    """The table of ``a ∘ b mod modulus`` over all valid pairs, e.g. ``ModularTask(71, "add")``."""

    modulus: int
    operation: str = "add"

    def __post_init__(self) -> None:
        check_int("modulus", self.modulus, minimum=2)
        check_choice("operation", self.operation, OPERATIONS)
        m = self.modulus
        check_memory(f"modulus={m} (a table of {m}² = {m * m} pairs)", BYTES_PER_PAIR * m * m)

    def pairs(self) -> torch.Tensor:
        """All valid pairs as an ``(N, 2)`` int64 tensor, in row-major order of (a, b)."""
        m = self.modulus
        a = torch.arange(m).repeat_interleave(m)
        b = torch.arange(m).repeat(m)
        if self.operation == "div":
            keep = self._invertible()[b]
            a, b = a[keep], b[keep]
        return torch.stack([a, b], dim=1)

    def _invertible(self) -> torch.Tensor:
        """Whether each x in Z_M has an inverse mod M (is coprime to M), shape ``(M,)``."""
        return torch.tensor([math.gcd(x, self.modulus) == 1 for x in range(self.modulus)])

    def labels(self, pairs: torch.Tensor | None = None) -> torch.Tensor:
        """The label ``a ∘ b mod M`` of each pair (all pairs if none are given)."""
        pairs = self.pairs() if pairs is None else check_pairs("pairs", pairs, self.modulus)
        a, b, m = pairs[:, 0], pairs[:, 1], self.modulus
        if self.operation == "div" and pairs.numel() and not bool(self._invertible()[b].all()):
            bad = int(b[~self._invertible()[b]][0])
            raise ValueError(f"pairs must have b coprime to modulus={m} for operation 'div' (b has no inverse otherwise), got b={bad}")
        if self.operation == "add":
            return (a + b) % m
        if self.operation == "sub":
            return (a - b) % m
        if self.operation == "mul":
            return (a * b) % m
        inverse = torch.tensor([pow(x, -1, m) if math.gcd(x, m) == 1 else 0 for x in range(m)])
        return (a * inverse[b]) % m

    @property
    def size(self) -> int:
        """Number of valid pairs N (M² except for division, where b must be coprime to M)."""
        if self.operation == "div":
            return self.modulus * int(self._invertible().sum())
        return self.modulus * self.modulus

    def split(
        self,
        *,
        n_train: int | None = None,
        train_fraction: float | None = None,
        seed: int = 0,
    ) -> Split:
        """Split the table into ``n_train`` training pairs (or a fraction of all pairs) and the rest.

        The same ``seed`` always gives the same split; give exactly one of ``n_train`` and
        ``train_fraction``. Both sets are non-empty, so test accuracy is always defined.
        """
        total = self.size
        if (n_train is None) == (train_fraction is None):
            raise ValueError("give exactly one of n_train and train_fraction")
        if train_fraction is not None:
            train_fraction = check_float("train_fraction", train_fraction, minimum=0, maximum=1, open_min=True, open_max=True)
            n_train = round(train_fraction * total)
            if not 1 <= n_train < total:
                raise ValueError(
                    f"train_fraction={train_fraction} gives {n_train} of {total} pairs; it must leave at least one training and one test pair"
                )
        n_train = check_int("n_train", n_train, minimum=1, maximum=total - 1)
        seed = check_int("seed", seed, minimum=0)
        pairs = self.pairs()
        labels = self.labels(pairs)
        order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
        train, test = order[:n_train], order[n_train:]
        return Split(self.modulus, pairs[train], labels[train], pairs[test], labels[test])
