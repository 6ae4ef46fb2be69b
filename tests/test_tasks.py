import pytest
import torch

from grokkit import ModularTask


@pytest.mark.parametrize("operation", ["add", "sub", "mul", "div"])
def test_labels_follow_the_operation(operation):
    task = ModularTask(7, operation)
    pairs = task.pairs()
    labels = task.labels(pairs)
    for (a, b), y in zip(pairs.tolist(), labels.tolist(), strict=True):
        if operation == "add":
            assert y == (a + b) % 7
        elif operation == "sub":
            assert y == (a - b) % 7
        elif operation == "mul":
            assert y == (a * b) % 7
        else:
            assert (y * b) % 7 == a % 7


def test_sizes():
    assert ModularTask(11).size == 121
    assert ModularTask(11, "div").size == 110  # b = 0 has no inverse
    assert ModularTask(8, "div").size == 8 * 4  # only b coprime to 8


def test_split_by_count_is_disjoint_and_covers_every_pair():
    task = ModularTask(13)
    split = task.split(n_train=60, seed=3)
    assert (split.n_train, split.n_test) == (60, 169 - 60)
    train = {tuple(p) for p in split.train_pairs.tolist()}
    test = {tuple(p) for p in split.test_pairs.tolist()}
    assert not train & test
    assert train | test == {tuple(p) for p in task.pairs().tolist()}
    assert torch.equal(split.train_labels, task.labels(split.train_pairs))


def test_split_by_fraction_rounds_to_pairs():
    split = ModularTask(71).split(train_fraction=0.4, seed=0)
    assert split.n_train == round(0.4 * 71**2) == 2016


def test_split_is_deterministic_per_seed():
    task = ModularTask(17)
    a, b, c = (task.split(n_train=50, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.train_pairs, b.train_pairs)
    assert not torch.equal(a.train_pairs, c.train_pairs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"modulus": 1}, "modulus must be >= 2"),
        ({"modulus": 2.5}, "modulus must be an int"),
        ({"modulus": 5, "operation": "pow"}, "operation must be one of"),
    ],
)
def test_bad_task_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        ModularTask(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train_fraction": 0.0}, r"train_fraction must be in \(0"),
        ({"train_fraction": 1.0}, r"train_fraction must be in \(0"),
        ({"train_fraction": 1.5}, r"train_fraction must be in \(0"),
        ({"n_train": 26}, "n_train must be <= 24"),
        ({"n_train": 0}, "n_train must be >= 1"),
        ({}, "exactly one of n_train and train_fraction"),
        ({"n_train": 3, "train_fraction": 0.5}, "exactly one of n_train and train_fraction"),
        ({"n_train": 3, "seed": -1}, "seed must be >= 0"),
    ],
)
def test_bad_split_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModularTask(5).split(**kwargs)
