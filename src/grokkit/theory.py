"""The quantities of the Li₂ framework (Tian 2025, arXiv 2509.21519), computed for a network and a split.

Notation: X holds the one-hot inputs of the n training pairs, F = σ(XWᵀ) the hidden features, Ỹ
the centered one-hot targets, F̃ = F with each column's mean over the pairs removed.

- G_F = −∂L/∂F, the backpropagated gradient: what the top layer asks of each hidden node.
- In stage II (top layer fitted, weight decay η > 0) G_F points along Ỹ Ỹᵀ F̃, so each node j moves
  independently along the gradient of the energy E(w) = ½‖Ỹᵀσ(Xw)‖² (‖w‖ = 1); the local maxima
  of E are the features that emerge.
- Fourier maxima stay maxima (and generalize) once n ≳ c·M ln M training pairs: the scaling law.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._validate import check_choice, check_float, check_float_tensor, check_frame, check_int, check_memory, check_nonzero, check_sequence
from .device import CpuThreads
from .fourier import distinct_frequencies, fourier_concentration, fourier_feature, fourier_nodes
from .losses import LOSSES, centered_targets
from .metrics import weight_distance
from .models import TwoLayerNet
from .scaling import mlnm
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
    centered = features - features.mean(dim=0)
    targets = centered_targets(split.train_labels, split.modulus)
    return targets @ (targets.t() @ centered)


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


TERMS = ("full", "cross", "squares")
"""Which part of a node's activation σ(u_a + v_b) = u_a² + v_b² + 2·u_a·v_b the energy reads: all of it, the
cross term 2·u_a·v_b alone (the only part that depends on a and b jointly), or the single-token squares
u_a² + v_b²."""


def _activation(w: torch.Tensor, split: Split, term: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The chosen term of each node's activation on the training pairs (S, n), with its derivatives in u_a and in v_b."""
    m = split.modulus
    u, v = w[:, split.train_pairs[:, 0]], w[:, split.train_pairs[:, 1] + m]
    if term == "full":
        return (u + v) ** 2, 2 * (u + v), 2 * (u + v)
    if term == "cross":
        return 2 * u * v, 2 * v, 2 * u
    return u * u + v * v, 2 * u, 2 * v


def _by_class(activation: torch.Tensor, split: Split) -> torch.Tensor:
    """Ỹᵀσ(Xw) for each row, (S, M): each class's total activation minus 1/M of the total over all pairs.

    Summed by label rather than multiplied by the n × M matrix Ỹ, which costs M times less.
    """
    m = split.modulus
    sums = torch.zeros(activation.shape[0], m, dtype=activation.dtype).index_add_(1, split.train_labels, activation)
    return sums - sums.sum(dim=1, keepdim=True) / m


def _check_term(term: object) -> str:
    return check_choice("term", term, TERMS)


@torch.no_grad()
def energy(w: torch.Tensor, split: Split, term: str = "full") -> torch.Tensor:
    """E(w) = ½‖Ỹᵀσ(Xw)‖² with σ(x) = x², for each row of ``w`` (S, 2M) scaled to unit norm; shape (S,).

    ``term`` keeps only part of σ(u_a + v_b) (see :data:`TERMS`): ``"cross"`` gives the energy of the
    cross term 2·u_a·v_b, ``"squares"`` that of the single-token squares u_a² + v_b².
    """
    w = _check_weights(w, split)
    term = _check_term(term)
    activation, _, _ = _activation(w / w.norm(dim=1, keepdim=True), split, term)
    return 0.5 * _by_class(activation, split).pow(2).sum(dim=1)


@torch.no_grad()
def ascend_energy(starts: torch.Tensor, split: Split, *, steps: int = 400, step_size: float = 0.3, term: str = "full") -> torch.Tensor:
    """Projected gradient ascent of E (or of one of its :data:`TERMS`) on the unit sphere from each row of
    ``starts`` (S, 2M); the end points.

    Each step moves along the gradient's component tangent to the sphere, by an angle that decays
    geometrically from ``step_size`` to 1 % of it, then returns to the sphere. Rows are independent,
    as the nodes are in stage II.
    """
    w = _check_weights(starts, split, "starts")
    check_int("steps", steps, minimum=1)
    step_size = check_float("step_size", step_size, minimum=0, maximum=1, open_min=True)
    term = _check_term(term)
    m = split.modulus
    first, second = split.train_pairs[:, 0], split.train_pairs[:, 1] + m
    w = w / w.norm(dim=1, keepdim=True)
    with CpuThreads(w.shape[0] * first.shape[0], w.device) as threads:  # small ops: threads only where cores are free
        for t in range(steps):
            threads.recheck()
            activation, d_first, d_second = _activation(w, split, term)
            per_pair = _by_class(activation, split)[:, split.train_labels]  # ∂E/∂σ on each pair: row i of Ỹ times Ỹᵀσ (whose classes sum to 0)
            grad = torch.zeros_like(w).index_add_(1, first, per_pair * d_first).index_add_(1, second, per_pair * d_second)
            tangent = grad - (grad * w).sum(dim=1, keepdim=True) * w
            size = step_size * 0.01 ** (t / max(steps - 1, 1))
            w = w + size * tangent / tangent.norm(dim=1, keepdim=True).clamp_min(1e-30)
            w = w / w.norm(dim=1, keepdim=True)
    return w


