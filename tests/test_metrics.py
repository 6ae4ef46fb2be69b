"""Measures of a representation: effective rank, CKA and consistency under the task's symmetries."""

import pandas as pd
import pytest
import torch

from grokkit import ModularTask, TwoLayerNet
from grokkit.fourier import fourier_network
from grokkit.metrics import (
    accuracy,
    circularity,
    commutativity,
    effective_rank,
    first_step_moving,
    linear_cka,
    prediction_table,
    shift_equivariance,
    weight_distance,
)


def test_effective_rank_counts_equal_directions():
    assert effective_rank(torch.eye(6)) == pytest.approx(6)
    assert effective_rank(torch.outer(torch.arange(1.0, 5.0), torch.ones(3))) == pytest.approx(1)


def test_cka_is_invariant_to_rotation_and_scale_and_low_for_unrelated_features():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 8, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert linear_cka(x, 3 * x @ rotation) == pytest.approx(1.0, abs=1e-6)
    assert linear_cka(x, torch.randn(500, 8, generator=g)) < 0.1


def test_a_perfect_table_is_fully_consistent():
    m = 13
    table = prediction_table(fourier_network(m, [2]), m)
    train = ModularTask(m).split(n_train=60, seed=0).train_pairs
    assert commutativity(table, train) == 1.0
    assert shift_equivariance(table) == 1.0


def test_a_random_table_is_consistent_by_chance_only():
    m = 31
    table = torch.randint(0, m, (m, m), generator=torch.Generator().manual_seed(1))
    train = ModularTask(m).split(n_train=300, seed=0).train_pairs
    assert commutativity(table, train) < 0.15
    assert shift_equivariance(table) == pytest.approx(1 / m, abs=0.01)


def test_commutativity_counts_only_pairs_trained_in_one_order():
    table = torch.tensor([[0, 1], [0, 1]])  # f(0, 1) = 1 but f(1, 0) = 0
    assert commutativity(table, torch.tensor([[0, 1]])) == 0.0
    with pytest.raises(ValueError, match="swap missing"):
        commutativity(table, torch.tensor([[0, 1], [1, 0]]))


def test_circularity():
    angle = torch.arange(50) * 2 * torch.pi / 50
    assert circularity(torch.stack([angle.cos(), angle.sin()], dim=1)) < 1e-3


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: effective_rank(torch.ones(3)), "2-D float"),
        (lambda: linear_cka(torch.ones(3, 2), torch.ones(4, 2)), "same inputs"),
        (lambda: shift_equivariance(torch.zeros(3, 3)), "integer tensor"),
        (lambda: commutativity(torch.zeros(3, 3, dtype=torch.long), torch.tensor([[0, 5]])), r"entries must be in \[0, 2\]"),
        (lambda: circularity(torch.zeros(4, 3)), r"\(n, 2\)"),
    ],
)
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_shares_give_a_wilson_interval_per_group():
    from grokkit.metrics import shares

    table = pd.DataFrame({"lr": [1e-3] * 10 + [1e-2] * 10, "ok": [True] * 5 + [False] * 5 + [True] * 10})
    found = shares(table, "lr", "ok").set_index("lr")
    assert list(found["runs"]) == [10, 10] and list(found["successes"]) == [5, 10]
    assert found.loc[1e-3, "share"] == 0.5 and found.loc[1e-3, "low"] == pytest.approx(0.2366, abs=1e-3)
    assert found.loc[1e-3, "high"] == pytest.approx(0.7634, abs=1e-3)
    assert found.loc[1e-2, "high"] == 1.0 and found.loc[1e-2, "low"] == pytest.approx(0.7225, abs=1e-3)
    assert shares(table, "lr", "ok", level=0.5).loc[0, "high"] < found.loc[1e-3, "high"], "a lower level gives a narrower interval"


