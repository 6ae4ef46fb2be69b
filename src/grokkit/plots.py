"""One house style for every figure: a colour-blind-safe palette, labelled axes, readable sizes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from ._validate import check_frame, check_int

PALETTE = sns.color_palette("colorblind")
"""Seaborn's colour-blind-safe palette, used for every categorical colour in the book."""


def use_house_style() -> None:
    """Apply the book's matplotlib/seaborn style (call once per notebook)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titleweight": "bold", "figure.autolayout": True})


def plot_accuracy_curves(histories: pd.DataFrame, *, hue: str, hue_label: str, title: str | None = None) -> plt.Figure:
    """Train and test accuracy against step, one colour per ``hue`` value, mean over seeds with a min–max band.

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
    long = histories.melt(
        id_vars=["step", "seed", hue], value_vars=["train_acc", "test_acc"], var_name="split", value_name="accuracy"
    )
    long["split"] = long["split"].map({"train_acc": "train", "test_acc": "test"})
    long["accuracy"] *= 100
    long = long.rename(columns={hue: hue_label})
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    sns.lineplot(
        data=long, x="step", y="accuracy", hue=hue_label, style="split", style_order=["train", "test"],
        errorbar=("pi", 100), palette=PALETTE[: long[hue_label].nunique()], ax=ax,
    )
    ax.set_xlabel("step (full-batch updates = epochs)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-2, 102)
    if title:
        ax.set_title(title)
    ax.legend(loc="center right", frameon=True)
    return fig


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
    centres = [(edges[i] + edges[i + 1]) / 2 for i in range(3)]
    crowded = [i > 0 and centres[i] - centres[i - 1] < 0.15 * max(last_step, 1) for i in range(3)]  # a short stage: lift the next name
    for i, name in enumerate(STAGE_NAMES):
        height = 1.02 + (0.1 if crowded[i] and not (i > 1 and crowded[i - 1]) else 0)
        axes[0].text(centres[i], height, name, transform=axes[0].get_xaxis_transform(), ha="center", va="bottom", fontsize=9)