def trajectory(result: TrainResult, loss: str | None = None) -> pd.DataFrame:
    """The Li₂ quantities at every snapshot of a run trained with ``snapshot_every``; one row per snapshot.

    Columns: ``step``; ``grad_norm`` ‖G_F‖; ``alignment``, the cosine between G_F and Ỹ Ỹᵀ F̃;
    ``moved_W`` / ``moved_V``, each layer's distance from its initial value relative to its initial
    norm; ``adam_share_W`` / ``adam_share_V``, that distance divided by the one Adam's step gives by
    construction (see :func:`adam_reach`; NaN at the first snapshot and for a layer not trained by
    Adam); ``feature_change`` ‖F − F₀‖/‖F₀‖ and ``feature_cosine`` cos(F̃, F̃₀), how far the hidden
    representation of the training pairs has moved from its initial value (see
    :func:`feature_movement`); ``concentration_median`` and ``fourier_nodes`` (share of nodes with
    concentration ≥ :data:`~grokkit.fourier.FOURIER_NODE`); ``frequencies``, the number of distinct frequencies learned (see
    :mod:`grokkit.metrics`).

    A layer's distance alone does not say whether the data moved it: Adam moves every entry by about
    its learning rate per step whatever the gradient's size, so a layer with small initial entries
    moves far relative to its size by construction. ``adam_share_*`` removes that part, and the
    feature columns measure what the data acts through, the representation F itself.
    """
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    if not result.snapshots:
        raise ValueError("result must be a TrainResult trained with snapshot_every set, so it has snapshots")
    loss = result.config.loss if loss is None else check_choice("loss", loss, LOSSES)
    first = min(result.snapshots)
    start = result.snapshots[first]
    config = result.config
    adam_layers = {"adam": ("W", "V"), "adamw": ("W", "V"), "muon": ("V",), "sgd": ()}[config.optimizer]
    rates = {"W": config.lr if config.hidden_lr is None else config.hidden_lr, "V": config.lr}
    rows = []
    for step, net in sorted(result.snapshots.items()):
        gradient = backprop_gradient(net, result.split, loss)
        concentration = fourier_concentration(net)
        moved = weight_distance(net, start)
        shares = {
            f"adam_share_{layer}": moved[layer] / adam_reach(getattr(start, layer), rates[layer], step - first)
            if layer in adam_layers and step > first
            else math.nan
            for layer in ("W", "V")
        }
        rows.append(
            {
                "step": step,
                "grad_norm": float(gradient.norm()),
                "alignment": cosine(gradient, li2_direction(net, result.split)),
                **{f"moved_{layer}": value for layer, value in moved.items()},
                **shares,
                **feature_movement(net, start, result.split),
                "concentration_median": float(concentration.median()),
                "fourier_nodes": fourier_nodes(net),
                "frequencies": distinct_frequencies(net),
            }
        )
    return pd.DataFrame(rows)


