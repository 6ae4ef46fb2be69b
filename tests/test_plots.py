"""The house-style figure helpers draw what they say, on the axes they are given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from grokkit.fourier import fourier_network, fourier_plane  # noqa: E402
from grokkit.plots import (  # noqa: E402
    PALETTE,
    log_ticks,
    modulus_colors,
    plot_circle,
    plot_cka_pairs,
    plot_crossings,
    plot_divergence,
    plot_runs_by_outcome,
    plot_shares,
    plot_test_accuracy,
    shade_stages,
)

HISTORIES = pd.DataFrame(
    {
        "step": [0, 10, 20] * 4,
        "test_acc": [0.0, 0.5, 1.0, 0.0, 0.3, 0.9, 0.1, 0.1, 0.2, 0.0, 0.2, 0.4],
        "lr": [1e-3] * 6 + [1e-2] * 6,
        "seed": ([0] * 3 + [1] * 3) * 2,
    }
)


def test_test_accuracy_is_drawn_in_percent_one_line_per_hue():
    fig, ax = plt.subplots()
    assert plot_test_accuracy(HISTORIES, hue="lr", ax=ax) is ax
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]
    assert len(lines) == 2
    mean_first = HISTORIES[HISTORIES["lr"] == 1e-3].groupby("step")["test_acc"].mean().to_numpy() * 100
    assert np.allclose(lines[0].get_ydata(), mean_first)
    assert ax.get_ylabel() == "test accuracy (%)"
    plt.close(fig)


def test_median_and_bad_arguments():
    fig, ax = plt.subplots()
    plot_test_accuracy(HISTORIES, hue="lr", ax=ax, median=True, hue_order=[1e-2, 1e-3])
    assert np.allclose(ax.get_lines()[0].get_ydata(), HISTORIES[HISTORIES["lr"] == 1e-2].groupby("step")["test_acc"].median() * 100)
    with pytest.raises(ValueError, match="histories"):
        plot_test_accuracy(HISTORIES.drop(columns="test_acc"), hue="lr", ax=ax)
    with pytest.raises(TypeError, match="ax"):
        plot_test_accuracy(HISTORIES, hue="lr", ax="axes")
    plt.close(fig)


def test_circle_joins_tokens_in_the_order_of_the_frequency():
    m, k = 11, 3
    points = fourier_plane(fourier_network(m, [k]).W.detach()[:, :m].t(), k)
    fig, ax = plt.subplots()
    plot_circle(points, k, ax, "a ring")
    ring = ax.get_lines()[0].get_xydata()
    order = np.argsort((k * np.arange(m)) % m)
    assert np.allclose(ring[:-1], points.numpy()[order]) and np.allclose(ring[-1], ring[0])
    assert ax.get_title() == "a ring"
    with pytest.raises(ValueError, match="points"):
        plot_circle(torch.zeros(m, 3), k, ax, "")
    plt.close(fig)


def test_log_ticks_and_modulus_colors():
    fig, ax = plt.subplots()
    log_ticks(ax, [1000, 300, 4000])
    assert ax.get_xscale() == "log" and list(ax.get_xticks()) == [300, 1000, 4000]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["300", "1000", "4000"]
    with pytest.raises(ValueError, match="positive"):
        log_ticks(ax, [0, 10])
    colors = modulus_colors([23, 31, 41])
    assert list(colors) == [23, 31, 41] and len(set(colors.values())) == 3
    plt.close(fig)


def test_stages_are_shaded_between_their_boundaries():
    fig, axes = plt.subplots(2, 1)
    shade_stages(axes, (10, 30), 50)
    spans = [p.get_x() for p in axes[1].patches]
    assert len(spans) == 3 and [t.get_text() for t in axes[0].texts] == ["I: lazy", "II: independent", "III: interactive"]
    with pytest.raises(ValueError, match="boundaries"):
        shade_stages(axes, (30, 10), 50)
    plt.close(fig)
    assert PALETTE[0] is not None


def test_divergence_draws_the_runs_and_the_fitted_curve_above_n_c():
    fit = {"t0": 50.0, "a": 4000.0, "n_c": 100.0, "gamma": 1.0}
    runs = pd.DataFrame({"n_train": [90, 150, 300], "generalized_step": [None, 130.0, 70.0]})
    fig, ax = plt.subplots()
    plot_divergence(ax, runs, fit, unit=10.0, color=PALETTE[0], label="fit")
    points, curve = ax.get_lines()
    assert np.allclose(points.get_xdata(), [15.0, 30.0]) and ax.get_yscale() == "log"
    assert curve.get_xdata()[0] > 10.0 and np.isclose(curve.get_ydata()[-1], 50 + 4000 / 200)
    with pytest.raises(ValueError, match="unit"):
        plot_divergence(ax, runs, fit, unit=0.0, color=PALETTE[0])
    plt.close(fig)


def test_plot_progress_losses_draws_every_loss_with_the_variant_dotted():
    from grokkit.plots import PROGRESS_LOSSES, plot_progress_losses

    progress = pd.DataFrame({"step": [0, 10, 20], **{column: [1.0, 0.5, 0.1] for column in PROGRESS_LOSSES.values()}})
    fig, ax = plt.subplots()
    assert plot_progress_losses(progress, ax, "cross-entropy") is None
    assert [line.get_label() for line in ax.get_lines()] == list(PROGRESS_LOSSES)
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "-", "-", "-", ":"]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "cross-entropy"
    with pytest.raises(ValueError, match="excluded loss"):
        plot_progress_losses(progress.drop(columns="excluded loss"), ax, "loss")
    with pytest.raises(TypeError, match="Axes"):
        plot_progress_losses(progress, "axes", "loss")
    plt.close(fig)


def test_stage_trajectory_draws_five_panels_with_the_stages_and_the_band():
    from grokkit.plots import TRAJECTORY_COLUMNS, plot_stage_trajectory

    steps = np.arange(0, 60, 10)
    path = pd.DataFrame({column: np.linspace(0.1, 0.9, len(steps)) for column in TRAJECTORY_COLUMNS}).assign(step=steps)
    history = pd.DataFrame({"step": steps, "train_acc": np.linspace(0, 1, len(steps)), "test_acc": np.linspace(0, 0.5, len(steps))})
    band = pd.DataFrame({"alignment": [0.6, 0.8], "stage_two": [10, 20], "stage_three": [30.0, np.nan]})
    fig, axes = plt.subplots(5, 1, sharex=True)
    assert plot_stage_trajectory(axes, path, history, band, (20, 30)) is None
    assert np.allclose(axes[0].get_lines()[1].get_ydata(), 100 * history["test_acc"])
    assert len(axes[0].get_lines()) == 3  # train, test and one start of stage III (the other threshold has none)
    assert [len(ax.get_lines()) for ax in axes[2:]] == [3, 3, 2] and len(fig.axes) == 6  # and the cosine on a twin axis
    assert [t.get_text() for t in axes[0].texts] == ["I: lazy", "II: independent", "III: interactive"]
    assert "0.6–0.8" in axes[0].get_legend().get_texts()[2].get_text()
    with pytest.raises(ValueError, match="path lacks the columns"):
        plot_stage_trajectory(axes, path.drop(columns="alignment"), history, band, (20, 30))
    with pytest.raises(TypeError, match="5 matplotlib Axes"):
        plot_stage_trajectory(axes[:4], path, history, band, (20, 30))
    with pytest.raises(ValueError, match="band lacks the columns"):
        plot_stage_trajectory(axes, path, history, band.drop(columns="stage_three"), (20, 30))
    plt.close(fig)


def test_crossings_are_drawn_per_energy_filled_then_hollow_above_the_guides():
    crossings = pd.DataFrame(
        {
            "energy": ["E×", "E×", "E×, loose", "E×, loose"],
            "crossing": ["stay", "stay", "stay", "stay"],
            "modulus": [23, 31, 23, 31],
            "multiple": [3.0, 4.0, 2.0, 2.5],
            "low": [2.5, 3.5, 2.0, 2.0],
            "high": [3.5, 4.5, 2.0, 3.0],
        }
    )
    fig, ax = plt.subplots()
    assert plot_crossings(ax, crossings, ["E×", "E×, loose"], trained_c=2.6) is None
    assert len(ax.containers) == 2 and len(ax.texts) == 3  # one errorbar per energy; the three guides are named
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["trained networks (c · M ln M)", "stay", "stay, loose"]
    filled, hollow = (container.lines[0] for container in ax.containers)
    assert filled.get_markerfacecolor() != "white" and hollow.get_markerfacecolor() == "white" and hollow.get_linestyle() == ":"
    assert np.allclose(filled.get_ydata(), [3.0, 4.0]) and ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="energies"):
        plot_crossings(ax, crossings, ["E"])
    with pytest.raises(ValueError, match="crossings lacks the columns"):
        plot_crossings(ax, crossings.drop(columns="low"), ["E×"])
    with pytest.raises(ValueError, match="trained_c"):
        plot_crossings(ax, crossings, ["E×"], trained_c=0.0)
    with pytest.raises(TypeError, match="Axes"):
        plot_crossings("ax", crossings, ["E×"])
    plt.close(fig)


def test_cka_pairs_are_drawn_one_row_per_kind_with_the_mean():
    pairs = pd.DataFrame({"kind": ["initial", "same", "same", "different"], "cka": [0.1, 0.5, 0.7, 0.3]})
    fig, ax = plt.subplots()
    plot_cka_pairs(pairs, ax, {"same": "same loss", "different": "different losses", "initial": "at initialization"})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["same loss", "different losses", "at initialization"]
    assert ax.get_lines()[0].get_xdata() == pytest.approx([0.6, 0.3, 0.1])  # the means, one per row
    assert [len(dots.get_offsets()) for dots in ax.collections] == [2, 1, 1]  # one dot per pair
    assert ax.get_xlim() == (0, 1) and ax.get_xlabel().startswith("linear CKA")
    plt.close(fig)
    fig, ax = plt.subplots()
    plot_cka_pairs(pairs, ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["initial", "same", "different"]
    with pytest.raises(ValueError, match="labels must map every kind"):
        plot_cka_pairs(pairs, ax, {"same": "same loss"})
    with pytest.raises(ValueError, match="pairs lacks the columns"):
        plot_cka_pairs(pairs.drop(columns="cka"), ax)
    with pytest.raises(TypeError, match="ax"):
        plot_cka_pairs(pairs, "axes")
    plt.close(fig)


def test_runs_are_drawn_by_outcome_failures_first():
    paths = pd.DataFrame({"run": [0, 0, 1, 1, 2, 2], "step": [0, 10] * 3, "test_acc": [0.1, 0.2, 0.3, 0.9, 0.0, 0.1]})
    fig, ax = plt.subplots()
    assert plot_runs_by_outcome(ax, paths, "test_acc", [False, True, False], scale=100, legend=True) is None
    lines = [line for line in ax.get_lines() if len(line.get_xdata())]
    assert [line.get_ydata().tolist() for line in lines] == [[10.0, 20.0], [0.0, 10.0], [30.0, 90.0]]
    assert [line.get_color() for line in lines] == [PALETTE[1], PALETTE[1], PALETTE[0]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["will generalize", "will not"]
    with pytest.raises(TypeError, match="outcome"):
        plot_runs_by_outcome(ax, paths, "test_acc", [0, 1, 0])
    with pytest.raises(ValueError, match="paths"):
        plot_runs_by_outcome(ax, paths, "test_acc", [True, False])
    with pytest.raises(ValueError, match="paths lacks the columns"):
        plot_runs_by_outcome(ax, paths, "train_acc", [True, False, True])
    plt.close(fig)


def test_shares_are_drawn_in_percent_per_threshold_shifted_apart():
    shares = pd.DataFrame(
        {
            "lr": [1e-3, 1e-2] * 2,
            "at_least": [50, 50, 90, 90],
            "share": [0.5, 1.0, 0.25, 0.5],
            "low": [0.2, 0.7, 0.05, 0.2],
            "high": [0.8, 1.0, 0.6, 0.8],
        }
    )
    fig, ax = plt.subplots()
    assert plot_shares(ax, shares, "lr", label="≥ {} %", colors=PALETTE[3:]) is None
    first, second = (container.lines[0] for container in ax.containers)
    assert np.allclose(first.get_ydata(), [50, 100]) and np.allclose(second.get_ydata(), [25, 50])
    assert np.allclose(first.get_xdata().astype(float), [0.965e-3, 0.965e-2]) and np.allclose(second.get_xdata().astype(float), [1.035e-3, 1.035e-2])
    assert [t.get_text() for t in ax.legend().get_texts()] == ["≥ 50 %", "≥ 90 %"]
    assert first.get_color() == PALETTE[3] and ax.get_xscale() == "log" and ax.get_ylim() == (-5, 105)
    with pytest.raises(ValueError, match="shares lacks the columns"):
        plot_shares(ax, shares.drop(columns="low"), "lr")
    with pytest.raises(ValueError, match="colors"):
        plot_shares(ax, shares, "lr", colors=PALETTE[:1])
    with pytest.raises(ValueError, match="dodge"):
        plot_shares(ax, shares, "lr", dodge=1.5)
    plt.close(fig)
