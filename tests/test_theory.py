import math

import pandas as pd
import pytest
import torch

from grokkit import ModularTask, TrainConfig, TwoLayerNet, train
from grokkit.losses import LOSSES
from grokkit.metrics import critical_n, distinct_frequencies, dominant_frequency, frequency_concentration, node_spectrum, weight_distance
from grokkit.theory import (
    ascend_energy, backprop_gradient, census_of_maxima, cosine, energy, fourier_feature, li2_direction,
    predicted_critical_n, stage_boundaries, trajectory,
)


def test_spectrum_keeps_the_power_and_finds_the_frequency():
    mixed = sum(fourier_feature(13, k) for k in (2, 3, 5))  # a third of its power in each of three frequencies
    weights = torch.stack([fourier_feature(13, k, phases=(0.3, 1.1)) for k in (1, 4, 6)] + [mixed])
    power = node_spectrum(weights)
    torch.testing.assert_close(power.sum(dim=1), weights.pow(2).sum(dim=1))
    assert dominant_frequency(weights)[:3].tolist() == [1, 4, 6]
    concentration = frequency_concentration(weights)
    assert (concentration[:3] > 0.999).all() and concentration[3] == pytest.approx(1 / 3, abs=0.02)
    assert distinct_frequencies(weights) == 3


def test_weight_distance_is_relative_to_the_start():
    net = TwoLayerNet(7, 5)
    assert weight_distance(net, net) == {"W": 0.0, "V": 0.0}
    moved = TwoLayerNet(7, 5)
    with torch.no_grad():
        moved.W.mul_(3)
    assert weight_distance(moved, net)["W"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="differ in shape"):
        weight_distance(TwoLayerNet(7, 6), net)


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
    assert frequency_concentration(end)[0] > 0.99
    assert (energy(end, split) >= energy(start, split) - 1e-6).all()
    assert torch.allclose(end.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match=r"w must have shape \(S, 26\)"):
        energy(torch.randn(2, 10), split)


def test_census_counts_fourier_maxima_more_often_with_more_data():
    census = census_of_maxima(13, [20, 160], starts=32, steps=150)
    assert list(census["n_train"]) == [20, 160]
    assert census["fourier_share"].iloc[0] < census["fourier_share"].iloc[1]
    assert census["fourier_starts_stay"].iloc[1] == 1.0


def test_critical_n_needs_the_majority_at_that_n_and_every_larger_one():
    rows = [(23, n, s, step) for n, steps in [(100, [None] * 3), (150, [90, None, 80]), (200, [None, None, 60]), (250, [50, 40, 30])]
            for s, step in enumerate(steps)]
    rows += [(31, 300, s, None) for s in range(3)]
    table = pd.DataFrame(rows, columns=["modulus", "n_train", "seed", "generalised_step"])
    result = critical_n(table).set_index("modulus")["critical_n"]
    assert result[23] == 250 and pd.isna(result[31])
    with pytest.raises(ValueError, match="lacks the columns"):
        critical_n(table.drop(columns="seed"))


def test_predicted_critical_n():
    assert predicted_critical_n(71, 2.75) == pytest.approx(2.75 * 71 * math.log(71))


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


def test_pairs_for_counts_in_units_of_the_scaling_law():
    from grokkit.theory import pairs_for

    assert pairs_for(71, 5) == round(5 * 71 * math.log(71))
    assert pairs_for(17, 8) == 17 * 17 - 1  # capped: at least one test pair remains
    with pytest.raises(ValueError, match="multiple"):
        pairs_for(71, 0)
    with pytest.raises(TypeError, match="modulus"):
        pairs_for(71.0, 5)