def gradient_alignment(result: TrainResult, losses: Sequence[str], reference: str = "cross_entropy") -> pd.DataFrame:
    """At every snapshot of a run, the message each loss would send the hidden layer at the same parameters:
    the cosine of its G_F (:func:`backprop_gradient`) with the ``reference`` loss's G_F and with the Li₂
    direction Ỹ Ỹᵀ F̃ (:func:`li2_direction`). One row per snapshot and loss: ``step``, ``loss``,
    ``cosine_reference`` and ``cosine_li2``."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    if not result.snapshots:
        raise ValueError("result must be a TrainResult trained with snapshot_every set, so it has snapshots")
    losses = [check_choice("losses", loss, LOSSES) for loss in check_sequence("losses", losses, what="loss names")]
    reference = check_choice("reference", reference, LOSSES)
    rows = []
    for step, net in sorted(result.snapshots.items()):
        grads = {loss: backprop_gradient(net, result.split, loss) for loss in dict.fromkeys([*losses, reference])}
        li2 = li2_direction(net, result.split)
        rows += [
            {"step": step, "loss": loss, "cosine_reference": cosine(grads[loss], grads[reference]), "cosine_li2": cosine(grads[loss], li2)}
            for loss in losses
        ]
    return pd.DataFrame(rows)


def alignment_summary(alignment: pd.DataFrame) -> pd.DataFrame:
    """One row per loss of a :func:`gradient_alignment` table, in order of appearance: the cosine with the
    reference loss's G_F at the first and the last recorded step (``cos_start``, ``cos_end``), the cosine
    with the Li₂ direction there (``li2_start``, ``li2_end``) and its highest value along the run (``li2_peak``)."""
    alignment = check_frame("alignment", alignment, ["step", "loss", "cosine_reference", "cosine_li2"], what="a table from gradient_alignment")
    if alignment[["step", "cosine_reference", "cosine_li2"]].isna().any().any():
        raise ValueError("alignment must not have missing (NaN) steps or cosines")
    by_loss = alignment.set_index("loss")
    start, end = (by_loss[alignment["step"].to_numpy() == step] for step in (alignment["step"].min(), alignment["step"].max()))
    if not start.index.is_unique or not end.index.is_unique:
        raise ValueError("alignment must hold one row per loss and step, as gradient_alignment gives")
    summary = pd.DataFrame(
        {
            "cos_start": start["cosine_reference"],
            "cos_end": end["cosine_reference"],
            "li2_start": start["cosine_li2"],
            "li2_end": end["cosine_li2"],
            "li2_peak": alignment.groupby("loss")["cosine_li2"].max(),
        }
    )
    return summary.loc[list(dict.fromkeys(alignment["loss"]))].rename_axis("loss")


def adam_reach(start: torch.Tensor, lr: float, steps: int) -> float:
    """How far Adam can move a weight matrix in ``steps`` steps, relative to its size: lr · steps · √N / ‖start‖.

    Adam divides each entry's gradient by its own running scale, so every one of the N entries moves
    by about ``lr`` per step or less, whatever the size of its gradient (Kingma & Ba 2015, sec. 2.1;
    more only when a gradient is very sparse in time).
    A layer whose distance from ``start`` (relative to ‖start‖) is close to this value has moved each
    entry steadily in one direction; the value itself is set by the optimizer and the initial scale,
    not by the data. Two layers with different initial scales therefore move by different relative
    amounts even when the data pulls on both alike.
    """
    start = check_nonzero("start", check_float_tensor("start", start).detach(), "a distance relative to it")
    lr = check_float("lr", lr, minimum=0, open_min=True)
    steps = check_int("steps", steps, minimum=1)
    return float(lr * steps * math.sqrt(start.numel()) / start.norm())


@torch.no_grad()
def feature_movement(model: TwoLayerNet, start: TwoLayerNet, split: Split) -> dict[str, float]:
    """How far the hidden representation F of the training pairs has moved from the one of ``start``.

    Returns ``feature_change`` = ‖F − F₀‖/‖F₀‖ and ``feature_cosine`` = cos(F̃, F̃₀), the cosine between
    the two (n, K) matrices with each node's mean over the pairs removed, read as flat vectors. In the
    lazy (kernel) regime F stays close to F₀: the change is small and the cosine near 1. The cosine
    ignores a common rescaling of the nodes; the change does not.
    """
    _check_model_split(model, split)
    _check_model_split(start, split)
    if model.hidden != start.hidden:
        raise ValueError(f"model and start must have the same number of hidden nodes, got {model.hidden} and {start.hidden}")
    now, then = model.features(split.train_pairs), start.features(split.train_pairs)
    check_nonzero("start features", then, "a change relative to them")
    centered_now, centered_then = now - now.mean(dim=0), then - then.mean(dim=0)
    return {
        "feature_change": float((now - then).norm() / then.norm()),
        "feature_cosine": cosine(centered_now, centered_then) if bool(centered_now.ne(0).any()) else math.nan,
    }


def stage_boundaries(path: pd.DataFrame, alignment: float = 0.8) -> tuple[int, int]:
    """The steps that end stage I and stage II, read off a :func:`trajectory`.

    Stage II starts when G_F first takes its stage-II form (cosine with Ỹ Ỹᵀ F̃ ≥ ``alignment``) and
    ends when, after its peak, the cosine falls below ``alignment`` again (in the Li₂ analysis, because
    the nodes begin to interact through the top layer; that cause is not measured here).
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