def test_shares_refuse_a_column_that_is_not_true_or_false():
    from grokkit.metrics import shares

    with pytest.raises(ValueError, match="True and False"):
        shares(pd.DataFrame({"lr": [1, 2], "ok": [0.3, 0.9]}), "lr", "ok")
    with pytest.raises(ValueError, match="lacks the columns"):
        shares(pd.DataFrame({"lr": [1]}), "lr", "ok")
    with pytest.raises(ValueError, match="level"):
        shares(pd.DataFrame({"lr": [1], "ok": [True]}), "lr", "ok", level=1.0)


def test_shares_at_least_stack_one_block_per_threshold():
    from grokkit.metrics import shares, shares_at_least

    table = pd.DataFrame({"lr": [1e-3] * 4 + [1e-2] * 4, "acc": [10.0, 60.0, 95.0, 99.5, 40.0, 55.0, 92.0, 93.0]})
    found = shares_at_least(table, "lr", "acc", [50, 90, 99])
    assert list(found.columns) == ["lr", "runs", "successes", "share", "low", "high", "at_least"]
    assert found["at_least"].tolist() == [50, 50, 90, 90, 99, 99] and found["successes"].tolist() == [3, 3, 2, 2, 1, 0]
    at_90 = shares(table.assign(ok=table["acc"] >= 90), "lr", "ok")
    pd.testing.assert_frame_equal(found[found["at_least"] == 90].drop(columns="at_least").reset_index(drop=True), at_90)
    with pytest.raises(ValueError, match="numbers"):
        shares_at_least(table.assign(acc="high"), "lr", "acc", [50])
    with pytest.raises(ValueError, match="thresholds"):
        shares_at_least(table, "lr", "acc", [])
    with pytest.raises(ValueError, match="thresholds"):
        shares_at_least(table, "lr", "acc", [float("nan")])
    with pytest.raises(ValueError, match="table lacks the columns"):
        shares_at_least(table, "lr", "loss", [50])


def test_weight_distance_is_relative_to_the_start():
    net = TwoLayerNet(7, 5)
    assert weight_distance(net, net) == {"W": 0.0, "V": 0.0}
    moved = TwoLayerNet(7, 5)
    with torch.no_grad():
        moved.W.mul_(3)
    assert weight_distance(moved, net)["W"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="differ in shape"):
        weight_distance(TwoLayerNet(7, 6), net)


def test_first_step_moving():
    frame = pd.DataFrame({"step": [0, 10, 20, 30], "loss": [1.0, 0.95, 0.5, 0.0], "acc": [0.0, 0.0, 0.2, 1.0]})
    assert first_step_moving(frame, "loss", 0.1) == 20  # 0.95 has covered only 5 % of the way down
    assert first_step_moving(frame, "loss", 0.05) == 10
    assert first_step_moving(frame, "acc", 0.1) == 20
    assert first_step_moving(frame.iloc[::-1], "acc", 0.1) == 20  # rows in any order
    assert first_step_moving(frame, "acc", 1.0) == 30


def test_all_pair_features_are_the_hidden_features_of_every_pair():
    from grokkit.metrics import all_pair_features

    net = TwoLayerNet(7, 5)
    found = all_pair_features(net)
    assert found.shape == (49, 5) and not found.requires_grad
    with torch.no_grad():
        assert torch.equal(found, net.features(ModularTask(7).pairs()))
    with pytest.raises(TypeError, match="TwoLayerNet"):
        all_pair_features(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="inputs=2"):
        all_pair_features(TwoLayerNet(7, 5, inputs=3))


def test_first_step_below_is_relative_to_the_first_value():
    from grokkit.metrics import first_step_below

    history = pd.DataFrame({"step": [0, 10, 20, 30], "train_loss": [2.0, 1.0, 0.06, 0.01]})
    assert first_step_below(history, "train_loss", 0.5) == 10
    assert first_step_below(history, "train_loss", 0.03) == 20  # 0.06 is 3 % of 2.0
    assert first_step_below(history.iloc[::-1], "train_loss", 0.03) == 20  # rows in any order
    assert first_step_below(history, "train_loss", 0.001) is None
    with pytest.raises(ValueError, match="fraction"):
        first_step_below(history, "train_loss", -0.1)
    with pytest.raises(ValueError, match="column must be one of"):
        first_step_below(history, "test_loss", 0.5)


