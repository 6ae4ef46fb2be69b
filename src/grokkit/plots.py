"""One house style for every figure: a colour-blind-safe palette, labelled axes, readable sizes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

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
    missing = {"step", "train_acc", "test_acc", "seed", hue} - set(histories.columns)
    if missing:
        raise ValueError(f"histories lacks the columns {sorted(missing)}")
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
    edges = (0, *boundaries, last_step)
    for ax in axes:
        for i in range(3):
            ax.axvspan(edges[i], edges[i + 1], color=PALETTE[7 + (i % 2)], alpha=0.12 if i % 2 else 0.05, lw=0)
    for i, name in enumerate(STAGE_NAMES):
        axes[0].text((edges[i] + edges[i + 1]) / 2, 1.02, name, transform=axes[0].get_xaxis_transform(), ha="center", va="bottom", fontsize=9)
