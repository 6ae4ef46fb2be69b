"""Quantities read off a training history, a trained network or a sweep."""

from __future__ import annotations

import pandas as pd
import torch
from scipy.stats import binomtest

from ._validate import (
    INT64_MAX,
    check_float,
    check_float_tensor,
    check_frame,
    check_int,
    check_labels,
    check_memory,
    check_nonzero,
    check_pairs,
)
from .models import TwoLayerNet

HISTORY_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


def first_step_reaching(history: pd.DataFrame, column: str, threshold: float) -> int | None:
    """The first recorded step at which ``column`` ≥ ``threshold``, or ``None`` if it never does.

    With an evaluation interval of e steps the true crossing lies in the e steps before the result.
    An accuracy (a column named ``*acc``) or a true/false column is reached at a threshold in [0, 1].
    """
    if not isinstance(history, pd.DataFrame) or "step" not in history.columns:
        raise TypeError("history must be a pandas DataFrame with a 'step' column, as train() returns")
    allowed = sorted(str(c) for c in set(history.columns) - {"step"})
    if not isinstance(column, str) or column == "step" or column not in history.columns:
        raise ValueError(f"column must be one of {allowed}, got {column!r}")
    check_frame("history", history, what="one row per recorded step")
    values = history[column]
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        raise ValueError(f"column {column!r} of history must hold numbers, got dtype {values.dtype}")
    if values.isna().any() or history["step"].isna().any():
        raise ValueError(f"history must not have missing (NaN) values in 'step' or {column!r}")
    if pd.api.types.is_bool_dtype(values) or column.endswith("acc"):
        threshold = check_float("threshold", threshold, minimum=0, maximum=1)
    else:
        threshold = check_float("threshold", threshold)
    reached = history.loc[history[column] >= threshold, "step"]
    return None if reached.empty else int(reached.iloc[0])