def _result(network, split):
    from grokkit import TrainConfig
    from grokkit.train import TrainResult

    config = TrainConfig(modulus=network.modulus, n_train=split.n_train, hidden=network.hidden, steps=1, eval_every=1)
    history = pd.DataFrame({"step": [0], "train_loss": [1.0], "train_acc": [0.0], "test_loss": [1.0], "test_acc": [0.0]})
    return TrainResult(config, network, split, history)


def test_representation_summary_of_the_fourier_network_and_of_a_random_one():
    from grokkit.fourier import node_description_size
    from grokkit.metrics import representation_summary

    split = ModularTask(11).split(n_train=60, seed=0)
    built, random = fourier_network(11, [1, 3]), TwoLayerNet(11, 8, generator=torch.Generator().manual_seed(0))
    table = representation_summary([_result(built, split), _result(random, split)])
    assert list(table.columns) == [
        "concentration",
        "distinct_frequencies",
        "squared_norm",
        "effective_rank",
        "frequencies_needed",
        "description_size",
    ]
    fourier, noise = table.iloc[0], table.iloc[1]
    assert fourier["concentration"] == pytest.approx(1.0) and fourier["distinct_frequencies"] == 2
    assert fourier["frequencies_needed"] == 1 and fourier["description_size"] == node_description_size(built, 1)
    assert fourier["squared_norm"] == pytest.approx(float(built.W.detach().norm() ** 2 + built.V.detach().norm() ** 2))
    assert fourier["effective_rank"] == pytest.approx(effective_rank(built.W.detach()))
    assert noise["concentration"] < 0.5 and pd.isna(noise["description_size"])  # a random network answers nothing
    with pytest.raises(TypeError, match="list of TrainResult"):
        representation_summary(_result(built, split))
    with pytest.raises(TypeError, match="only TrainResult"):
        representation_summary([built])
    with pytest.raises(ValueError, match="level"):
        representation_summary([_result(built, split)], level=1.5)


def test_input_shares_split_the_hidden_layer_by_input():
    from grokkit.metrics import input_shares

    net = TwoLayerNet(7, 4, inputs=3)
    with torch.no_grad():
        net.W.zero_()
        net.W[:, :7] = 1.0
        net.W[0, 14] = 2.0
    assert input_shares(net) == [28 / 32, 0.0, 4 / 32]
    assert sum(input_shares(TwoLayerNet(7, 4))) == pytest.approx(1.0)
    with pytest.raises(TypeError, match="TwoLayerNet"):
        input_shares(torch.ones(4, 14))
    with torch.no_grad():
        net.W.zero_()
    with pytest.raises(ValueError, match="all zero"):
        input_shares(net)


def hinted_split_and_reader():
    """A split of Z_7 with hints (half of the training hints honest) and a network that reads only the hint:
    node c fires on hint c and votes for class c."""
    from grokkit.train import with_hint

    split = with_hint(ModularTask(7).split(n_train=20, seed=0), 0.5, seed=0)
    reader = TwoLayerNet(7, 7, inputs=3, activation="relu")
    with torch.no_grad():
        reader.W.zero_()
        reader.W[:, 14:] = torch.eye(7)
        reader.V.copy_(torch.eye(7))
    return split, reader


