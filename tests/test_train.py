import pandas as pd
import pytest
import torch

from grokkit import TrainConfig, first_step_reaching, train, train_many
from grokkit.train import HISTORY_COLUMNS

# Small enough to run in seconds, large enough to grok: (a+b) mod 31 with half the pairs.
GROKS = TrainConfig(modulus=31, n_train=480, hidden=512, weight_decay=1e-3, steps=250, eval_every=5)


def test_history_is_tidy():
    result = train(TrainConfig(modulus=7, n_train=20, hidden=8, steps=25, eval_every=10), progress=False)
    assert list(result.history.columns) == HISTORY_COLUMNS
    assert result.history["step"].tolist() == [0, 10, 20, 25]
    assert result.history["step"].is_unique and result.history.notna().all().all()


def test_same_config_and_seed_give_an_identical_history():
    config = TrainConfig(modulus=11, n_train=50, hidden=32, steps=40, eval_every=5, seed=4)
    first = train(config, progress=False).history
    second = train(config, progress=False).history
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    other_seed = train(config.replace(seed=5), progress=False).history
    assert not first.equals(other_seed)


def test_a_small_run_memorizes_then_generalizes():
    history = train(GROKS, progress=False).history
    memorized = first_step_reaching(history, "train_acc", 0.99)
    generalized = first_step_reaching(history, "test_acc", 0.95)
    assert memorized is not None and generalized is not None
    assert generalized >= 2 * memorized
    assert history["test_acc"].iloc[0] < 0.2


def test_without_weight_decay_it_memorizes_only():
    history = train(GROKS.replace(weight_decay=0.0), progress=False).history
    assert history["train_acc"].iloc[-1] == 1.0
    assert history["test_acc"].iloc[-1] < 0.15


def test_stop_at_test_accuracy():
    history = train(GROKS.replace(stop_at_test_acc=0.5), progress=False).history
    assert history["test_acc"].iloc[-1] >= 0.5
    assert history["test_acc"].iloc[:-1].max() < 0.5
    assert history["step"].iloc[-1] < GROKS.steps


@pytest.mark.parametrize(("loss", "optimizer"), [("cross_entropy", "adam"), ("mse", "adamw"), ("cross_entropy", "adamw")])
def test_other_losses_and_optimizers_fit_the_training_set(loss, optimizer):
    config = TrainConfig(modulus=11, n_train=60, hidden=64, loss=loss, optimizer=optimizer, lr=1e-2, steps=150, eval_every=50)
    assert train(config, progress=False).history["train_acc"].iloc[-1] == 1.0


def test_stable_hash_depends_on_every_field():
    base = TrainConfig()
    assert base.stable_hash() == TrainConfig().stable_hash()
    assert base.stable_hash() != base.replace(seed=1).stable_hash()
    assert base.stable_hash() != base.replace(weight_decay=0.0).stable_hash()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"modulus": 1}, "modulus must be >= 2"),
        ({"n_train": 71 * 71 + 1}, "n_train must be <= 5040"),
        ({"n_train": None, "train_fraction": 1.2}, r"train_fraction must be in \(0"),
        ({"activation": "gelu"}, "activation must be one of"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of"),
        ({"hidden": 0}, "hidden must be >= 1"),
        ({"steps": 0}, "steps must be >= 1"),
        ({"steps": 10.5}, "steps must be an int"),
        ({"lr": 0.0}, r"lr must be in \(0"),
        ({"weight_decay": -1e-4}, "weight_decay must be in"),
        ({"eval_every": 0}, "eval_every must be >= 1"),
    ],
)
def test_bad_config_values_are_named(changes, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TrainConfig(**changes)


def test_train_rejects_a_non_config():
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train({"modulus": 7})


def test_bad_device_is_named():
    with pytest.raises(ValueError, match="device"):
        train(TrainConfig(modulus=5, n_train=10, hidden=4, steps=1), device="tpu")


def test_a_diverging_run_is_reported_at_the_step_it_diverges():
    config = TrainConfig(modulus=7, n_train=20, hidden=8, lr=1e12, steps=500, eval_every=100)
    with pytest.raises(FloatingPointError, match=r"non-finite training loss at step \d+ for TrainConfig\(modulus=7") as info:
        train(config, progress=False)
    step = int(info.value.args[0].split("step ")[1].split()[0])
    assert 0 < step < 100, "detected between evaluations, not at the next one"


def test_a_diverging_member_is_named_after_others_have_finished():
    fine = TrainConfig(modulus=7, n_train=20, hidden=8, steps=50, eval_every=10)
    wild = fine.replace(lr=1e12, seed=3)
    with pytest.raises(FloatingPointError, match=r"non-finite training loss at step 1 for TrainConfig\(.*lr=1000000000000\.0.*seed=3"):
        train_many([fine.replace(stop_at_test_acc=1e-9), wild], progress=False)  # the first member is retired at step 0


def test_a_hint_is_a_third_input_that_gives_away_the_training_labels_only():
    config = TrainConfig(modulus=11, n_train=60, hidden=16, steps=5, hint=1.0)
    split = config.split()
    assert split.train_pairs.shape == (60, 3) and split.test_pairs.shape == (61, 3)
    assert torch.equal(split.train_pairs[:, 2], split.train_labels)
    assert (split.test_pairs[:, 2] == split.test_labels).float().mean() < 0.3
    assert torch.equal(split.train_pairs[:, :2], config.replace(hint=None).split().train_pairs)
    half = config.replace(hint=0.5).split()
    assert 0.3 < float((half.train_pairs[:, 2] == half.train_labels).float().mean()) < 0.8
    result = train(config, progress=False)
    assert result.model.inputs == 3 and result.model.W.shape == (16, 33)


def test_hinted_and_plain_runs_cannot_share_an_ensemble():
    plain = TrainConfig(modulus=11, n_train=60, hidden=16, steps=5)
    with pytest.raises(ValueError, match="inputs"):
        train_many([plain, plain.replace(hint=1.0)])
    with pytest.raises(ValueError, match=r"hint must be in \[0, 1\]"):
        plain.replace(hint=1.5)


def test_a_hinted_ensemble_member_equals_its_single_run():
    configs = [TrainConfig(modulus=11, n_train=n, hidden=16, steps=30, eval_every=10, hint=0.5, seed=s) for n, s in ((50, 0), (70, 1))]
    together = train_many(configs, progress=False)
    alone = train(configs[1], progress=False)
    assert torch.allclose(together[1].model.W, alone.model.W, atol=1e-5)
