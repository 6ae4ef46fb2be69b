"""Quantities read off a training history, a trained network or a sweep."""

from __future__ import annotations

import pandas as pd
import torch

from ._validate import check_float
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

    Node j's weights on a and on b are two length-M vectors; the power at k adds both vectors'
    discrete-Fourier power at k and at M − k, so each row sums to the node's squared weight norm.
    """
    weights = hidden_weights(network)
    m = weights.shape[1] // 2
    power = torch.fft.rfft(weights.reshape(-1, 2, m), dim=-1).abs().pow(2).sum(dim=1) / m
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