def test_honest_hint_accuracy_reads_the_hint():
    from grokkit.metrics import honest_hint_accuracy

    split, reader = hinted_split_and_reader()
    assert honest_hint_accuracy(reader, split) == 1.0
    assert accuracy(reader, split.test_pairs, split.test_labels) < 0.5  # the test hints are uniform
    with pytest.raises(ValueError, match="carry a hint"):
        honest_hint_accuracy(TwoLayerNet(7, 4), ModularTask(7).split(n_train=20, seed=0))
    with pytest.raises(TypeError, match="Split"):
        honest_hint_accuracy(reader, None)


def test_cka_pairs_compare_like_for_like_and_mean_cka_averages_both_ways():
    from grokkit.metrics import cka_pairs, mean_cka

    gen = torch.Generator().manual_seed(0)
    initial = {s: torch.randn(30, 4, generator=gen) for s in (0, 1, 2)}
    trained = {(c, s): torch.randn(30, 4, generator=gen) for c in ("p", "q") for s in (0, 1, 2)}
    pairs = cka_pairs(trained, initial)
    counts = pairs["kind"].value_counts()
    assert dict(counts) == {"same": 3 * 2, "different": 3 * 2, "initial": 3, "same seed": 3}
    first = pairs.iloc[0]
    assert first["seeds"] == "0-1" and first["kind"] == "initial" and first["cka"] == linear_cka(initial[0], initial[1])
    row = pairs[(pairs["seeds"] == "0-2") & (pairs["x"] == "q") & (pairs["y"] == "p")].iloc[0]
    assert row["kind"] == "different" and row["cka"] == linear_cka(trained[("q", 0)], trained[("p", 2)])
    shared = pairs[pairs["kind"] == "same seed"]
    assert list(shared["seeds"]) == ["0-0", "1-1", "2-2"] and (shared["x"] == "p").all()
    both_ways = pairs[(pairs["kind"] == "different")]
    assert mean_cka(pairs, "p", "q") == pytest.approx(both_ways["cka"].mean()) == mean_cka(pairs, "q", "p")
    same = pairs[(pairs["kind"] == "same") & (pairs["x"] == "p")]["cka"].mean()
    assert mean_cka(pairs, "p", "p") == pytest.approx(same)
    with pytest.raises(ValueError, match="at least 2 seeds"):
        cka_pairs(trained, {0: initial[0]})
    with pytest.raises(ValueError, match="missing"):
        cka_pairs({key: value for key, value in trained.items() if key != ("q", 1)}, initial)
    with pytest.raises(TypeError, match="dict"):
        cka_pairs(list(trained.values()), initial)
    with pytest.raises(ValueError, match="conditions"):
        mean_cka(pairs, "p", "r")


def test_all_pair_accuracy_and_symmetry_consistency_of_a_perfect_network():
    from grokkit.metrics import all_pair_accuracy, symmetry_consistency

    built = fourier_network(13, [2])
    assert all_pair_accuracy(built, 13) == 1.0
    random = TwoLayerNet(13, 8)
    task = ModularTask(13)
    assert all_pair_accuracy(random, 13) == pytest.approx(float((random(task.pairs()).argmax(dim=1) == task.labels()).float().mean()))
    train = task.split(n_train=60, seed=0).train_pairs
    assert symmetry_consistency(built, 13, train) == {"commutativity": 1.0, "shift equivariance": 1.0}
    with pytest.raises(ValueError, match="model's modulus 13"):
        all_pair_accuracy(built, 11)


