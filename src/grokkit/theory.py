"""The quantities of the Li₂ framework (Tian 2025, arXiv 2509.21519), computed for a network and a split.

Notation: X holds the one-hot inputs of the n training pairs, F = σ(XWᵀ) the hidden features, Ỹ
the centred one-hot targets, F̃ = F with each column's mean over the pairs removed.

- G_F = −∂L/∂F, the backpropagated gradient: what the top layer asks of each hidden node.
- In stage II (top layer fitted, weight decay η > 0) G_F points along Ỹ Ỹᵀ F̃, so each node j moves
  independently along the gradient of the energy E(w) = ½‖Ỹᵀσ(Xw)‖² (‖w‖ = 1); the local maxima
  of E are the features that emerge.
- Fourier maxima stay maxima (and generalise) once n ≳ c·M ln M training pairs: the scaling law.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ._validate import check_choice, check_float, check_float_tensor, check_frame, check_int, check_memory, check_sequence
from .losses import LOSSES, centred_targets
from .metrics import distinct_frequencies, frequency_concentration, weight_distance
from .models import TwoLayerNet
from .tasks import ModularTask, Split
from .train import TrainResult


def _check_model_split(model: TwoLayerNet, split: Split) -> None:
    if not isinstance(model, TwoLayerNet):
        raise TypeError(f"model must be a TwoLayerNet, got {type(model).__name__}")
    if not isinstance(split, Split):
        raise TypeError(f"split must be a Split, got {type(split).__name__}")
    if model.modulus != split.modulus:
        raise ValueError(f"model is for modulus {model.modulus} but split for modulus {split.modulus}")
    if model.inputs != split.train_pairs.shape[1]:
        raise ValueError(f"model takes {model.inputs} inputs per pair but split has {split.train_pairs.shape[1]} (a hint is a third input)")


@torch.no_grad()
def backprop_gradient(model: TwoLayerNet, split: Split, loss: str = "mse") -> torch.Tensor:
    """G_F = −∂L/∂F on the training pairs, shape ``(n, K)``; L is the mean training loss."""
    _check_model_split(model, split)
    check_choice("loss", loss, LOSSES)
    features = model.features(split.train_pairs).detach()
    with torch.enable_grad():
        features.requires_grad_(True)
        value = LOSSES[loss](features @ model.V.detach().t(), split.train_labels).mean()
        (gradient,) = torch.autograd.grad(value, features)
    return -gradient


@torch.no_grad()
def li2_direction(model: TwoLayerNet, split: Split) -> torch.Tensor:
    """Ỹ Ỹᵀ F̃ on the training pairs, shape ``(n, K)``: the direction of G_F in stage II."""
    _check_model_split(model, split)
    features = model.features(split.train_pairs)
    centred = features - features.mean(dim=0)
    targets = centred_targets(split.train_labels, split.modulus)
    return targets @ (targets.t() @ centred)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two tensors of the same shape, read as flat vectors.

    A zero tensor (for example the gradient of a loss that is already zero) points nowhere; its cosine
    with anything is 0 by convention.
    """
    for name, t in (("a", a), ("b", b)):
        check_float_tensor(name, t)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-30))


