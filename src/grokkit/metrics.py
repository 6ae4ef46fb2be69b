"""Quantities read off a training history, a trained network or a sweep."""

from __future__ import annotations

import pandas as pd
import torch

from ._validate import check_float, check_int, check_pairs
from .models import TwoLayerNet

HISTORY_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


def first_step_reaching(history: pd.DataFrame, column: str, threshold: float) -> int | None:
    """The first recorded step at which ``column`` ≥ ``threshold``, or ``None`` if it never does.

    With an evaluation interval of e steps the true crossing lies in the e steps before the result.
    """
    if not isinstance(history, pd.DataFrame) or "step" not in history.columns:
        raise TypeError("history must be a pandas DataFrame with a 'step' column, as train() returns")
    if column not in history.columns:
        raise ValueError(f"column must be one of {sorted(set(history.columns) - {'step'})}, got {column!r}")
    threshold = check_float("threshold", threshold)
    reached = history.loc[history[column] >= threshold, "step"]
    return None if reached.empty else int(reached.iloc[0])


def hidden_weights(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """The hidden layer as a ``(K, 2M)`` tensor (row j: node j's weights on a, then on b)."""
    if isinstance(network, TwoLayerNet):
        return network.W.detach()
    if isinstance(network, torch.Tensor) and network.dtype.is_floating_point and network.dim() == 2 and network.shape[1] % 2 == 0:
        return network.detach()
    raise TypeError("network must be a TwoLayerNet or a float tensor of shape (K, 2M)")


def node_spectrum(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """Weight power of each hidden node per frequency k = 0 … ⌊M/2⌋, shape ``(K, ⌊M/2⌋ + 1)``.

    Node j's weights on a and on b (and on a hint, if any) are length-M vectors; the power at k adds
    their discrete-Fourier power at k and at M − k, so each row sums to the node's squared weight norm.
    A bare tensor is read as weights on a and b.
    """
    weights = hidden_weights(network)
    m = network.modulus if isinstance(network, TwoLayerNet) else weights.shape[1] // 2
    power = torch.fft.rfft(weights.reshape(weights.shape[0], -1, m), dim=-1).abs().pow(2).sum(dim=1) / m
    power[:, 1 : (m + 1) // 2] *= 2  # k and M − k carry the same power for real weights
    return power


def frequency_concentration(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """Per hidden node, the fraction of its weight power in its strongest non-constant frequency, ``(K,)``.

    A node that has become a Fourier feature scores near 1; a random node scores a few percent.
    """
    power = node_spectrum(network)
    return power[:, 1:].max(dim=1).values / power.sum(dim=1).clamp_min(1e-30)


def dominant_frequency(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """Per hidden node, the non-constant frequency k ∈ 1 … ⌊M/2⌋ that carries most of its power, ``(K,)``."""
    return node_spectrum(network)[:, 1:].argmax(dim=1) + 1


def distinct_frequencies(network: TwoLayerNet | torch.Tensor, concentration: float = 0.5) -> int:
    """How many different frequencies the network has learned: dominant frequencies of the nodes whose
    concentration is at least ``concentration``."""
    concentration = check_float("concentration", concentration, minimum=0, maximum=1)
    learned = frequency_concentration(network) >= concentration
    return int(dominant_frequency(network)[learned].unique().numel())


def weight_distance(model: TwoLayerNet, start: TwoLayerNet) -> dict[str, float]:
    """How far each layer has moved from ``start``, relative to its size there: ‖W − W₀‖/‖W₀‖, same for V."""
    for name, net in (("model", model), ("start", start)):
        if not isinstance(net, TwoLayerNet):
            raise TypeError(f"{name} must be a TwoLayerNet, got {type(net).__name__}")
    if (model.modulus, model.hidden) != (start.modulus, start.hidden):
        raise ValueError(f"model and start differ in shape: {(model.modulus, model.hidden)} vs {(start.modulus, start.hidden)}")
    with torch.no_grad():
        return {
            layer: float((getattr(model, layer) - getattr(start, layer)).norm() / getattr(start, layer).norm().clamp_min(1e-30))
            for layer in ("W", "V")
        }


def critical_n(results: pd.DataFrame, *, majority: float = 0.5) -> pd.DataFrame:
    """Per modulus, the smallest ``n_train`` from which more than ``majority`` of the seeds generalise.

    ``results`` is a :func:`grokkit.sweep` table; a run generalises when it has a ``generalised_step``
    (test accuracy ≥ 99 % within its budget). The critical n is the smallest tested n such that it and
    every larger tested n pass; it is missing (NaN) when the largest n does not pass.
    """
    missing = {"modulus", "n_train", "seed", "generalised_step"} - set(results.columns)
    if missing:
        raise ValueError(f"results lacks the columns {sorted(missing)}; pass a grokkit.sweep table")
    majority = check_float("majority", majority, minimum=0, maximum=1, open_max=True)
    share = results.assign(ok=results["generalised_step"].notna()).groupby(["modulus", "n_train"])["ok"].mean()
    rows = []
    for modulus, by_n in share.groupby(level="modulus"):
        passing = (by_n.droplevel("modulus") > majority)[::-1].cummin()[::-1]  # n and all larger n pass
        rows.append({"modulus": modulus, "critical_n": int(passing.idxmax()) if passing.any() else None})
    return pd.DataFrame(rows)


def effective_rank(matrix: torch.Tensor) -> float:
    """exp of the entropy of the normalised singular values (Roy & Vetterli 2007): how many directions
    the matrix really uses; between 1 and min(shape)."""
    if not isinstance(matrix, torch.Tensor) or matrix.dim() != 2 or not matrix.dtype.is_floating_point:
        raise TypeError("matrix must be a 2-D float tensor")
    s = torch.linalg.svdvals(matrix.detach().double())
    p = s / s.sum().clamp_min(1e-300)
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) of two representations of the same inputs,
    ``(n, d₁)`` and ``(n, d₂)``: 1 when one is a rotation and scaling of the other, near 0 when unrelated."""
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or not t.dtype.is_floating_point:
            raise TypeError(f"{name} must be a 2-D float tensor (inputs × features)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must describe the same inputs, got {x.shape[0]} and {y.shape[0]} rows")
    x = (x - x.mean(dim=0)).double()
    y = (y - y.mean(dim=0)).double()
    cross = (y.t() @ x).pow(2).sum()
    return float(cross / ((x.t() @ x).norm() * (y.t() @ y).norm()).clamp_min(1e-300))


def accuracy(model: torch.nn.Module, pairs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``pairs`` whose largest output is the label, for any model that maps pairs to outputs."""
    with torch.no_grad():
        return float((model(pairs).argmax(dim=1) == labels).float().mean())


def prediction_table(model: torch.nn.Module, modulus: int) -> torch.Tensor:
    """The model's answer for every pair as an ``(M, M)`` table: entry [a, b] is its prediction for (a, b)."""
    modulus = check_int("modulus", modulus, minimum=2)
    a = torch.arange(modulus).repeat_interleave(modulus)
    b = torch.arange(modulus).repeat(modulus)
    with torch.no_grad():
        return model(torch.stack([a, b], dim=1)).argmax(dim=1).view(modulus, modulus)


def _check_table(table: torch.Tensor) -> int:
    if not isinstance(table, torch.Tensor) or table.dim() != 2 or table.shape[0] != table.shape[1] or table.dtype.is_floating_point:
        raise TypeError("table must be an (M, M) integer tensor from prediction_table")
    return table.shape[0]


def commutativity(table: torch.Tensor, train_pairs: torch.Tensor) -> float:
    """Share of pairs (a, b) whose swap (b, a) was not trained on, although (a, b) was, where the model
    gives the same answer to both: f(b, a) = f(a, b) is the same question in other words."""
    m = _check_table(table)
    trained = torch.zeros(m, m, dtype=torch.bool)
    trained[check_pairs("train_pairs", train_pairs, m).unbind(dim=1)] = True
    one_order = trained & ~trained.t()
    if not one_order.any():
        raise ValueError("no training pair has its swap missing from training, so commutativity cannot be tested")
    return float((table == table.t())[one_order].float().mean())


def shift_equivariance(table: torch.Tensor) -> float:
    """Share of triples (a, b, k) with f(a + k, b) = f(a, b) + k (mod M), over all a, b and k ≠ 0: moving
    the first argument by k should move the answer by k."""
    m = _check_table(table)
    shifted = torch.stack([table.roll(-k, dims=0) for k in range(1, m)])  # [k-1, a, b] = f(a + k, b)
    expected = (table.unsqueeze(0) + torch.arange(1, m).view(-1, 1, 1)) % m
    return float((shifted == expected).float().mean())


def circularity(points: torch.Tensor) -> float:
    """Spread of 2-D points' distances from their centre, std / mean: 0 for points on a circle, about
    0.5 for a Gaussian cloud."""
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] != 2 or not points.dtype.is_floating_point:
        raise TypeError("points must be an (n, 2) float tensor")
    radius = (points - points.mean(dim=0)).double().norm(dim=1)
    return float(radius.std() / radius.mean().clamp_min(1e-300))