def test_best_setting_takes_the_smallest_median_over_seeds_and_counts_never_as_worst():
    from grokkit.metrics import best_setting

    runs = pd.DataFrame(
        {
            "optimizer": ["Adam"] * 6 + ["Muon"] * 4,
            "lr": [1, 1, 1, 2, 2, 2, 1, 1, 2, 2],
            "steps": [100, 300, None, 50, 60, float("inf"), None, None, None, None],  # never reaching: missing or inf
        }
    )
    best = best_setting(runs, "optimizer", "lr", "steps")
    assert best.name == "lr" and best.index.name == "optimizer"
    assert best.to_dict() == {"Adam": 2, "Muon": 1}  # Adam: median 300 vs 60; Muon never: a tie goes to the smallest rate
    assert list(runs[runs["lr"] == runs["optimizer"].map(best)].index) == [3, 4, 5, 6, 7]
    two_keys = best_setting(runs.assign(width=8), ["optimizer", "width"], "lr", "steps")
    assert two_keys.loc[("Adam", 8)] == 2
    with pytest.raises(ValueError, match="lacks the columns"):
        best_setting(runs, "optimizer", "hidden_lr", "steps")
    with pytest.raises(ValueError, match="must hold numbers"):
        best_setting(runs.assign(steps="fast"), "optimizer", "lr", "steps")
    with pytest.raises(ValueError, match="different columns"):
        best_setting(runs, "optimizer", "lr", "lr")
    with pytest.raises(TypeError, match="by must be"):
        best_setting(runs, 3, "lr", "steps")
    with pytest.raises(ValueError, match="-inf"):
        best_setting(runs.assign(steps=-float("inf")), "optimizer", "lr", "steps")


def test_cka_pairs_of_runs_reads_the_final_and_the_initial_networks():
    from grokkit import TrainConfig, train_many
    from grokkit.metrics import all_pair_features, cka_pairs, cka_pairs_of_runs

    base = TrainConfig(modulus=7, n_train=30, hidden=8, steps=4, eval_every=2)
    runs = train_many([base.replace(loss=loss, seed=seed) for loss in ("mse", "cross_entropy") for seed in (0, 1)], snapshot_every=2)
    pairs = cka_pairs_of_runs(runs, "loss")
    trained = {(r.config.loss, r.config.seed): all_pair_features(r.model) for r in runs}
    initial = {r.config.seed: all_pair_features(r.snapshots[0]) for r in runs[:2]}
    pd.testing.assert_frame_equal(pairs, cka_pairs(trained, initial))
    assert set(pairs["x"].dropna()) == {"mse", "cross_entropy"}
    with pytest.raises(ValueError, match="condition must name a TrainConfig field"):
        cka_pairs_of_runs(runs, "nonsense")
    with pytest.raises(ValueError, match="condition must name"):
        cka_pairs_of_runs(runs, "seed")
    with pytest.raises(ValueError, match="appears twice"):
        cka_pairs_of_runs(runs + runs[:1], "loss")
    with pytest.raises(ValueError, match="step-0 snapshot"):
        cka_pairs_of_runs(train_many([base, base.replace(seed=1)]), "loss")
    with pytest.raises(TypeError, match="list of TrainResult"):
        cka_pairs_of_runs(runs[0], "loss")
    with pytest.raises(ValueError, match="at least one"):
        cka_pairs_of_runs([], "loss")