def _energy_terms(w: torch.Tensor, split: Split) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pre-activations (S, n), Ỹᵀσ(Xw) (S, M) and Ỹ (n, M) for a stack of hidden weights w (S, 2M)."""
    m = split.modulus
    pre = w[:, split.train_pairs[:, 0]] + w[:, split.train_pairs[:, 1] + m]
    targets = centred_targets(split.train_labels, m)
    return pre, (pre * pre) @ targets, targets


def _check_weights(w: object, split: Split, name: str = "w") -> torch.Tensor:
    if not isinstance(split, Split):
        raise TypeError(f"split must be a Split, got {type(split).__name__}")
    if split.train_pairs.shape[1] != 2:
        raise ValueError("the energy E is defined for inputs (a, b); this split carries a hint as a third input")
    if not isinstance(w, torch.Tensor) or not w.dtype.is_floating_point:
        raise TypeError(f"{name} must be a float tensor of shape (S, {2 * split.modulus}), got {type(w).__name__}")
    if w.dim() != 2 or w.shape[1] != 2 * split.modulus:
        raise ValueError(f"{name} must have shape (S, {2 * split.modulus}) (one row per node: weights on a, then on b), got {tuple(w.shape)}")
    check_float_tensor(name, w, dim=2)
    zero = (w.norm(dim=1) == 0).nonzero().flatten()
    if zero.numel():
        raise ValueError(f"{name} has all-zero row(s) {zero[:5].tolist()}, which have no direction on the unit sphere; every row must be non-zero")
    return w


@torch.no_grad()
def energy(w: torch.Tensor, split: Split) -> torch.Tensor:
    """E(w) = ½‖Ỹᵀσ(Xw)‖² with σ(x) = x², for each row of ``w`` (S, 2M) scaled to unit norm; shape (S,)."""
    w = _check_weights(w, split)
    _, projected, _ = _energy_terms(w / w.norm(dim=1, keepdim=True), split)
    return 0.5 * projected.pow(2).sum(dim=1)


@torch.no_grad()
def ascend_energy(starts: torch.Tensor, split: Split, *, steps: int = 400, step_size: float = 0.3) -> torch.Tensor:
    """Projected gradient ascent of E on the unit sphere from each row of ``starts`` (S, 2M); the end points.

    Each step moves along the gradient's component tangent to the sphere, by an angle that decays
    geometrically from ``step_size`` to 1 % of it, then returns to the sphere. Rows are independent,
    as the nodes are in stage II.
    """
    w = _check_weights(starts, split, "starts")
    check_int("steps", steps, minimum=1)
    step_size = check_float("step_size", step_size, minimum=0, maximum=1, open_min=True)
    m = split.modulus
    first, second = split.train_pairs[:, 0], split.train_pairs[:, 1] + m
    w = w / w.norm(dim=1, keepdim=True)
    for t in range(steps):
        pre, projected, targets = _energy_terms(w, split)
        per_pair = 2 * pre * (projected @ targets.t())  # ∂E/∂(Xw) for σ(x) = x²
        grad = torch.zeros_like(w).index_add_(1, first, per_pair).index_add_(1, second, per_pair)
        tangent = grad - (grad * w).sum(dim=1, keepdim=True) * w
        size = step_size * 0.01 ** (t / max(steps - 1, 1))
        w = w + size * tangent / tangent.norm(dim=1, keepdim=True).clamp_min(1e-30)
        w = w / w.norm(dim=1, keepdim=True)
    return w


def fourier_feature(modulus: int, frequency: int, *, phases: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """The unit-norm node weights [cos(2πka/M + φ₁), cos(2πkb/M + φ₂)] of a Fourier feature, shape (2M,)."""
    check_int("modulus", modulus, minimum=3)
    check_int("frequency", frequency, minimum=1, maximum=modulus // 2)
    if not isinstance(phases, (tuple, list)) or len(phases) != 2:
        raise TypeError(f"phases must be a tuple of two numbers (φ₁, φ₂), got {phases!r}")
    phases = tuple(check_float("phases", p) for p in phases)
    check_memory(f"modulus={modulus}", 16 * modulus * torch.get_default_dtype().itemsize)
    x = torch.arange(modulus, dtype=torch.get_default_dtype()) * (2 * math.pi * frequency / modulus)
    w = torch.cat([torch.cos(x + phases[0]), torch.cos(x + phases[1])])
    return w / w.norm()


def predicted_critical_n(modulus: int | float | torch.Tensor, constant: float) -> float | torch.Tensor:
    """The Li₂ scaling law n_c = c · M ln M, for a modulus M >= 2 (or a tensor of them) and a constant c > 0."""
    constant = check_float("constant", constant, minimum=0, open_min=True)
    if isinstance(modulus, torch.Tensor):
        if not modulus.dtype.is_floating_point:
            modulus = modulus.to(torch.get_default_dtype())
        if modulus.numel() == 0 or not bool(torch.isfinite(modulus).all()) or bool((modulus < 2).any()):
            raise ValueError("modulus must hold finite values >= 2 (and at least one)")
    else:
        if isinstance(modulus, numbers.Real) and not isinstance(modulus, (bool, np.bool_)):
            modulus = float(modulus)  # a numpy scalar, as read from a DataFrame
        check_float("modulus", modulus, minimum=2)
    return constant * modulus * (torch.log(modulus) if isinstance(modulus, torch.Tensor) else math.log(modulus))


def pairs_for(modulus: int, multiple: float) -> int:
    """``multiple`` · M ln M training pairs, rounded and kept below the M² pairs there are.

    Sweeps measure data in units of the scaling law, so that one multiple means the same distance from
    the boundary for every modulus.
    """
    check_int("modulus", modulus, minimum=2)
    check_float("multiple", multiple, minimum=0, open_min=True)
    n = min(round(multiple * modulus * math.log(modulus)), modulus * modulus - 1)
    if n < 1:
        raise ValueError(f"multiple={multiple} gives {n} training pairs for modulus={modulus}; it must give at least 1")
    return n


def trajectory(result: TrainResult, loss: str | None = None) -> pd.DataFrame:
    """The Li₂ quantities at every snapshot of a run trained with ``snapshot_every``; one row per snapshot.

    Columns: ``step``; ``grad_norm`` ‖G_F‖; ``alignment``, the cosine between G_F and Ỹ Ỹᵀ F̃;
    ``moved_W`` / ``moved_V``, each layer's distance from its initial value relative to its initial
    norm; ``concentration_median`` and ``fourier_nodes`` (share of nodes with concentration ≥ 0.5);
    ``frequencies``, the number of distinct frequencies learned (see :mod:`grokkit.metrics`).
    """
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    if not result.snapshots:
        raise ValueError("result must be a TrainResult trained with snapshot_every set, so it has snapshots")
    loss = result.config.loss if loss is None else check_choice("loss", loss, LOSSES)
    start = result.snapshots[min(result.snapshots)]
    rows = []
    for step, net in sorted(result.snapshots.items()):
        gradient = backprop_gradient(net, result.split, loss)
        concentration = frequency_concentration(net)
        rows.append({
            "step": step,
            "grad_norm": float(gradient.norm()),
            "alignment": cosine(gradient, li2_direction(net, result.split)),
            **{f"moved_{layer}": value for layer, value in weight_distance(net, start).items()},
            "concentration_median": float(concentration.median()),
            "fourier_nodes": float((concentration >= 0.5).float().mean()),
            "frequencies": distinct_frequencies(net),
        })
    return pd.DataFrame(rows)


def stage_boundaries(path: pd.DataFrame, alignment: float = 0.8) -> tuple[int, int]:
    """The steps that end stage I and stage II, read off a :func:`trajectory`.

    Stage II starts when G_F first takes its stage-II form (cosine with Ỹ Ỹᵀ F̃ ≥ ``alignment``) and
    ends when, after its peak, the cosine falls below ``alignment`` again: the nodes now interact.
    """
    alignment = check_float("alignment", alignment, minimum=0, maximum=1, open_min=True, open_max=True)
    check_frame("path", path, ["step", "alignment"], what="a table from trajectory")
    if path[["step", "alignment"]].isna().any().any():
        raise ValueError("path must not have missing (NaN) values in 'step' or 'alignment'")
    aligned = path.loc[path["alignment"] >= alignment, "step"]
    if aligned.empty:
        raise ValueError(f"G_F never reaches alignment {alignment} in this run (maximum {path['alignment'].max():.2f})")
    peak = int(path.loc[path["alignment"].idxmax(), "step"])
    after = path.loc[(path["step"] > peak) & (path["alignment"] < alignment), "step"]
    if after.empty:
        raise ValueError(f"G_F stays aligned above {alignment} until the last snapshot; train longer to see stage III")
    return int(aligned.iloc[0]), int(after.iloc[0])


def census_of_maxima(
    modulus: int,
    train_pairs: Sequence[int],
    *,
    starts: int = 128,
    steps: int = 300,
    seed: int = 0,
    fourier_threshold: float = 0.9,
) -> pd.DataFrame:
    """Where projected gradient ascent on E ends, for training subsets of each size in ``train_pairs``.

    From ``starts`` random unit vectors and from one Fourier feature per frequency (random phases),
    ascend E and classify each end point: *Fourier* if its strongest frequency holds at least
    ``fourier_threshold`` of its power, *memorising* otherwise. One row per n with the share of
    random starts that end at Fourier maxima, whether Fourier starts stay Fourier, and the median
    energy of each kind of maximum (missing when none was found).
    """
    check_int("modulus", modulus, minimum=3)
    check_int("starts", starts, minimum=1)
    check_int("steps", steps, minimum=1)
    check_float("fourier_threshold", fourier_threshold, minimum=0, maximum=1, open_min=True)
    train_pairs = check_sequence("train_pairs", train_pairs, what="training set sizes")
    for n in train_pairs:
        check_int("train_pairs entry", n, minimum=1, maximum=modulus * modulus - 1)
    rows_per_ascent = starts + modulus // 2
    check_memory(
        f"starts={starts} and modulus={modulus} with train_pairs up to {max(train_pairs)}",
        torch.get_default_dtype().itemsize * rows_per_ascent * (8 * 2 * modulus + 4 * max(train_pairs) + 2 * modulus),
    )
    task = ModularTask(modulus)
    generator = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    rows = []
    for n in train_pairs:
        split = task.split(n_train=n, seed=seed)
        random_starts = torch.randn(starts, 2 * modulus, generator=generator)
        phases = torch.rand(modulus // 2, 2, generator=generator) * 2 * math.pi
        fourier_starts = torch.stack([fourier_feature(modulus, k + 1, phases=tuple(phases[k].tolist())) for k in range(modulus // 2)])
        ends = ascend_energy(torch.cat([random_starts, fourier_starts]), split, steps=steps)
        heights = energy(ends, split)
        is_fourier = frequency_concentration(ends) >= fourier_threshold
        median = lambda mask: float(heights[mask].median()) if mask.any() else math.nan  # noqa: E731
        rows.append({
            "n_train": n,
            "fourier_share": float(is_fourier[:starts].float().mean()),
            "fourier_starts_stay": float(is_fourier[starts:].float().mean()),
            "energy_fourier": median(is_fourier),
            "energy_memorising": median(~is_fourier),
        })
    return pd.DataFrame(rows)