def hidden_weights(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """The hidden layer as a ``(K, 2M)`` tensor (row j: node j's weights on a, then on b)."""
    if isinstance(network, TwoLayerNet):
        return check_float_tensor("network", network.W.detach(), dim=2, shape="(K, 2M)")
    if isinstance(network, torch.Tensor) and network.dtype.is_floating_point and network.dim() == 2 and network.shape[1] % 2 == 0:
        if network.shape[1] < 4:
            raise ValueError(f"network must have shape (K, 2M) with M >= 2, got {tuple(network.shape)}")
        return check_float_tensor("network", network.detach(), dim=2, shape="(K, 2M)")
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

    A node that has become a Fourier feature scores near 1; a random node scores a few percent. A node
    with all-zero weights has no concentration and is refused.
    """
    power = _nonzero_spectrum(network)
    return power[:, 1:].max(dim=1).values / power.sum(dim=1)


def _nonzero_spectrum(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """:func:`node_spectrum`, refusing a network with a hidden node whose weights are all zero."""
    power = node_spectrum(network)
    zero = (power.sum(dim=1) == 0).nonzero().flatten()
    if zero.numel():
        raise ValueError(f"network has hidden node(s) {zero[:5].tolist()} with all-zero weights, whose frequency content is undefined")
    return power


VARYING = 1e-9
"""A node whose non-constant power is below this share of its power is constant up to round-off."""


def _varying(power: torch.Tensor) -> torch.Tensor:
    """Which nodes have power at a non-constant frequency beyond float round-off (``power`` from :func:`node_spectrum`)."""
    return power[:, 1:].sum(dim=1) > VARYING * power.sum(dim=1)


def dominant_frequency(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """Per hidden node, the non-constant frequency k ∈ 1 … ⌊M/2⌋ that carries most of its power, ``(K,)``.

    A node with no power at any non-constant frequency (all zero, or constant) has none and is refused.
    """
    power = node_spectrum(network)
    flat = (~_varying(power)).nonzero().flatten()
    if flat.numel():
        raise ValueError(f"network has hidden node(s) {flat[:5].tolist()} with no power at any non-constant frequency, so no dominant frequency")
    return power[:, 1:].argmax(dim=1) + 1


def distinct_frequencies(network: TwoLayerNet | torch.Tensor, concentration: float = 0.5) -> int:
    """How many different frequencies the network has learned: dominant frequencies of the nodes whose
    concentration is at least ``concentration`` (a node without non-constant power has learned none)."""
    concentration = check_float("concentration", concentration, minimum=0, maximum=1)
    power = _nonzero_spectrum(network)
    learned = _varying(power) & (power[:, 1:].max(dim=1).values / power.sum(dim=1) >= concentration)
    return int((power[:, 1:].argmax(dim=1) + 1)[learned].unique().numel())


def weight_distance(model: TwoLayerNet, start: TwoLayerNet) -> dict[str, float]:
    """How far each layer has moved from ``start``, relative to its size there: ‖W − W₀‖/‖W₀‖, same for V."""
    for name, net in (("model", model), ("start", start)):
        if not isinstance(net, TwoLayerNet):
            raise TypeError(f"{name} must be a TwoLayerNet, got {type(net).__name__}")
    if (model.modulus, model.hidden, model.inputs) != (start.modulus, start.hidden, start.inputs):
        raise ValueError(
            f"model and start differ in shape (modulus, hidden, inputs): {(model.modulus, model.hidden, model.inputs)} vs {(start.modulus, start.hidden, start.inputs)}"
        )
    with torch.no_grad():
        for layer in ("W", "V"):
            check_float_tensor(f"model.{layer}", getattr(model, layer))
            check_nonzero(f"start.{layer}", check_float_tensor(f"start.{layer}", getattr(start, layer)), "the distance relative to it")
        return {layer: float((getattr(model, layer) - getattr(start, layer)).norm() / getattr(start, layer).norm()) for layer in ("W", "V")}


def critical_n(results: pd.DataFrame, *, majority: float = 0.5) -> pd.DataFrame:
    """Per modulus, the smallest ``n_train`` from which more than ``majority`` of the seeds generalise.

    ``results`` is a :func:`grokkit.sweep` table; a run generalises when it has a ``generalised_step``
    (test accuracy ≥ 99 % within its budget). The critical n is the smallest tested n such that it and
    every larger tested n pass; it is missing (NaN) when the largest n does not pass.
    """
    check_frame("results", results, ["modulus", "n_train", "seed", "generalised_step"], what="a grokkit.sweep table")
    if results[["modulus", "n_train"]].isna().any().any():
        raise ValueError("results must not have missing (NaN) values in modulus or n_train")
    majority = check_float("majority", majority, minimum=0, maximum=1, open_max=True)
    share = results.assign(ok=results["generalised_step"].notna()).groupby(["modulus", "n_train"])["ok"].mean()
    rows = []
    for modulus, by_n in share.groupby(level="modulus"):
        passing = (by_n.droplevel("modulus") > majority)[::-1].cummin()[::-1]  # n and all larger n pass
        rows.append({"modulus": modulus, "critical_n": int(passing.idxmax()) if passing.any() else None})
    return pd.DataFrame(rows)


def shares(table: pd.DataFrame, by: str | list[str], outcome: str, *, level: float = 0.95) -> pd.DataFrame:
    """Per group of ``by``, the share of runs whose true/false column ``outcome`` is true, with a Wilson
    score interval at ``level``: a share of seeds is a binomial proportion, and a few seeds leave it wide.
    Columns: ``by``, ``runs``, ``successes``, ``share``, ``low``, ``high``."""
    keys = [by] if isinstance(by, str) else list(by)
    check_frame("table", table, [*keys, outcome])
    if not table[outcome].isin([True, False]).all():
        raise ValueError(f"table[{outcome!r}] must hold only True and False, got {sorted(map(str, table[outcome].unique()))[:5]}")
    level = check_float("level", level, minimum=0, maximum=1, open_min=True, open_max=True)
    rows = []
    for group, runs in table.groupby(keys):
        k, n = int(runs[outcome].sum()), len(runs)
        interval = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        rows.append({**dict(zip(keys, group)), "runs": n, "successes": k, "share": k / n,
                     "low": float(interval.low), "high": float(interval.high)})
    return pd.DataFrame(rows)


def effective_rank(matrix: torch.Tensor) -> float:
    """exp of the entropy of the normalised singular values (Roy & Vetterli 2007): how many directions
    the matrix really uses; between 1 and min(shape)."""
    if not isinstance(matrix, torch.Tensor) or matrix.dim() != 2 or not matrix.dtype.is_floating_point:
        raise TypeError("matrix must be a 2-D float tensor")
    check_nonzero("matrix", check_float_tensor("matrix", matrix, dim=2), "its effective rank")
    s = torch.linalg.svdvals(matrix.detach().double())
    p = s / s.sum()
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
    centred = []
    for name, t in (("x", x), ("y", y)):
        t = check_float_tensor(name, t, dim=2).detach().double()
        t = t - t.mean(dim=0)
        if not bool(t.ne(0).any()):
            raise ValueError(f"{name} is the same for every input (all zero after centring), so its CKA is undefined; pass features that vary")
        centred.append(t)
    x, y = centred
    cross = (y.t() @ x).pow(2).sum()
    return float(cross / ((x.t() @ x).norm() * (y.t() @ y).norm()))


def accuracy(model: torch.nn.Module, pairs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``pairs`` whose largest output is the label, for any model that maps pairs to outputs."""
    if not callable(model):
        raise TypeError(f"model must be a torch.nn.Module that maps pairs to outputs, got {type(model).__name__}")
    modulus = getattr(model, "modulus", None)
    pairs = check_pairs("pairs", pairs, modulus if isinstance(modulus, int) else INT64_MAX, getattr(model, "inputs", 2))
    if pairs.shape[0] == 0:
        raise ValueError("pairs must hold at least one pair, so that accuracy is defined")
    with torch.no_grad():
        outputs = model(pairs)
    labels = check_labels("labels", labels, outputs.shape[1], pairs.shape[0])
    return float((outputs.argmax(dim=1) == labels).float().mean())


def prediction_table(model: torch.nn.Module, modulus: int) -> torch.Tensor:
    """The model's answer for every pair as an ``(M, M)`` table: entry [a, b] is its prediction for (a, b)."""
    modulus = check_int("modulus", modulus, minimum=2)
    if not callable(model):
        raise TypeError(f"model must be a torch.nn.Module that maps pairs to outputs, got {type(model).__name__}")
    check_memory(f"modulus={modulus} ({modulus}² pairs × {modulus} outputs)", 4 * modulus**3 + 48 * modulus**2)
    a = torch.arange(modulus).repeat_interleave(modulus)
    b = torch.arange(modulus).repeat(modulus)
    with torch.no_grad():
        return model(torch.stack([a, b], dim=1)).argmax(dim=1).view(modulus, modulus)


def _check_table(table: torch.Tensor) -> int:
    if not isinstance(table, torch.Tensor) or table.dim() != 2 or table.shape[0] != table.shape[1] or table.dtype.is_floating_point:
        raise TypeError("table must be an (M, M) integer tensor from prediction_table")
    m = table.shape[0]
    if m < 2:
        raise ValueError(f"table must be (M, M) with M >= 2, got {tuple(table.shape)}")
    if int(table.min()) < 0 or int(table.max()) >= m:
        raise ValueError(f"table entries must be answers in [0, {m - 1}], got values from {int(table.min())} to {int(table.max())}")
    return m


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
    check_memory(f"table of size {m} ({m}³ shifted entries)", 17 * m**3)
    shifted = torch.stack([table.roll(-k, dims=0) for k in range(1, m)])  # [k-1, a, b] = f(a + k, b)
    expected = (table.unsqueeze(0) + torch.arange(1, m).view(-1, 1, 1)) % m
    return float((shifted == expected).float().mean())


def circularity(points: torch.Tensor) -> float:
    """Spread of 2-D points' distances from their centre, std / mean: 0 for points on a circle, about
    0.5 for a Gaussian cloud."""
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] != 2 or not points.dtype.is_floating_point:
        raise TypeError("points must be an (n, 2) float tensor")
    check_float_tensor("points", points, dim=2, shape="(n, 2)")
    if points.shape[0] < 3:
        raise ValueError(f"points must hold at least 3 points to say whether they lie on a circle, got {points.shape[0]}")
    points = points.detach().double()  # centred in double, so that equal points give exactly zero
    radius = (points - points.mean(dim=0)).norm(dim=1)
    if not bool(radius.ne(0).any()):
        raise ValueError("points all coincide, so their spread around a circle is undefined")
    return float(radius.std() / radius.mean())