def stage_band(path: pd.DataFrame, alignments: Sequence[float]) -> pd.DataFrame:
    """:func:`stage_boundaries` for several alignment thresholds: one row per threshold.

    The threshold that marks the stage-II form of G_F is a choice; a boundary that moves a lot with it
    is not a property of the run. Columns ``alignment``, ``stage_two`` and ``stage_three``; a threshold
    the run never reaches, or never leaves again, gives missing values (NaN) rather than an error.
    """
    alignments = check_sequence("alignments", alignments, what="thresholds between 0 and 1")
    check_frame("path", path, ["step", "alignment"], what="a table from trajectory")
    rows = []
    for value in alignments:
        value = check_float("alignments", value, minimum=0, maximum=1, open_min=True, open_max=True)
        two: float
        three: float
        try:
            two, three = stage_boundaries(path, value)
        except ValueError as error:
            if "never reaches" not in str(error) and "stays aligned" not in str(error):
                raise
            two = three = math.nan
        rows.append({"alignment": value, "stage_two": two, "stage_three": three})
    return pd.DataFrame(rows)


FOURIER_MAXIMUM = 0.9
"""An end point of the ascent on E is a *Fourier maximum* when one frequency holds at least this share of
its power. Stricter than :data:`~grokkit.fourier.FOURIER_NODE`, which sorts nodes during training: an end
point has converged, so it is held to nearly pure. The two-peaks notebook also reports the crossings at 0.5."""

CROSSINGS = {
    "stay": ("fourier_starts_stay", 0.5),
    "reach": ("fourier_share", 0.5),
    "higher": ("energy_ratio", 1.0),
}
"""The three crossings of the census, each the n at which a column first reaches its level: exact Fourier
features stay maxima (half of them), random starts reach Fourier maxima (half of them), and Fourier maxima
are the higher ones (median energy ratio 1)."""


