"""The Fourier tools: the hand-built network, keeping and removing frequencies, Nanda's progress measures."""

import math

import pandas as pd
import pytest
import torch

from grokkit import ModularTask, TwoLayerNet
from grokkit.fourier import (
    distinct_frequencies,
    dominant_frequency,
    fourier_basis,
    fourier_concentration,
    fourier_feature,
    fourier_network,
    fourier_plane,
    frequencies_needed,
    keep_node_frequencies,
    key_frequencies,
    logit_power,
    logit_table,
    mask_node_frequencies,
    nanda_excluded_logits,
    nanda_excluded_loss,
    nanda_restricted_logits,
    nanda_restricted_loss,
    node_description_size,
    node_spectrum,
    progress_measures,
    projector,
    strongest_node_frequencies,
    table_loss,
    variant_restricted_logits,
)
from grokkit.metrics import circularity, first_step_moving


def accuracy(logits: torch.Tensor) -> float:
    m = logits.shape[0]
    r = torch.arange(m)
    return float((logits.argmax(dim=2) == (r.view(-1, 1) + r.view(1, -1)) % m).float().mean())


def test_basis_is_orthonormal():
    basis = fourier_basis(11).double()
    assert torch.allclose(basis @ basis.t(), torch.eye(11, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("modulus, frequencies", [(7, [1]), (23, [4]), (31, [2, 9]), (113, [17])])
def test_hand_built_network_solves_every_pair(modulus, frequencies):
    net = fourier_network(modulus, frequencies)
    assert net.hidden == 9 * len(frequencies)
    logits = logit_table(net, modulus)
    assert accuracy(logits) == 1.0
    assert key_frequencies(logits) == sorted(frequencies)


def test_hand_built_logits_are_half_cosine_of_the_answer_distance():
    m, k = 13, 3
    logits = logit_table(fourier_network(m, [k]), m)
    r = torch.arange(m)
    distance = (r.view(-1, 1, 1) + r.view(1, -1, 1) - r.view(1, 1, -1)).double()
    # V is scaled by 2/9 so the nine nodes together output cos θ(a + b − c) exactly
    assert torch.allclose(logits.double(), torch.cos(2 * math.pi * k * distance / m), atol=1e-5)


def test_the_variant_keeps_the_algorithm():
    m = 23
    logits = logit_table(fourier_network(m, [3, 7]), m)
    assert torch.allclose(variant_restricted_logits(logits, [3, 7]), logits - logits.mean(dim=2, keepdim=True), atol=1e-5)
    assert accuracy(variant_restricted_logits(logits, [3])) == 1.0


def authors_projection(logits: torch.Tensor, frequencies: list[int]) -> torch.Tensor:
    """The projection as the authors' code writes it: each class's column of the (M², M) logits is
    projected on the normalized cos and sin (a + b) directions over all pairs, frequency by frequency."""
    m = logits.shape[0]
    flat = logits.double().reshape(m * m, m)
    r = torch.arange(m, dtype=torch.float64)
    total = torch.zeros_like(flat)
    for k in frequencies:
        angle = 2 * math.pi * k * (r.view(-1, 1) + r.view(1, -1)) / m
        for wave in (torch.cos(angle), torch.sin(angle)):
            direction = (wave / wave.norm()).reshape(-1, 1)
            total += direction @ (direction.t() @ flat)
    return total.reshape(m, m, m)


def test_nanda_logits_match_the_authors_projection():
    m, keys = 13, [2, 5]
    logits = torch.randn(m, m, m, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    projected = authors_projection(logits, keys)
    class_means = logits.mean(dim=(0, 1), keepdim=True)  # bias correction: each class's mean over all pairs
    assert torch.allclose(nanda_restricted_logits(logits, keys), projected + class_means, atol=1e-10)
    assert torch.allclose(nanda_excluded_logits(logits, keys), logits - projected, atol=1e-10)


def test_nanda_projections_are_idempotent_and_complementary():
    m, keys = 11, [1, 4]
    logits = torch.randn(m, m, m, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    restricted, excluded = nanda_restricted_logits(logits, keys), nanda_excluded_logits(logits, keys)
    assert torch.allclose(nanda_restricted_logits(restricted, keys), restricted, atol=1e-10)
    assert torch.allclose(nanda_excluded_logits(excluded, keys), excluded, atol=1e-10)
    means = logits.mean(dim=(0, 1), keepdim=True)
    assert torch.allclose(restricted - means + excluded, logits, atol=1e-10)  # the two parts add up to the logits
    assert float(((restricted - means) * excluded).sum()) == pytest.approx(0.0, abs=1e-8)  # and are orthogonal
    # the a + b − c variant lies inside Nanda's restricted space: restricting it again changes nothing but the mean
    variant = variant_restricted_logits(logits, keys)
    assert torch.allclose(nanda_restricted_logits(variant, keys), variant + variant.mean(dim=(0, 1), keepdim=True), atol=1e-10)


def test_on_a_fourier_network_the_restricted_loss_is_low_and_the_excluded_loss_high():
    m, keys = 23, [3, 7]
    logits = logit_table(fourier_network(m, keys), m)
    train = ModularTask(m).split(n_train=150, seed=0).train_pairs
    own = table_loss(logits, train)
    assert nanda_restricted_loss(logits, keys) == pytest.approx(table_loss(logits, ModularTask(m).pairs()), abs=1e-5)
    assert nanda_excluded_loss(logits, keys, train) == pytest.approx(math.log(m), abs=1e-4)  # nothing left: uniform
    assert nanda_excluded_loss(logits, keys, train) > own + 0.5
    assert accuracy(nanda_restricted_logits(logits, keys)) == 1.0
    assert accuracy(nanda_excluded_logits(logits, keys)) < 0.2
    # keeping only one of its two frequencies still answers every pair; keeping another frequency does not help
    assert accuracy(nanda_restricted_logits(logits, [3])) == 1.0
    assert nanda_restricted_loss(logits, [1]) == pytest.approx(math.log(m), abs=1e-4)
    assert nanda_excluded_loss(logits, [1], train) == pytest.approx(own, abs=1e-5)


def test_on_a_random_network_the_key_frequencies_carry_little():
    m = 23
    net = TwoLayerNet(m, 64, generator=torch.Generator().manual_seed(0))
    logits = logit_table(net, m)
    pairs = ModularTask(m).pairs()
    train = ModularTask(m).split(n_train=150, seed=0).train_pairs
    # removing two frequencies' (a + b) directions, 4 of M² per class, barely changes a spread-out network
    assert abs(nanda_excluded_loss(logits, [3, 7], train) - table_loss(logits, train)) < 0.02
    # and what they keep is close to no information: the restricted loss stays near that of uniform guessing
    assert abs(nanda_restricted_loss(logits, [3, 7]) - math.log(m)) < 0.05
    assert nanda_restricted_loss(logits, [3, 7], pairs=pairs[:40]) == pytest.approx(table_loss(nanda_restricted_logits(logits, [3, 7]), pairs[:40]))


def test_progress_measures_of_snapshots():
    m, keys = 13, [2]
    split = ModularTask(m).split(n_train=60, seed=0)
    random = TwoLayerNet(m, 18, generator=torch.Generator().manual_seed(1))
    snapshots = {10: fourier_network(m, keys), 0: random}
    frame = progress_measures(snapshots, m, keys, split.train_pairs, "cross_entropy", test_pairs=split.test_pairs)
    assert list(frame["step"]) == [0, 10]
    assert list(frame.columns) == ["step", "restricted loss", "excluded loss", "variant restricted loss", "restricted loss on test pairs"]
    built = logit_table(snapshots[10], m)
    assert frame["restricted loss"].iloc[1] == pytest.approx(nanda_restricted_loss(built, keys))
    assert frame["excluded loss"].iloc[1] == pytest.approx(nanda_excluded_loss(built, keys, split.train_pairs))
    assert frame["restricted loss"].iloc[1] < frame["restricted loss"].iloc[0]  # the algorithm formed
    assert frame["excluded loss"].iloc[1] > frame["excluded loss"].iloc[0] - 0.1
    assert "restricted loss on test pairs" not in progress_measures(snapshots, m, keys, split.train_pairs).columns


def test_logit_power_finds_the_frequencies_in_use():
    power = logit_power(logit_table(fourier_network(31, [5]), 31))
    assert power.shape == (15,)
    assert power[4] == pytest.approx(1.0, abs=1e-4)
    assert float(power.sum()) == pytest.approx(1.0, abs=1e-4)


def test_projector_is_idempotent_and_keeps_its_frequencies():
    p = projector(17, [2, 5]).double()
    assert torch.allclose(p @ p, p, atol=1e-6)
    assert torch.trace(p) == pytest.approx(5, abs=1e-5)  # constant + two (cos, sin) pairs


def test_keeping_a_networks_own_frequencies_changes_nothing():
    net = fourier_network(19, [2, 6])
    assert torch.allclose(logit_table(keep_node_frequencies(net, 1), 19), logit_table(net, 19), atol=1e-5)
    removed = mask_node_frequencies(net, strongest_node_frequencies(net, 1), keep=False)
    assert float(logit_table(removed, 19).abs().max()) < 1e-5


def test_description_size_counts_numbers_per_node():
    net = TwoLayerNet(11, 6)
    assert node_description_size(net, 2) == 6 * (3 + 14)


def test_embeddings_of_a_fourier_network_lie_on_a_circle_and_random_ones_do_not():
    m = 29
    net = fourier_network(m, [4])
    assert circularity(fourier_plane(net.W.detach()[:, :m].t(), 4)) < 1e-4
    cloud = fourier_plane(torch.randn(m, 16, generator=torch.Generator().manual_seed(0)), 4)
    assert circularity(cloud) > 0.2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: fourier_basis(10), "odd"),
        (lambda: fourier_network(11, [6]), "frequencies entry must be <= 5"),
        (lambda: fourier_network(11, []), "at least one"),
        (lambda: fourier_network(11, "3"), "sequence of ints"),
        (lambda: key_frequencies(torch.zeros(5, 5)), r"\(M, M, M\)"),
        (lambda: keep_node_frequencies(TwoLayerNet(11, 4), 6), "per_node must be <= 5"),
        (lambda: mask_node_frequencies(TwoLayerNet(11, 4), torch.ones(3, 1, dtype=torch.long), keep=True), r"\(4, r\)"),
        (lambda: fourier_plane(torch.zeros(11), 1), "2-D float tensor"),
        (lambda: nanda_restricted_logits(torch.zeros(7, 7, 7), []), "at least one key frequency"),
        (lambda: nanda_excluded_logits(torch.zeros(7, 7), [1]), r"\(M, M, M\)"),
        (lambda: nanda_excluded_loss(torch.zeros(7, 7, 7), [1], torch.zeros(0, 2, dtype=torch.long)), "train_pairs"),
        (lambda: nanda_excluded_loss(torch.zeros(7, 7, 7), [1], torch.full((3, 2), 7)), "train_pairs"),
        (lambda: nanda_restricted_loss(torch.zeros(7, 7, 7), [4]), "frequencies entry must be <= 3"),
        (lambda: nanda_restricted_loss(torch.zeros(7, 7, 7), [1], "hinge?"), "loss must be one of"),
        (lambda: progress_measures({}, 7, [1], torch.zeros(3, 2, dtype=torch.long)), "snapshots"),
        (lambda: progress_measures([TwoLayerNet(7, 4)], 7, [1], torch.zeros(3, 2, dtype=torch.long)), "snapshots"),
        (lambda: progress_measures({0: TwoLayerNet(7, 4)}, 8, [1], torch.zeros(3, 2, dtype=torch.long)), "modulus"),
        (lambda: progress_measures({-1: TwoLayerNet(7, 4)}, 7, [1], torch.zeros(3, 2, dtype=torch.long)), "snapshots step"),
        (lambda: progress_measures({0: TwoLayerNet(7, 4)}, 7, [1], torch.zeros(3, 2)), "train_pairs"),
        (lambda: first_step_moving(pd.DataFrame({"step": [0, 1], "x": [1.0, 1.0]}), "x"), "ends where it starts"),
        (lambda: first_step_moving(pd.DataFrame({"step": [0, 1], "x": [1.0, 0.0]}), "y"), "column must be one of"),
        (lambda: first_step_moving(pd.DataFrame({"step": [0, 1], "x": [1.0, 0.0]}), "x", 1.5), "fraction"),
        (lambda: first_step_moving(pd.DataFrame({"step": [0, 1], "x": [1.0, math.nan]}), "x"), "missing"),
    ],
)
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_frequencies_needed_is_one_for_a_fourier_network_and_more_for_a_random_one():
    m = 13
    pairs, labels = ModularTask(m).pairs(), ModularTask(m).labels()
    assert frequencies_needed(fourier_network(m, [2, 5]), pairs, labels) == 1
    random = TwoLayerNet(m, 32, generator=torch.Generator().manual_seed(0))
    wanted = float((random(pairs).argmax(dim=1) == labels).float().mean())
    assert frequencies_needed(random, pairs, random(pairs).argmax(dim=1).detach()) > 1  # its own answers need many
    assert frequencies_needed(random, pairs, labels, accuracy=min(1.0, wanted + 0.5)) is None


def test_spectrum_keeps_the_power_and_finds_the_frequency():
    mixed = sum(fourier_feature(13, k) for k in (2, 3, 5))  # a third of its power in each of three frequencies
    weights = torch.stack([fourier_feature(13, k, phases=(0.3, 1.1)) for k in (1, 4, 6)] + [mixed])
    power = node_spectrum(weights)
    torch.testing.assert_close(power.sum(dim=1), weights.pow(2).sum(dim=1))
    assert dominant_frequency(weights)[:3].tolist() == [1, 4, 6]
    concentration = fourier_concentration(weights)
    assert (concentration[:3] > 0.999).all() and concentration[3] == pytest.approx(1 / 3, abs=0.02)
    assert distinct_frequencies(weights) == 3


def test_weight_frequencies_are_the_fewest_carrying_the_share_as_key_frequencies_are():
    from grokkit.fourier import weight_frequencies

    built = fourier_network(13, [2, 5])
    assert weight_frequencies(built) == [2, 5]
    assert key_frequencies(logit_table(built, 13)) == [2, 5]  # the same rule, on the logits
    assert weight_frequencies(built, 0.4) in ([2], [5])
    random = TwoLayerNet(31, 64, generator=torch.Generator().manual_seed(0))
    assert len(weight_frequencies(random)) > 10, "a random network spreads its power over most frequencies"
    with pytest.raises(ValueError, match="share"):
        weight_frequencies(built, 0.0)
    with pytest.raises(TypeError, match="TwoLayerNet"):
        weight_frequencies(torch.zeros(4, 26))
    empty = TwoLayerNet(13, 4)
    with torch.no_grad():
        empty.W.zero_()
    with pytest.raises(ValueError, match="no power"):
        weight_frequencies(empty)


def test_frequency_share_is_each_nodes_share_at_its_frequency():
    from grokkit.fourier import frequency_share

    built = fourier_network(13, [3])
    assert torch.allclose(frequency_share(built, torch.full((9,), 3)), torch.ones(9), atol=1e-5)
    assert float(frequency_share(built, torch.full((9,), 4)).max()) < 1e-5
    random = TwoLayerNet(13, 6)
    total = sum(frequency_share(random, torch.full((6,), k)) for k in range(7))
    assert torch.allclose(total, torch.ones(6), atol=1e-5), "the shares of all frequencies add up to one"
    with pytest.raises(ValueError, match=r"\(6,\) integer tensor"):
        frequency_share(random, torch.ones(6))
    with pytest.raises(ValueError, match="between 0 and 6"):
        frequency_share(random, torch.full((6,), 7))


def test_pruning_curve_reaches_the_level_where_frequencies_needed_says():
    from grokkit.fourier import pruning_curve

    built = fourier_network(11, [2])
    task = ModularTask(11)
    curve = pruning_curve(built, task.pairs(), task.labels())
    assert list(curve.columns) == ["per_node", "accuracy", "numbers"]
    assert list(curve["per_node"]) == [1, 2, 3, 4, 5] and (curve["accuracy"] == 1.0).all()
    assert list(curve["numbers"]) == [node_description_size(built, r) for r in range(1, 6)]
    random = TwoLayerNet(11, 32, generator=torch.Generator().manual_seed(3))
    curve = pruning_curve(random, task.pairs(), task.labels())
    assert curve["accuracy"].nunique() > 1
    for level in curve["accuracy"].unique():
        reached = curve.loc[curve["accuracy"] >= level, "per_node"]
        assert frequencies_needed(random, task.pairs(), task.labels(), float(level)) == int(reached.min())
    assert frequencies_needed(random, task.pairs(), task.labels(), 1.0) is None or curve["accuracy"].max() == 1.0
    with pytest.raises(ValueError, match="at least one pair"):
        pruning_curve(built, task.pairs()[:0], task.labels()[:0])


def test_frequency_ablations_keep_lose_and_control():
    from grokkit.fourier import ABLATIONS, frequency_ablations

    built = fourier_network(13, [4])
    task = ModularTask(13)
    nets = frequency_ablations(built)
    assert tuple(nets) == ABLATIONS and nets["trained"] is built
    correct = {name: float((logit_table(net, 13).argmax(dim=2).reshape(-1) == task.labels()).float().mean()) for name, net in nets.items()}
    assert correct["each node keeps only its own frequency"] == 1.0
    assert correct["each node loses one other frequency"] == 1.0
    assert correct["each node loses its own frequency"] < 0.2
    with pytest.raises(ValueError, match="modulus >= 5"):
        frequency_ablations(fourier_network(3, [1]))
    with pytest.raises(ValueError, match="seed"):
        frequency_ablations(built, seed=-1)


def test_token_embeddings_and_their_spectrum():
    from grokkit.fourier import embedding_spectrum, token_embeddings
    from grokkit.transformer import OneLayerTransformer

    built = fourier_network(13, [5])
    assert torch.equal(token_embeddings(built), built.W.detach()[:, :13].t())
    spectrum = embedding_spectrum(token_embeddings(built))
    assert spectrum.shape == (6,) and float(spectrum[4]) == pytest.approx(1.0, abs=1e-5)
    transformer = OneLayerTransformer(13, d_model=8, heads=2, d_mlp=16)
    assert torch.equal(token_embeddings(transformer), transformer.embed.detach()[:13])
    assert float(embedding_spectrum(token_embeddings(transformer)).sum()) == pytest.approx(1.0)
    with pytest.raises(TypeError, match="TwoLayerNet or a OneLayerTransformer"):
        token_embeddings(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="M odd"):
        embedding_spectrum(torch.randn(12, 3))
    with pytest.raises(ValueError, match="same for every token"):
        embedding_spectrum(torch.ones(13, 3))


def test_run_progress_measures_join_the_measures_with_the_history():
    from grokkit import TrainConfig, train
    from grokkit.fourier import run_progress_measures

    run = train(TrainConfig(modulus=11, n_train=60, hidden=16, steps=10, eval_every=5), snapshot_every=5)
    found = run_progress_measures(run, [1, 2], on_test_pairs=True)
    expected = progress_measures(run.snapshots, 11, [1, 2], run.split.train_pairs, run.config.loss, test_pairs=run.split.test_pairs).merge(
        run.history, on="step"
    )
    pd.testing.assert_frame_equal(found, expected)
    assert "restricted loss on test pairs" not in run_progress_measures(run, [1, 2]).columns
    with pytest.raises(TypeError, match="TrainResult or a TransformerResult"):
        run_progress_measures(run.snapshots, [1, 2])
    with pytest.raises(ValueError, match="no snapshots"):
        run_progress_measures(train(TrainConfig(modulus=11, n_train=60, hidden=16, steps=5, eval_every=5)), [1])


def test_frequencies_over_training_counts_each_snapshot_in_step_order():
    from dataclasses import replace

    from grokkit import TrainConfig, train
    from grokkit.fourier import frequencies_over_training

    run = train(TrainConfig(modulus=11, n_train=60, hidden=16, steps=10, eval_every=5), snapshot_every=5)
    counted = frequencies_over_training(run)
    assert list(counted["step"]) == sorted(run.snapshots)
    assert list(counted["frequencies"]) == [distinct_frequencies(run.snapshots[step]) for step in sorted(run.snapshots)]
    built = replace(run, snapshots={10: fourier_network(11, [1, 2, 3]), 0: fourier_network(11, [4])})
    table = frequencies_over_training(built)
    assert list(table.columns) == ["step", "frequencies"]
    assert list(table["step"]) == [0, 10] and list(table["frequencies"]) == [1, 3]
    with pytest.raises(TypeError, match="TrainResult"):
        frequencies_over_training(run.model)
    with pytest.raises(ValueError, match="snapshot_every"):
        frequencies_over_training(replace(run, snapshots={}))
    with pytest.raises(ValueError, match="concentration"):
        frequencies_over_training(run, concentration=1.5)


def test_frequency_locking_follows_each_node_at_its_final_frequency():
    from dataclasses import replace

    from grokkit import TrainConfig, train
    from grokkit.fourier import frequency_locking, frequency_share

    built = fourier_network(11, [3, 1])  # the first nine nodes at frequency 3, the next nine at 1
    run = train(TrainConfig(modulus=11, n_train=60, hidden=built.hidden, steps=10, eval_every=5), snapshot_every=5)
    locked = replace(run, model=built, snapshots={**run.snapshots, 10: built})
    table = frequency_locking(locked)
    assert list(table.columns) == [0, 5, 10] and table.index.name == "node"
    assert list(table.index) == list(range(9, 18)) + list(range(9))  # sorted by final frequency: 1 before 3
    assert table[10].tolist() == pytest.approx([1.0] * 18)
    final = torch.tensor([3] * 9 + [1] * 9)
    assert table.loc[4, 0] == pytest.approx(float(frequency_share(run.snapshots[0], final)[4]))
    with pytest.raises(TypeError, match="TrainResult"):
        frequency_locking(built)
    with pytest.raises(ValueError, match="snapshot_every"):
        frequency_locking(replace(run, snapshots={}))


def test_top_frequency_share_of_a_two_layer_network_and_of_a_transformer():
    from dataclasses import replace

    from grokkit import TrainConfig, train
    from grokkit.fourier import embedding_spectrum, token_embeddings, top_frequency_share
    from grokkit.transformer import TransformerConfig, train_transformer

    built = fourier_network(11, [3, 1])
    run = train(TrainConfig(modulus=11, n_train=60, hidden=built.hidden, steps=10, eval_every=5), snapshot_every=5)
    sparse = replace(run, model=built, snapshots={**run.snapshots, 10: built})
    shares = top_frequency_share(sparse, 2)
    assert list(shares.index) == [0, 5, 10] and shares[10] == pytest.approx(1.0)
    start = embedding_spectrum(token_embeddings(run.snapshots[0]))
    assert shares[0] == pytest.approx(float(start[0] + start[2]))  # frequencies 1 and 3
    assert top_frequency_share(sparse, 5).tolist() == pytest.approx([1.0] * 3)  # every frequency
    config = TransformerConfig(modulus=7, train_fraction=0.5, d_model=8, heads=2, d_mlp=8, steps=4, eval_every=2)
    transformer = train_transformer(config, snapshot_every=2, progress=False)
    assert list(top_frequency_share(transformer, 1).index) == [0, 2, 4]
    with pytest.raises(ValueError, match="count"):
        top_frequency_share(sparse, 6)
    with pytest.raises(TypeError, match="TrainResult or a TransformerResult"):
        top_frequency_share(built, 1)
    with pytest.raises(ValueError, match="snapshot_every"):
        top_frequency_share(run.__class__(run.config, run.model, run.split, run.history), 1)
