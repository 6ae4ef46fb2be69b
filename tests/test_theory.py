import math

import pandas as pd
import pytest
import torch

from grokkit import ModularTask, TrainConfig, TwoLayerNet, train
from grokkit.fourier import fourier_concentration, fourier_feature
from grokkit.losses import LOSSES, centered_targets
from grokkit.scaling import mlnm
from grokkit.tasks import Split
from grokkit.theory import (
    CROSSINGS,
    TERMS,
    adam_reach,
    anatomy_of_maxima,
    ascend_energy,
    backprop_gradient,
    census_of_maxima,
    cosine,
    crossing_medians,
    crossings_over,
    energy,
    feature_movement,
    focused_pairs,
    landscape_crossings,
    li2_direction,
    stage_band,
    stage_boundaries,
    trajectory,
)


def test_backprop_gradient_is_minus_dloss_dfeatures():
    split = ModularTask(11).split(n_train=50, seed=1)
    net = TwoLayerNet(11, 16)
    features = net.features(split.train_pairs).detach().requires_grad_(True)
    LOSSES["cross_entropy"](features @ net.V.detach().t(), split.train_labels).mean().backward()
    torch.testing.assert_close(backprop_gradient(net, split, "cross_entropy"), -features.grad)
    assert li2_direction(net, split).shape == (50, 16)
    assert cosine(torch.ones(3), -torch.ones(3)) == pytest.approx(-1)
    with pytest.raises(ValueError, match="modulus 11 but split for modulus 7"):
        backprop_gradient(net, ModularTask(7).split(n_train=10))


def test_fourier_features_are_maxima_of_the_energy_on_all_pairs():
    """With every pair, ascent from a Fourier feature stays there; from random starts E only grows."""
    split = ModularTask(13).split(n_train=168, seed=0)  # all but one of the 169 pairs
    start = torch.stack([fourier_feature(13, 3, phases=(0.5, 2.0)), torch.randn(26, generator=torch.Generator().manual_seed(0))])
    end = ascend_energy(start, split, steps=200)
    assert fourier_concentration(end)[0] > 0.99
    assert (energy(end, split) >= energy(start, split) - 1e-6).all()
    assert torch.allclose(end.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match=r"w must have shape \(S, 26\)"):
        energy(torch.randn(2, 10), split)


def test_census_counts_fourier_maxima_more_often_with_more_data():
    census = census_of_maxima(13, [20, 160], starts=32, steps=150)
    assert list(census["n_train"]) == [20, 160]
    assert census["fourier_share"].iloc[0] < census["fourier_share"].iloc[1]
    assert census["fourier_starts_stay"].iloc[1] == 1.0


def test_stages_are_read_off_the_alignment():
    path = pd.DataFrame({"step": [0, 10, 20, 30, 40, 50], "alignment": [0.0, 0.5, 0.85, 0.9, 0.7, 0.6]})
    assert stage_boundaries(path) == (20, 40)
    with pytest.raises(ValueError, match="never reaches alignment"):
        stage_boundaries(path.assign(alignment=0.1))
    with pytest.raises(ValueError, match="stays aligned"):
        stage_boundaries(path.assign(alignment=[0.0, 0.9, 0.9, 0.9, 0.9, 0.9]))


def test_trajectory_of_a_small_run():
    result = train(TrainConfig(modulus=13, n_train=100, hidden=32, steps=40, eval_every=10), snapshot_every=20, progress=False)
    path = trajectory(result)
    assert list(path["step"]) == [0, 20, 40]
    assert path.loc[0, "moved_W"] == 0 and path.loc[2, "moved_V"] > 0
    assert path["alignment"].between(-1, 1).all()
    with pytest.raises(ValueError, match="snapshot_every"):
        trajectory(train(TrainConfig(modulus=13, n_train=100, hidden=32, steps=10, eval_every=10), progress=False))


