"""The two-layer network of the Li₂ paper (Tian 2025) on one-hot encoded pairs.

Input x = [onehot(a); onehot(b)] ∈ R^{2M}; hidden F = σ(W x) with W ∈ R^{K×2M}; output V F with
V ∈ R^{M×K}; no biases. Because x is one-hot, W x is the sum of two columns of W, so the first layer
is computed as a gather (and its backward pass as a scatter-add) instead of a dense product.
With ``inputs=3`` a third one-hot token is appended (W ∈ R^{K×3M}): a spurious hint, for shortcuts.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ._validate import check_choice, check_float, check_int, check_memory, check_pairs


def _square(z: torch.Tensor) -> torch.Tensor:
    return z * z


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "x2": _square,
    "relu": torch.relu,
    "silu": nn.functional.silu,
}
"""σ by name: ``x2`` (σ(z) = z², the Li₂ analysis), ``relu``, ``silu``."""


def _default_linear_init(out_features: int, in_features: int, generator: torch.Generator) -> torch.Tensor:
    """PyTorch's default ``nn.Linear`` weight: U(-1/√fan_in, 1/√fan_in), drawn from ``generator``."""
    bound = 1.0 / math.sqrt(in_features)
    weight = torch.empty(out_features, in_features)
    return weight.uniform_(-bound, bound, generator=generator)


class TwoLayerNet(nn.Module):
    """σ(W x) → V, with ``hidden`` nodes and ``inputs`` one-hot tokens (a, b and optionally a hint);
    ``top_init_scale`` multiplies V's initial weights (0 allowed)."""

    def __init__(
        self,
        modulus: int,
        hidden: int,
        activation: str = "x2",
        *,
        inputs: int = 2,
        top_init_scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.modulus = check_int("modulus", modulus, minimum=2)
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.inputs = check_int("inputs", inputs, minimum=1)
        top_init_scale = check_float("top_init_scale", top_init_scale, minimum=0.0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be None or a torch.Generator, got {type(generator).__name__}")
        weights = (self.inputs + 1) * modulus * hidden  # W is K × (inputs·M), V is M × K
        check_memory(
            f"modulus={modulus}, hidden={hidden} and inputs={inputs} ({weights} weights)", 2 * weights * torch.get_default_dtype().itemsize
        )  # the weights and one temporary copy
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.W = nn.Parameter(_default_linear_init(hidden, self.inputs * modulus, generator))
        self.V = nn.Parameter(_default_linear_init(modulus, hidden, generator) * top_init_scale)
        self._sigma = ACTIVATIONS[activation]

    def pre_activation(self, pairs: torch.Tensor) -> torch.Tensor:
        """W x for each input, shape ``(n, K)``: column a plus column M + b of W (plus 2M + h with a hint)."""
        check_pairs("pairs", pairs, self.modulus, self.inputs)
        columns = self.W.t()
        total = columns[pairs[:, 0]]
        for t in range(1, self.inputs):
            total = total + columns[pairs[:, t] + t * self.modulus]
        return total

    def features(self, pairs: torch.Tensor) -> torch.Tensor:
        """Hidden representation F = σ(W x), shape ``(n, K)``."""
        return self._sigma(self.pre_activation(pairs))

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """Outputs V F, shape ``(n, M)``."""
        return self.features(pairs) @ self.V.t()