def _census_starts(modulus: int, starts: int, seed: int) -> torch.Tensor:
    """``starts`` random unit directions and one exact Fourier feature per frequency with random phases."""
    generator = torch.Generator().manual_seed(seed)
    random_starts = torch.randn(starts, 2 * modulus, generator=generator)
    phases = torch.rand(modulus // 2, 2, generator=generator) * 2 * math.pi
    fourier_starts = torch.stack([fourier_feature(modulus, k + 1, phases=tuple(phases[k].tolist())) for k in range(modulus // 2)])
    return torch.cat([random_starts, fourier_starts])


def _census_row(split: Split, points: torch.Tensor, starts: int, steps: int, threshold: float, term: str) -> dict[str, float]:
    ends = ascend_energy(points, split, steps=steps, term=term)
    heights = energy(ends, split, term)
    concentration = fourier_concentration(ends)
    is_fourier = concentration >= threshold
    median = lambda mask: float(heights[mask].median()) if mask.any() else math.nan  # noqa: E731
    fourier, memorizing = median(is_fourier), median(~is_fourier)
    ratio = 0.0 if math.isnan(fourier) else math.inf if math.isnan(memorizing) else fourier / memorizing
    return {
        "n_train": split.train_pairs.shape[0],
        "multiple": split.train_pairs.shape[0] / mlnm(split.modulus),
        "fourier_share": float(is_fourier[:starts].float().mean()),
        "fourier_starts_stay": float(is_fourier[starts:].float().mean()),
        "energy_fourier": fourier,
        "energy_memorizing": memorizing,
        "energy_ratio": ratio,
        "concentration_median": float(concentration[:starts].median()),
    }


def _check_census(modulus: object, starts: object, steps: object, seed: object, fourier_threshold: object, term: object, largest_n: int) -> None:
    m = check_int("modulus", modulus, minimum=3)
    k = check_int("starts", starts, minimum=1)
    check_int("steps", steps, minimum=1)
    check_int("seed", seed, minimum=0)
    check_float("fourier_threshold", fourier_threshold, minimum=0, maximum=1, open_min=True)
    _check_term(term)
    check_memory(
        f"starts={k} and modulus={m} with train_pairs up to {largest_n}",
        torch.get_default_dtype().itemsize * (k + m // 2) * (8 * 2 * m + 8 * largest_n + 2 * m),
    )


def census_of_maxima(
    modulus: int,
    train_pairs: Sequence[int],
    *,
    starts: int = 128,
    steps: int = 300,
    seed: int = 0,
    fourier_threshold: float = FOURIER_MAXIMUM,
    term: str = "full",
) -> pd.DataFrame:
    """Where projected gradient ascent on E ends, for training subsets of each size in ``train_pairs``.

    From ``starts`` random unit vectors and from one Fourier feature per frequency (random phases),
    ascend E (or one of its :data:`TERMS`) and classify each end point: *Fourier* if its strongest
    frequency holds at least ``fourier_threshold`` of its power, *memorizing* otherwise. The starts and the
    subsets (nested: each larger subset adds pairs to the smaller one) are fixed by ``seed``, so a change
    between two n is the data's doing. One row per n (``n_train``, and ``multiple`` in units of M ln M) with
    the share of random starts that end at Fourier maxima, the share of Fourier starts that stay Fourier, the median energy of each kind of maximum
    (missing when none was found), their ratio (0 without Fourier maxima, infinite without memorizing ones)
    and the median concentration of the random starts' end points.
    """
    check_int("modulus", modulus, minimum=3)
    train_pairs = check_sequence("train_pairs", train_pairs, what="training set sizes")
    for n in train_pairs:
        check_int("train_pairs entry", n, minimum=1, maximum=modulus * modulus - 1)
    _check_census(modulus, starts, steps, seed, fourier_threshold, term, max(train_pairs))
    task, points = ModularTask(modulus), _census_starts(modulus, starts, seed)
    return pd.DataFrame([_census_row(task.split(n_train=n, seed=seed), points, starts, steps, fourier_threshold, term) for n in train_pairs])


def landscape_crossings(
    modulus: int,
    *,
    seed: int = 0,
    term: str = "full",
    starts: int = 64,
    steps: int = 300,
    fourier_threshold: float = FOURIER_MAXIMUM,
    low: float = 0.02,
    high: float = 0.9,
    tolerance: float = 0.25,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Search n for each of the census's :data:`CROSSINGS`, on the nested subsets and fixed starts of ``seed``.

    Each crossing is bracketed by bisection between ``low`` and ``high`` times the M² pairs until the
    bracket is at most ``tolerance`` · M ln M wide; the three searches share every census they run. One
    row per crossing: the bracket ``low_n`` < n ≤ ``high_n`` where its column last lies below its level and
    first reaches it, and the midpoint ``n``, also in units of M ln M (``multiple``) and of M² (``fraction``);
    ``n`` is missing when the level is already reached at ``low`` or never reached by ``high`` (then the
    bracket says which). Also returns every census the searches ran,
    one row per n as in :func:`census_of_maxima`.
    """
    _check_census(modulus, starts, steps, seed, fourier_threshold, term, modulus * modulus)
    low = check_float("low", low, minimum=0, maximum=1, open_min=True, open_max=True)
    high = check_float("high", high, minimum=low, maximum=1, open_min=True, open_max=True)
    width = check_float("tolerance", tolerance, minimum=0, open_min=True) * modulus * math.log(modulus)
    task, points = ModularTask(modulus), _census_starts(modulus, starts, seed)
    bounds = (max(1, round(low * modulus**2)), min(modulus**2 - 1, round(high * modulus**2)))
    seen: dict[int, dict[str, float]] = {}

    def census(n: int) -> dict[str, float]:
        if n not in seen:
            seen[n] = _census_row(task.split(n_train=n, seed=seed), points, starts, steps, fourier_threshold, term)
        return seen[n]

    rows = []
    for name, (column, level) in CROSSINGS.items():
        below, above = bounds
        if census(below)[column] >= level:
            below, above = 0, below
        elif census(above)[column] < level:
            below, above = above, modulus**2
        else:  # start from the closest pair of censuses already run by the other searches
            above = min(n for n, row in seen.items() if row[column] >= level)
            below = max(n for n, row in seen.items() if n < above and row[column] < level)
            while above - below > max(width, 1):
                middle = (below + above) // 2
                below, above = (below, middle) if census(middle)[column] >= level else (middle, above)
        inside = bounds[0] <= below and above <= bounds[1]
        n = (below + above) / 2 if inside else math.nan
        rows.append(
            {
                "modulus": modulus,
                "seed": seed,
                "term": term,
                "crossing": name,
                "low_n": below,
                "high_n": above,
                "n": n,
                "multiple": n / mlnm(modulus),
                "fraction": n / modulus**2,
            }
        )
    censuses = pd.DataFrame(sorted(seen.values(), key=lambda row: row["n_train"])).assign(modulus=modulus, seed=seed, term=term)
    return pd.DataFrame(rows), censuses


def crossings_over(moduli: Sequence[int], seeds: Sequence[int], **options: Any) -> pd.DataFrame:
    """:func:`landscape_crossings` for every modulus and seed (``options`` are passed on), one row per
    modulus, seed and crossing, with the crossing also in units of M ln M (``multiple``) and of M² (``fraction``)."""
    moduli = check_sequence("moduli", moduli, what="moduli")
    seeds = check_sequence("seeds", seeds, what="seeds")
    return pd.concat([landscape_crossings(m, seed=s, **options)[0] for m in moduli for s in seeds], ignore_index=True)


def crossing_medians(found: pd.DataFrame, by: str | Sequence[str] = ()) -> pd.DataFrame:
    """The median over seeds of each crossing in ``found`` (rows of :func:`crossings_over`), with the seeds'
    range: one row per group of the columns ``by``, crossing and modulus, in the order they first appear, with
    the medians of ``n``, ``multiple`` and ``fraction`` and the smallest (``low``) and largest (``high``) multiple."""
    by = [by] if isinstance(by, str) else check_sequence("by", by, what="column names", minimum=0)
    if not all(isinstance(column, str) for column in by):
        raise TypeError(f"by must be a column name or a sequence of column names, got {by!r}")
    check_frame("found", found, [*by, "crossing", "modulus", "n", "multiple", "fraction"], what="one row per crossing, as crossings_over gives")
    return (
        found.groupby([*by, "crossing", "modulus"], sort=False)
        .agg(n=("n", "median"), multiple=("multiple", "median"), low=("multiple", "min"), high=("multiple", "max"), fraction=("fraction", "median"))
        .reset_index()
    )


def anatomy_of_maxima(w: torch.Tensor, split: Split, fourier_threshold: float = FOURIER_MAXIMUM) -> pd.DataFrame:
    """What each end point of an ascent (rows of ``w``, (S, 2M)) is made of, one row per end point.

    Columns: ``kind`` ("Fourier" when one frequency holds at least ``fourier_threshold`` of its power, else
    "memorizing"); its energy ``E`` and the parts of it, ``cross`` (the cross term E×) and ``squares``
    (see :data:`TERMS`); and, from :func:`focused_pairs`, ``top_two_share`` and ``training_pair``.
    """
    w = _check_weights(w, split)
    check_float("fourier_threshold", fourier_threshold, minimum=0, maximum=1, open_min=True)
    focus = focused_pairs(w, split)
    return pd.DataFrame(
        {
            "kind": np.where(fourier_concentration(w) >= fourier_threshold, "Fourier", "memorizing"),
            **{name: energy(w, split, term).numpy() for name, term in (("E", "full"), ("cross", "cross"), ("squares", "squares"))},
            "top_two_share": focus["top_two_share"],
            "training_pair": focus["training_pair"],
        }
    )


def focused_pairs(w: torch.Tensor, split: Split) -> pd.DataFrame:
    """How far each row of ``w`` (S, 2M) is a node that memorizes one pair, the *focused memorization* of
    Li₂ (Theorem 5): weight (e_a, e_b)/√2 on one token a and one token b.

    Columns: ``top_two_share``, the share of the row's weight power on its two largest weights;
    ``a`` and ``b``, the tokens of those weights when one lies on each input (else −1); and ``training_pair``,
    whether (a, b) is one of the split's training pairs.
    """
    w = _check_weights(w, split)
    m = split.modulus
    power = w.pow(2)
    top = power.topk(2, dim=1)
    on_a = top.indices < m
    one_each = on_a[:, 0] != on_a[:, 1]
    a = torch.where(on_a[:, 0], top.indices[:, 0], top.indices[:, 1])
    b = torch.where(on_a[:, 0], top.indices[:, 1], top.indices[:, 0]) - m
    codes = set((split.train_pairs[:, 0] * m + split.train_pairs[:, 1]).tolist())
    return pd.DataFrame(
        {
            "top_two_share": (top.values.sum(dim=1) / power.sum(dim=1)).numpy(),
            "a": torch.where(one_each, a, -1).numpy(),
            "b": torch.where(one_each, b, -1).numpy(),
            "training_pair": [bool(e) and int(x) * m + int(y) in codes for e, x, y in zip(one_each, a, b, strict=True)],
        }
    )