def test_energy_refuses_a_split_with_a_hint():
    split = TrainConfig(modulus=7, n_train=20, hidden=4, hint=1.0).split()
    with pytest.raises(ValueError, match="third input"):
        energy(torch.randn(3, 14), split)


def _dense_energy(w: torch.Tensor, split, term: str) -> torch.Tensor:
    """½‖Ỹᵀσ‖² with the n × M matrix Ỹ written out, for one term of σ(u_a + v_b) = u_a² + v_b² + 2·u_a·v_b."""
    w = w / w.norm(dim=1, keepdim=True)
    u, v = w[:, split.train_pairs[:, 0]], w[:, split.train_pairs[:, 1] + split.modulus]
    activation = {"full": (u + v) ** 2, "cross": 2 * u * v, "squares": u * u + v * v}[term]
    return 0.5 * (activation @ centered_targets(split.train_labels, split.modulus).to(activation.dtype)).pow(2).sum(dim=1)


@pytest.mark.parametrize("term", TERMS)
def test_energy_and_its_terms_match_the_written_out_formula(term):
    split = ModularTask(11).split(n_train=50, seed=3)
    w = torch.randn(5, 22, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert torch.allclose(energy(w, split, term), _dense_energy(w, split, term))


@pytest.mark.parametrize("term", TERMS)
def test_ascent_follows_the_tangent_gradient_of_each_term(term):
    """One small step moves along the part of ∇E tangent to the sphere, as autograd computes it."""
    split = ModularTask(11).split(n_train=60, seed=1)
    w = torch.randn(4, 22, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    w = w / w.norm(dim=1, keepdim=True)
    probe = w.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(_dense_energy(probe, split, term).sum(), probe)
    tangent = gradient - (gradient * w).sum(dim=1, keepdim=True) * w
    moved = ascend_energy(w, split, steps=1, step_size=1e-6, term=term) - w
    assert torch.allclose(moved / moved.norm(dim=1, keepdim=True), tangent / tangent.norm(dim=1, keepdim=True), atol=1e-5)


def test_on_the_whole_table_the_squares_carry_no_energy_and_fourier_features_are_cross_term_maxima():
    """On all M² pairs every class holds each token once, so u_a² + v_b² sums to the same total in every class."""
    pairs = ModularTask(13).pairs()
    split = Split(13, pairs, (pairs[:, 0] + pairs[:, 1]) % 13, pairs[:1], (pairs[:1, 0] + pairs[:1, 1]) % 13)
    w = torch.randn(6, 26, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert energy(w, split, "squares").abs().max() < 1e-12
    start = fourier_feature(13, 4, phases=(1.0, -0.3)).unsqueeze(0)
    assert fourier_concentration(ascend_energy(start, split, steps=200, term="cross"))[0] > 0.99


def test_crossings_are_bracketed_by_censuses_on_either_side():
    """Each searched crossing lies between a census below its level and one at or above it, within the tolerance."""
    crossings, censuses = landscape_crossings(13, seed=0, starts=24, steps=150, low=0.1, high=0.9, tolerance=0.5)
    assert list(crossings["crossing"]) == list(CROSSINGS)
    assert censuses["n_train"].is_monotonic_increasing and set(crossings[["low_n", "high_n"]].stack()) & set(censuses["n_train"])
    found = crossings.dropna(subset=["n"])
    assert len(found) >= 2
    assert (found["high_n"] - found["low_n"] <= max(0.5 * 13 * math.log(13), 1)).all()
    for row in found.itertuples():
        column, level = CROSSINGS[row.crossing]
        census = census_of_maxima(13, [row.low_n, row.high_n], starts=24, steps=150, seed=0)
        assert census[column].iloc[0] < level <= census[column].iloc[1]


def test_terms_must_be_named():
    split = ModularTask(7).split(n_train=20, seed=0)
    with pytest.raises(ValueError, match="term"):
        energy(torch.randn(2, 14), split, "square")
    with pytest.raises(ValueError, match="high"):
        landscape_crossings(7, low=0.5, high=0.4)


def test_adam_reach_is_the_steady_per_entry_step():
    start = torch.full((4, 25), 0.5)  # N = 100 entries, norm 5
    assert adam_reach(start, 1e-3, 10) == pytest.approx(1e-3 * 10 * 10 / 5)
    with pytest.raises(ValueError, match="all zero"):
        adam_reach(torch.zeros(3, 3), 1e-3, 10)
    with pytest.raises(ValueError, match="steps"):
        adam_reach(start, 1e-3, 0)
    with pytest.raises(ValueError, match="lr"):
        adam_reach(start, 0.0, 5)


def test_adam_moves_a_layer_about_as_far_as_its_reach():
    # Adam moves every entry by about lr per step, so a short run's share of the reach is close to 1
    weights = torch.nn.Parameter(torch.randn(20, 30) * 0.01)
    start = weights.detach().clone()
    optimizer = torch.optim.Adam([weights], lr=1e-3)
    target = torch.randn(20, 30)
    for _ in range(10):
        optimizer.zero_grad()
        (weights - target).pow(2).sum().backward()
        optimizer.step()
    moved = float((weights.detach() - start).norm() / start.norm())
    assert moved / adam_reach(start, 1e-3, 10) == pytest.approx(1.0, abs=0.05)


def test_feature_movement_is_zero_at_the_start_and_sees_rescaling():
    split = TrainConfig(modulus=11, n_train=60, hidden=8).split()
    net = TwoLayerNet(11, 8, generator=torch.Generator().manual_seed(0))
    same = feature_movement(net, net, split)
    assert same["feature_change"] == 0 and same["feature_cosine"] == pytest.approx(1.0)
    scaled = TwoLayerNet(11, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        scaled.W.mul_(2)  # F = (Wx)² grows four times: a change of 3, same direction
    moved = feature_movement(scaled, net, split)
    assert moved["feature_change"] == pytest.approx(3.0, rel=1e-5) and moved["feature_cosine"] == pytest.approx(1.0)
    other = TwoLayerNet(11, 8, generator=torch.Generator().manual_seed(1))
    assert feature_movement(other, net, split)["feature_cosine"] < 0.9
    with pytest.raises(ValueError, match="hidden nodes"):
        feature_movement(TwoLayerNet(11, 4), net, split)
    with pytest.raises(TypeError, match="model"):
        feature_movement("net", net, split)


def test_trajectory_separates_the_optimizer_from_the_features():
    result = train(TrainConfig(modulus=13, n_train=100, hidden=32, steps=40, eval_every=10), snapshot_every=20, progress=False)
    path = trajectory(result)
    assert path.loc[0, ["adam_share_W", "adam_share_V"]].isna().all()
    assert path.loc[1:, ["adam_share_W", "adam_share_V"]].gt(0).all().all()
    assert path.loc[1:, ["adam_share_W", "adam_share_V"]].le(1.2).all().all()  # no entry moves much faster than lr per step
    assert path.loc[0, "feature_change"] == 0 and path.loc[0, "feature_cosine"] == pytest.approx(1.0)
    assert path.loc[2, "feature_change"] > 0 and path["feature_cosine"].between(-1, 1 + 1e-6).all()
    muon = trajectory(
        train(
            TrainConfig(modulus=13, n_train=100, hidden=32, steps=20, eval_every=10, optimizer="muon", hidden_lr=0.02),
            snapshot_every=10,
            progress=False,
        )
    )
    assert muon["adam_share_W"].isna().all() and muon.loc[1:, "adam_share_V"].gt(0).all()


def test_stage_band_reads_every_threshold_and_marks_the_missing():
    path = pd.DataFrame({"step": [0, 10, 20, 30, 40, 50], "alignment": [0.0, 0.65, 0.85, 0.95, 0.7, 0.6]})
    band = stage_band(path, [0.6, 0.8, 0.99])
    assert list(band.columns) == ["alignment", "stage_two", "stage_three"]
    assert band.loc[0, ["stage_two", "stage_three"]].isna().all()  # never falls below 0.6 again after its peak
    assert tuple(band.loc[1, ["stage_two", "stage_three"]]) == (20, 40)
    assert band.loc[2, ["stage_two", "stage_three"]].isna().all()  # never reaches 0.99
    with pytest.raises(ValueError, match="alignments"):
        stage_band(path, [0.5, 1.5])
    with pytest.raises(TypeError, match="alignments"):
        stage_band(path, 0.8)
    with pytest.raises(ValueError, match="path"):
        stage_band(path.drop(columns="alignment"), [0.8])


def test_a_node_on_one_training_pair_is_focused_memorization():
    split = ModularTask(11).split(n_train=40, seed=0)
    a, b = (int(t) for t in split.train_pairs[0])
    ((ta, tb),) = [
        (int(x), int(y)) for x, y in ModularTask(11).pairs().tolist() if not ((split.train_pairs == torch.tensor([x, y])).all(dim=1).any())
    ][:1]
    w = torch.full((3, 22), 0.01)
    w[0, a], w[0, 11 + b] = 1.0, 1.0  # a training pair
    w[1, ta], w[1, 11 + tb] = 1.0, -1.0  # a test pair
    w[2, 3], w[2, 4] = 1.0, 1.0  # two tokens on the same input
    table = focused_pairs(w, split)
    assert (table["top_two_share"] > 0.95).all()
    assert list(table["training_pair"]) == [True, False, False]
    assert (table.loc[0, "a"], table.loc[0, "b"]) == (a, b) and table.loc[2, "a"] == -1


def test_crossings_over_moduli_and_seeds_are_in_both_units():
    found = crossings_over([11, 13], [0], starts=4, steps=20, low=0.1, high=0.9, tolerance=2.0)
    assert sorted(found["modulus"].unique()) == [11, 13] and set(found["crossing"]) == set(CROSSINGS)
    row = found.dropna(subset=["n"]).iloc[0]
    assert row["multiple"] == pytest.approx(row["n"] / (row["modulus"] * math.log(row["modulus"])))
    assert row["fraction"] == pytest.approx(row["n"] / row["modulus"] ** 2)


def test_anatomy_of_a_memorizing_and_a_fourier_maximum():
    split = ModularTask(11).split(n_train=30, seed=0)
    a, b = (int(x) for x in split.train_pairs[0])
    focused = torch.zeros(22)
    focused[a], focused[11 + b] = 1.0, 1.0
    w = torch.stack([focused / focused.norm(), fourier_feature(11, 2)])
    parts = anatomy_of_maxima(w, split)
    assert parts["kind"].tolist() == ["memorizing", "Fourier"]
    assert parts.loc[0, "top_two_share"] == pytest.approx(1.0) and bool(parts.loc[0, "training_pair"])
    assert parts["E"].tolist() == pytest.approx(energy(w, split).tolist())
    assert parts["squares"].tolist() == pytest.approx(energy(w, split, "squares").tolist())


def test_gradient_alignment_compares_each_loss_with_a_reference_and_the_li2_direction():
    from grokkit.theory import gradient_alignment

    run = train(TrainConfig(modulus=7, n_train=30, hidden=8, steps=4, eval_every=2), snapshot_every=2)
    found = gradient_alignment(run, ["mse", "cross_entropy"])
    assert list(found.columns) == ["step", "loss", "cosine_reference", "cosine_li2"]
    assert list(found["step"]) == [0, 0, 2, 2, 4, 4] and list(found["loss"]) == ["mse", "cross_entropy"] * 3
    assert found.loc[found["loss"] == "cross_entropy", "cosine_reference"].tolist() == pytest.approx([1.0] * 3)
    net = run.snapshots[2]
    expected = cosine(backprop_gradient(net, run.split, "mse"), li2_direction(net, run.split))
    assert found.loc[2, "cosine_li2"] == expected
    assert len(gradient_alignment(run, ["mse"], reference="multi_margin")) == 3  # the reference need not be listed
    with pytest.raises(ValueError, match="snapshots"):
        gradient_alignment(train(TrainConfig(modulus=7, n_train=30, hidden=8, steps=2, eval_every=2)), ["mse"])
    with pytest.raises(ValueError, match="losses"):
        gradient_alignment(run, ["nonsense"])
    with pytest.raises(TypeError, match="TrainResult"):
        gradient_alignment(run.model, ["mse"])


def test_crossing_medians_are_taken_over_seeds_with_their_range():
    found = pd.DataFrame(
        {
            "energy": ["E"] * 4 + ["E×"] * 2,
            "crossing": ["stay", "stay", "reach", "reach", "stay", "stay"],
            "modulus": [11] * 6,
            "seed": [0, 1, 0, 1, 0, 1],
            "n": [30.0, 40.0, 50.0, 70.0, 20.0, math.nan],
        }
    )
    found["multiple"], found["fraction"] = found["n"] / mlnm(11), found["n"] / 121
    medians = crossing_medians(found, "energy")
    assert list(medians.columns) == ["energy", "crossing", "modulus", "n", "multiple", "low", "high", "fraction"]
    assert medians[["energy", "crossing"]].values.tolist() == [["E", "stay"], ["E", "reach"], ["E×", "stay"]]
    assert medians["n"].tolist() == [35.0, 60.0, 20.0]
    assert medians.loc[1, "low"] == pytest.approx(50 / mlnm(11)) and medians.loc[1, "high"] == pytest.approx(70 / mlnm(11))
    assert len(crossing_medians(found[found["energy"] == "E"])) == 2
    with pytest.raises(ValueError, match="found lacks the columns"):
        crossing_medians(found.drop(columns="fraction"), "energy")
    with pytest.raises(TypeError, match="column name"):
        crossing_medians(found, [1])


def test_census_and_crossings_give_n_in_units_of_m_ln_m():
    census = census_of_maxima(11, [20, 40], starts=4, steps=10)
    assert census["multiple"].tolist() == pytest.approx([20 / mlnm(11), 40 / mlnm(11)])
    crossings, _ = landscape_crossings(11, starts=4, steps=10, low=0.1, high=0.9, tolerance=2.0)
    found = crossings.dropna(subset=["n"])
    assert (found["multiple"] == found["n"] / mlnm(11)).all() and (found["fraction"] == found["n"] / 121).all()


def test_alignment_summary_reads_the_first_and_last_step_and_the_peak():
    from grokkit.theory import alignment_summary

    alignment = pd.DataFrame(
        {
            "step": [0, 0, 2, 2, 4, 4],
            "loss": ["mse", "cross_entropy"] * 3,
            "cosine_reference": [0.9, 1.0, 0.5, 1.0, 0.1, 1.0],
            "cosine_li2": [0.1, 0.2, 0.8, 0.6, 0.3, 0.4],
        }
    )
    summary = alignment_summary(alignment)
    assert list(summary.index) == ["mse", "cross_entropy"]
    assert list(summary.columns) == ["cos_start", "cos_end", "li2_start", "li2_end", "li2_peak"]
    assert summary.loc["mse"].tolist() == [0.9, 0.1, 0.1, 0.3, 0.8]
    assert summary.loc["cross_entropy"].tolist() == [1.0, 1.0, 0.2, 0.4, 0.6]
    with pytest.raises(ValueError, match="alignment lacks the columns"):
        alignment_summary(alignment.drop(columns="cosine_li2"))
    with pytest.raises(ValueError, match="one row per loss and step"):
        alignment_summary(pd.concat([alignment, alignment]))
    with pytest.raises(ValueError, match="NaN"):
        alignment_summary(alignment.assign(cosine_li2=math.nan))
    with pytest.raises(TypeError, match="DataFrame"):
        alignment_summary(alignment.to_dict())