def test_shortcut_use_tells_a_hint_reader_from_a_network_that_ignores_the_hint():
    from grokkit.metrics import honest_hint_accuracy, shortcut_use

    split, reader = hinted_split_and_reader()
    ignorer = TwoLayerNet(7, 6, inputs=3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ignorer.W[:, 14:] = 0
    table = shortcut_use([_result(reader, split), _result(ignorer, split)])
    assert list(table.columns) == ["honest_hint_acc", "hint_share", "concentration"]
    assert table.loc[0, "honest_hint_acc"] == 1.0 and table.loc[0, "hint_share"] == 1.0
    assert table.loc[1, "hint_share"] == 0.0 and table.loc[1, "honest_hint_acc"] == honest_hint_accuracy(ignorer, split)
    with pytest.raises(ValueError, match="carry a hint"):
        shortcut_use([_result(TwoLayerNet(7, 4), ModularTask(7).split(n_train=20, seed=0))])
    with pytest.raises(TypeError, match="only TrainResult"):
        shortcut_use([reader])


def test_cka_over_training_compares_every_two_seeds_at_every_snapshot():
    from grokkit import TrainConfig, grid, train_many
    from grokkit.metrics import all_pair_features, cka_over_training

    base = TrainConfig(modulus=7, n_train=30, hidden=8, steps=4, eval_every=2)
    runs = train_many(grid(base, n_train=[20, 30], seed=[0, 1, 2]), snapshot_every=2)
    found = cka_over_training(runs, "n_train")
    assert list(found.columns) == ["n_train", "step", "seeds", "cka"]
    assert len(found) == 2 * 3 * 3  # two n, three steps, three pairs of seeds
    assert list(found["n_train"].unique()) == [20, 30] and list(found["seeds"][:3]) == ["0-1", "0-2", "1-2"]
    by = {(r.config.n_train, r.config.seed): r for r in runs}
    row = found[(found["n_train"] == 30) & (found["step"] == 2) & (found["seeds"] == "0-2")].iloc[0]
    assert row["cka"] == linear_cka(all_pair_features(by[(30, 0)].snapshots[2]), all_pair_features(by[(30, 2)].snapshots[2]))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        cka_over_training(runs[:1] + runs[3:], "n_train")
    with pytest.raises(ValueError, match="repeats seed"):
        cka_over_training(runs + runs[:1], "n_train")
    with pytest.raises(ValueError, match="condition must name"):
        cka_over_training(runs, "seed")
    with pytest.raises(ValueError, match="share no snapshot"):
        cka_over_training(train_many(grid(base, seed=[0, 1])), "n_train")


def test_progress_milestones_read_when_each_measure_moves():
    from grokkit.metrics import progress_milestones

    progress = pd.DataFrame(
        {
            "step": [0, 10, 20, 30, 40],
            "restricted loss": [1.0, 0.8, 0.5, 0.2, 0.0],
            "variant restricted loss": [1.0, 1.0, 0.5, 0.2, 0.0],
            "test_acc": [0.0, 0.0, 0.0, 0.5, 1.0],
            "excluded loss": [1.0, 0.6, 0.4, 0.9, 2.0],
        }
    )
    assert progress_milestones(progress) == {"restricted_moves": 10, "variant_moves": 20, "test_moves": 30, "excluded_low_step": 20}
    assert progress_milestones(progress, fraction=0.6)["restricted_moves"] == 30
    with pytest.raises(ValueError, match="progress lacks the columns"):
        progress_milestones(progress.drop(columns="excluded loss"))
    with pytest.raises(ValueError, match="NaN"):
        progress_milestones(progress.assign(**{"excluded loss": [1.0, float("nan"), 0.4, 0.9, 2.0]}))
    with pytest.raises(ValueError, match="fraction"):
        progress_milestones(progress, fraction=1.5)


def test_consistency_over_training_of_a_hand_built_network():
    from dataclasses import replace

    from grokkit import TrainConfig, train
    from grokkit.metrics import consistency_over_training, symmetry_consistency

    built = fourier_network(11, [2])
    run = train(TrainConfig(modulus=11, n_train=60, hidden=built.hidden, steps=10, eval_every=5), snapshot_every=5)
    table = consistency_over_training(replace(run, snapshots={**run.snapshots, 10: built}))
    assert list(table.columns) == ["step", "commutativity", "shift equivariance", "test_acc"]
    assert list(table["step"]) == [0, 5, 10] and table["test_acc"].tolist() == run.history["test_acc"].tolist()
    assert table.iloc[-1][["commutativity", "shift equivariance"]].tolist() == [1.0, 1.0]
    first = symmetry_consistency(run.snapshots[0], 11, run.split.train_pairs)
    assert table.iloc[0][["commutativity", "shift equivariance"]].tolist() == [first["commutativity"], first["shift equivariance"]]
    with pytest.raises(TypeError, match="TrainResult"):
        consistency_over_training(built)
    with pytest.raises(ValueError, match="snapshot_every"):
        consistency_over_training(replace(run, snapshots={}))
