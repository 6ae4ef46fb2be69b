"""One house style for every figure: a color-blind-safe palette, labeled axes, readable sizes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ._validate import check_float, check_float_tensor, check_frame, check_int, check_sequence
from .scaling import divergence_curve

PALETTE = sns.color_palette("colorblind")
"""Seaborn's color-blind-safe palette, used for every categorical color in the book."""


def use_house_style() -> None:
    """Apply the book's matplotlib/seaborn style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titleweight": "bold", "figure.autolayout": True})


def plot_accuracy_curves(histories: pd.DataFrame, *, hue: str, hue_label: str, title: str | None = None) -> plt.Figure:
    """Train and test accuracy against step, one color per ``hue`` value, mean over seeds with a min–max band.

    ``histories`` is a tidy frame (one row per run and recorded step) with columns ``step``,
    ``train_acc``, ``test_acc``, ``seed`` and ``hue``.
    """
    for name, value in (("hue", hue), ("hue_label", hue_label)):
        if not isinstance(value, str) or not value:
            raise TypeError(f"{name} must be a non-empty str, got {type(value).__name__} {value!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be None or a str, got {type(title).__name__}")
    check_frame("histories", histories, ["step", "train_acc", "test_acc", "seed", hue], what="one row per run and recorded step")
    if histories[hue].nunique() > len(PALETTE):
        raise ValueError(f"hue {hue!r} has {histories[hue].nunique()} values; the palette distinguishes at most {len(PALETTE)}")
    long = histories.melt(id_vars=["step", "seed", hue], value_vars=["train_acc", "test_acc"], var_name="split", value_name="accuracy")
    long["split"] = long["split"].map({"train_acc": "train", "test_acc": "test"})
    long["accuracy"] *= 100
    long = long.rename(columns={hue: hue_label})
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    sns.lineplot(
        data=long,
        x="step",
        y="accuracy",
        hue=hue_label,
        style="split",
        style_order=["train", "test"],
        errorbar=("pi", 100),
        palette=PALETTE[: long[hue_label].nunique()],
        ax=ax,
    )
    ax.set_xlabel("step (full-batch updates = epochs)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    if title:
        ax.set_title(title)
    ax.legend(loc="center right", frameon=True)
    return fig


def plot_test_accuracy(
    histories: pd.DataFrame, *, hue: str, ax: plt.Axes, hue_order: Sequence[object] | None = None, median: bool = False, style: str | None = None
) -> plt.Axes:
    """Test accuracy (%) against step on ``ax``, one color per ``hue`` value: the mean over runs with a
    min–max band, or (``median=True``) the median with the middle half of the runs.

    ``histories`` is a tidy frame with columns ``step``, ``test_acc`` and ``hue``, as
    :func:`grokkit.histories` returns; ``style`` also dashes the lines by that column.
    """
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    for name, value in (("hue", hue), ("style", style)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a column name (str), got {type(value).__name__}")
    check_frame("histories", histories, ["step", "test_acc", hue], what="one row per run and recorded step")
    order = list(hue_order) if hue_order is not None else list(dict.fromkeys(histories[hue]))
    if len(order) > len(PALETTE):
        raise ValueError(f"hue {hue!r} has {len(order)} values; the palette distinguishes at most {len(PALETTE)}")
    sns.lineplot(
        data=histories.assign(test_percent=100 * histories["test_acc"]),
        x="step",
        y="test_percent",
        hue=hue,
        hue_order=order,
        style=style,
        estimator="median" if median else "mean",
        errorbar=("pi", 50 if median else 100),
        palette=PALETTE[: len(order)],
        ax=ax,
    )
    ax.set_xlabel("step")
    ax.set_ylabel("test accuracy (%)")
    return ax


def plot_circle(points: torch.Tensor, frequency: int, ax: plt.Axes, title: str) -> None:
    """Token embeddings projected on a frequency's plane (``(M, 2)``, from :func:`grokkit.fourier.fourier_plane`),
    colored by the token; gray lines join them in the order of frequency·x mod M, their order on the circle."""
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    p = check_float_tensor("points", points, dim=2, shape="(M, 2)").detach().numpy()
    if p.shape[1] != 2:
        raise ValueError(f"points must have shape (M, 2), got {tuple(p.shape)}")
    frequency = check_int("frequency", frequency, minimum=1)
    path = p[np.argsort((frequency * np.arange(len(p))) % len(p))]
    ax.plot(*np.vstack([path, path[:1]]).T, color=PALETTE[7], linewidth=0.6)
    ax.scatter(p[:, 0], p[:, 1], c=np.arange(len(p)), cmap="viridis", s=18, zorder=3)
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_cka_pairs(pairs: pd.DataFrame, ax: plt.Axes, labels: Mapping[str, str] | None = None) -> None:
    """The linear CKA of every pair of networks in a :func:`grokkit.metrics.cka_pairs` table, one row of dots
    per kind of pair with a black bar at their mean. ``labels`` names each kind on the axis, in the order to
    show (default: the kinds as named, in order of appearance)."""
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    check_frame("pairs", pairs, ["kind", "cka"], what="a table from grokkit.metrics.cka_pairs")
    kinds = list(dict.fromkeys(pairs["kind"]))
    if labels is None:
        labels = {kind: kind for kind in kinds}
    if not isinstance(labels, Mapping) or sorted(labels) != sorted(kinds):
        raise ValueError(f"labels must map every kind of pair {kinds} to its label, got {labels!r}")
    if len(labels) > len(PALETTE):
        raise ValueError(f"pairs has {len(labels)} kinds; the palette distinguishes at most {len(PALETTE)}")
    shown, order = pairs.replace({"kind": dict(labels)}), list(labels.values())
    sns.stripplot(
        data=shown, x="cka", y="kind", order=order, hue="kind", hue_order=order, palette=PALETTE[: len(order)], legend=False, alpha=0.6, ax=ax
    )
    sns.pointplot(
        data=shown, x="cka", y="kind", order=order, estimator="mean", errorbar=None, color="black", linestyle="none", marker="|", markersize=20, ax=ax
    )
    ax.set(xlabel="linear CKA (one dot per pair of networks, bar: mean)", ylabel="", xlim=(0, 1))


PROGRESS_LOSSES = {
    "train loss": "train_loss",
    "test loss": "test_loss",
    "restricted loss (Nanda et al.)": "restricted loss",
    "excluded loss (Nanda et al.)": "excluded loss",
    "restricted loss, a+b−c variant": "variant restricted loss",
}
"""Legend label → column of a progress table (:func:`grokkit.fourier.run_progress_measures`), in drawing order."""


def plot_progress_losses(progress: pd.DataFrame, ax: plt.Axes, ylabel: str) -> None:
    """The train and test loss of a run with Nanda et al.'s restricted and excluded losses and the a+b−c
    variant (dotted) against step, on a log scale, from a table of :func:`grokkit.fourier.run_progress_measures`."""
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    if not isinstance(ylabel, str):
        raise TypeError(f"ylabel must be a str, got {type(ylabel).__name__}")
    check_frame("progress", progress, ["step", *PROGRESS_LOSSES.values()], what="one row per recorded step")
    for color, (name, column) in zip(PALETTE, PROGRESS_LOSSES.items(), strict=False):
        ax.plot(progress["step"], progress[column], color=color, linestyle=":" if "variant" in column else "-", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def plot_divergence(
    ax: plt.Axes,
    runs: pd.DataFrame,
    fit: Mapping[str, float] | pd.Series,
    *,
    unit: float,
    color: object,
    label: str | None = None,
    runs_label: str | None = None,
) -> None:
    """Steps to generalize against n / ``unit`` for the runs that generalized, and the fitted
    T₀ + A/(n − n_c)^γ (``fit`` from :func:`grokkit.scaling.fit_divergence`) from just above n_c, on a log axis."""
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    check_frame("runs", runs, ["n_train", "generalized_step"], what="one row per run")
    unit = check_float("unit", unit, minimum=0, open_min=True)
    passed = runs[runs["generalized_step"].notna()]
    ax.plot(passed["n_train"] / unit, passed["generalized_step"], "o", color=color, alpha=0.5, ms=4, label=runs_label)
    grid = np.linspace(fit["n_c"] + 0.02 * unit, passed["n_train"].max(), 200)
    ax.plot(grid / unit, divergence_curve(fit, grid), color=color, label=label)
    ax.set_yscale("log")


def log_ticks(ax: plt.Axes, values: Sequence[float]) -> None:
    """A log-scaled x axis ticked at exactly ``values`` (step budgets, moduli), labeled as plain numbers."""
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    values = sorted(check_sequence("values", values, what="positive numbers to tick"))
    if any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not v > 0 for v in values):
        raise ValueError(f"values must be positive numbers, got {values}")
    ax.set_xscale("log")
    ax.set_xticks(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


def modulus_colors(moduli: Sequence[int]) -> dict[int, tuple[float, ...]]:
    """One viridis color per modulus, dark to light in the order given (the yellow end left out, for contrast)."""
    moduli = check_sequence("moduli", moduli, what="moduli")
    return dict(zip(moduli, map(tuple, plt.get_cmap("viridis")(np.linspace(0, 0.85, len(moduli)))), strict=True))


def plot_shares(
    ax: plt.Axes,
    shares: pd.DataFrame,
    x: str,
    *,
    hue: str = "at_least",
    label: str = "{}",
    colors: Sequence[object] | None = None,
    dodge: float = 0.07,
) -> None:
    """Shares of runs in % (a table of :func:`grokkit.metrics.shares` or
    :func:`~grokkit.metrics.shares_at_least`) against ``x`` on a log axis, with their intervals as error
    bars: one series per value of ``hue`` in order of appearance, colored from ``colors`` (default
    :data:`PALETTE`), labeled ``label.format(value)``, and shifted sideways by factors 1 ± ``dodge`` so that
    the bars do not hide each other."""
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    for name, value in (("x", x), ("hue", hue), ("label", label)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    check_frame("shares", shares, [x, hue, "share", "low", "high"], what="a table of grokkit.metrics.shares")
    values = list(shares[hue].unique())
    colors = list(PALETTE) if colors is None else check_sequence("colors", colors, what="colors")
    if len(values) > len(colors):
        raise ValueError(f"{hue} has {len(values)} values but colors only {len(colors)}")
    dodge = check_float("dodge", dodge, minimum=0, maximum=1, open_max=True)
    for i, (value, color) in enumerate(zip(values, colors, strict=False)):
        row = shares[shares[hue] == value]
        yerr = [100 * (row["share"] - row["low"]), 100 * (row["high"] - row["share"])]
        shift = 1 + dodge * (i - (len(values) - 1) / 2)
        ax.errorbar(row[x] * shift, 100 * row["share"], yerr=yerr, marker="o", capsize=3, color=color, label=label.format(value))
    ax.set_xscale("log")
    ax.set_ylim(-5, 105)


def plot_runs_by_outcome(
    ax: plt.Axes, paths: pd.DataFrame, column: str, outcome: Sequence[bool], *, scale: float = 1.0, legend: bool = False
) -> None:
    """One thin line of ``column`` (times ``scale``) against step per run of ``paths`` (columns ``run``, the
    run's position in ``outcome``, and ``step``): :data:`PALETTE` [0] for the runs that will generalize
    (``outcome`` true), [1] for the others, drawn first. With ``legend``, a legend names the two colors."""
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name (str), got {type(column).__name__}")
    check_frame("paths", paths, ["run", "step", column], what="one row per run and recorded step")
    flags = np.asarray(outcome)
    if flags.ndim != 1 or flags.dtype != bool:
        raise TypeError(f"outcome must be a 1-D sequence of True/False, one per run, got {flags.dtype} of shape {flags.shape}")
    if not set(paths["run"]) <= set(range(len(flags))):
        raise ValueError(f"paths['run'] must number the runs 0 … {len(flags) - 1}, as the entries of outcome")
    scale = check_float("scale", scale, minimum=0, open_min=True)
    for ok, color in ((False, PALETTE[1]), (True, PALETTE[0])):
        for run in np.flatnonzero(flags == ok):
            path = paths[paths["run"] == run]
            ax.plot(path["step"], scale * path[column], color=color, alpha=0.5, lw=1)
    if legend:
        ax.plot([], [], color=PALETTE[0], label="will generalize")
        ax.plot([], [], color=PALETTE[1], label="will not")
        ax.legend()


CROSSING_STYLES = {"stay": ("o", 0), "reach": ("s", 2), "higher": ("^", 3)}
"""The marker and :data:`PALETTE` index of each of the landscape's crossings (:data:`grokkit.theory.CROSSINGS`)."""


def plot_crossings(
    ax: plt.Axes, crossings: pd.DataFrame, energies: Sequence[str], *, trained_c: float | None = None, fractions: Sequence[float] = (0.2, 0.4, 0.6)
) -> None:
    """The landscape's crossings against the modulus M (log axis), in units of M ln M: for each name in
    ``energies`` (values of the ``energy`` column of ``crossings``, a table from
    :func:`grokkit.theory.crossing_medians`), each crossing's median over seeds with the seeds' range, one
    marker and color per crossing. The first energy is drawn filled; each further one hollow and dotted,
    labeled by what its name adds to the first. Gray dashed guides show fixed shares ``fractions`` of the M²
    pairs, and a dash-dotted line the boundary ``trained_c`` · M ln M of trained networks, if given."""
    if not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    check_frame("crossings", crossings, ["energy", "crossing", "modulus", "multiple", "low", "high"], what="a table from crossing_medians")
    energies = check_sequence("energies", energies, what="names in the energy column")
    unknown = [name for name in energies if name not in set(crossings["energy"])]
    if unknown:
        raise ValueError(f"energies {unknown} are not in crossings['energy'], which holds {list(crossings['energy'].unique())}")
    if not set(crossings["crossing"]) <= set(CROSSING_STYLES):
        raise ValueError(f"crossings['crossing'] must hold only {list(CROSSING_STYLES)}, got {sorted(set(crossings['crossing']))}")
    fractions = [check_float("fractions entry", f, minimum=0, maximum=1, open_min=True) for f in check_sequence("fractions", fractions, minimum=0)]
    moduli = sorted(crossings["modulus"].unique())
    m_grid = np.geomspace(min(moduli) * 0.9, max(moduli) * 1.1, 100)
    for fraction in fractions:
        ax.plot(m_grid, fraction * m_grid / np.log(m_grid), color="0.75", ls="--", lw=1)
        ax.annotate(f"{fraction:.1f} M²", (m_grid[-1], fraction * m_grid[-1] / np.log(m_grid[-1])), fontsize=7, color="0.45", va="center")
    if trained_c is not None:
        ax.axhline(check_float("trained_c", trained_c, minimum=0, open_min=True), color="0.3", ls="-.", lw=1, label="trained networks (c · M ln M)")
    for i, name in enumerate(energies):
        for kind, group in crossings[crossings["energy"] == name].groupby("crossing", sort=False):
            marker, color = CROSSING_STYLES[kind][0], PALETTE[CROSSING_STYLES[kind][1]]
            ax.errorbar(
                group["modulus"],
                group["multiple"],
                yerr=[group["multiple"] - group["low"], group["high"] - group["multiple"]],
                marker=marker,
                color=color,
                mfc="white" if i else color,
                ls=":" if i else "-",
                capsize=3,
                label=kind + (name.removeprefix(energies[0]) if i else ""),
            )
    log_ticks(ax, moduli)
    ax.set_xlabel("modulus M")
    ax.legend(fontsize=7, frameon=True, loc="upper left")


STAGE_NAMES = ("I: lazy", "II: independent", "III: interactive")


def shade_stages(axes: Sequence[plt.Axes], boundaries: tuple[int, int], last_step: int) -> None:
    """Shade the three Li₂ stages, [0, b₁), [b₁, b₂) and [b₂, last step], on every axis and name them on the first."""
    if hasattr(axes, "flat"):  # a numpy array of axes, as plt.subplots returns
        axes = list(axes.flat)
    if not isinstance(axes, Sequence) or not axes or not all(isinstance(ax, plt.Axes) for ax in axes):
        raise TypeError(f"axes must be a non-empty sequence of matplotlib Axes, got {type(axes).__name__}")
    if not isinstance(boundaries, (tuple, list)) or len(boundaries) != 2:
        raise TypeError(f"boundaries must be a pair (b₁, b₂) of steps, got {boundaries!r}")
    last_step = check_int("last_step", last_step, minimum=0)
    b1, b2 = (check_int("boundaries", int(b) if hasattr(b, "__index__") else b, minimum=0) for b in boundaries)
    if not b1 <= b2 <= last_step:
        raise ValueError(f"boundaries must satisfy 0 <= b₁ <= b₂ <= last_step={last_step}, got {tuple(boundaries)}")
    boundaries = (b1, b2)
    edges = (0, *boundaries, last_step)
    for ax in axes:
        for i in range(3):
            ax.axvspan(edges[i], edges[i + 1], color=PALETTE[7 + (i % 2)], alpha=0.12 if i % 2 else 0.05, lw=0)
    centers = [(edges[i] + edges[i + 1]) / 2 for i in range(3)]
    crowded = [i > 0 and centers[i] - centers[i - 1] < 0.15 * max(last_step, 1) for i in range(3)]  # a short stage: lift the next name
    for i, name in enumerate(STAGE_NAMES):
        height = 1.02 + (0.1 if crowded[i] and not (i > 1 and crowded[i - 1]) else 0)
        axes[0].text(centers[i], height, name, transform=axes[0].get_xaxis_transform(), ha="center", va="bottom", fontsize=9)


TRAJECTORY_COLUMNS = (
    "step",
    "grad_norm",
    "alignment",
    "moved_V",
    "moved_W",
    "feature_change",
    "adam_share_V",
    "adam_share_W",
    "feature_cosine",
    "concentration_median",
    "fourier_nodes",
)
"""The columns of :func:`grokkit.theory.trajectory` that :func:`plot_stage_trajectory` draws."""


def plot_stage_trajectory(
    axes: Sequence[plt.Axes], path: pd.DataFrame, history: pd.DataFrame, band: pd.DataFrame, boundaries: tuple[int, int]
) -> None:
    """One run through the three Li₂ stages, on five stacked axes sharing the step axis: train and test
    accuracy (with where stage III starts for each threshold of ``band``); ‖G_F‖ and its cosine with the
    stage-II form Ỹ Ỹᵀ F̃ (the band of thresholds shaded); how far each layer and the features have moved;
    the layers' moves as a share of Adam's reach and the features' cosine with their start; the power in
    each node's strongest frequency. The stages given by ``boundaries`` are shaded on all five.

    ``path`` is a :func:`grokkit.theory.trajectory`, ``history`` the run's history, ``band`` a
    :func:`grokkit.theory.stage_band` and ``boundaries`` the pair from :func:`grokkit.theory.stage_boundaries`.
    """
    if hasattr(axes, "flat"):  # a numpy array of axes, as plt.subplots returns
        axes = list(axes.flat)
    if not isinstance(axes, Sequence) or len(axes) != 5 or not all(isinstance(ax, plt.Axes) for ax in axes):
        raise TypeError(f"axes must be a sequence of 5 matplotlib Axes, as plt.subplots(5, 1) gives, got {type(axes).__name__} {axes!r:.80}")
    check_frame("path", path, TRAJECTORY_COLUMNS, what="a table from grokkit.theory.trajectory")
    check_frame("history", history, ["step", "train_acc", "test_acc"], what="the run's history")
    check_frame("band", band, ["alignment", "stage_three"], what="a table from grokkit.theory.stage_band")
    low, high = band["alignment"].min(), band["alignment"].max()
    axes[0].plot(history["step"], 100 * history["train_acc"], color=PALETTE[0], label="train")
    axes[0].plot(history["step"], 100 * history["test_acc"], color=PALETTE[1], ls="--", label="test")
    for i, start in enumerate(band["stage_three"].dropna()):
        axes[0].axvline(start, color="0.3", ls=":", lw=1, label=f"stage III starts, thresholds {low:g}–{high:g}" if i == 0 else None)
    axes[0].set_ylabel("accuracy (%)")
    axes[1].plot(path["step"], path["grad_norm"], color=PALETTE[2], label="‖G_F‖")
    twin = axes[1].twinx()
    twin.plot(path["step"], path["alignment"], color=PALETTE[4], ls="--", label="cos(G_F, ỸỸᵀF̃)")
    twin.axhspan(low, high, color=PALETTE[4], alpha=0.1, lw=0)
    twin.set_ylim(0, 1)
    twin.set_ylabel("cosine")
    twin.grid(False)
    axes[1].set_ylabel("‖G_F‖")
    lines = (  # axis, column, color, line style, label
        (2, "moved_V", 3, "-", "top layer V"),
        (2, "moved_W", 0, "--", "hidden layer W"),
        (2, "feature_change", 5, "-.", "features F"),
        (3, "adam_share_V", 3, "-", "V: share of Adam's reach"),
        (3, "adam_share_W", 0, "--", "W: share of Adam's reach"),
        (3, "feature_cosine", 5, "-.", "cos(F̃, F̃₀)"),
        (4, "concentration_median", 5, "-", "median node"),
        (4, "fourier_nodes", 9, "--", "share of nodes ≥ 0.5"),
    )
    for i, column, color, style, label in lines:
        axes[i].plot(path["step"], path[column], color=PALETTE[color], ls=style, label=label)
    axes[2].set_ylabel("distance moved\n(relative to start)")
    axes[3].set_ylim(0, 1.05)
    axes[3].set_ylabel("share / cosine")
    axes[4].set_ylabel("power in strongest\nfrequency")
    axes[4].set_xlabel("step")
    for ax in (*axes, twin):
        ax.legend(loc="center right", fontsize=8, frameon=True)
    shade_stages(axes, boundaries, int(history["step"].iloc[-1]))
