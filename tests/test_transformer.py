"""The one-layer transformer: its shortcut forward pass equals plain causal attention, and it trains."""

import math

import pytest
import torch

from grokkit import ModularTask
from grokkit.transformer import OneLayerTransformer, TransformerConfig, train_transformer


def test_shortcut_forward_equals_plain_attention():
    model = OneLayerTransformer(17, d_model=16, heads=4, d_mlp=32, seed=3)
    with torch.no_grad():
        model.b_in.normal_()
        model.b_out.normal_()
    pairs = ModularTask(17).pairs()
    assert torch.allclose(model(pairs), model.forward_all_positions(pairs), atol=1e-5)


def test_training_memorizes_and_is_deterministic():
    config = TransformerConfig(modulus=17, train_fraction=0.5, d_model=32, d_mlp=64, lr=3e-3, steps=150, eval_every=50)
    first, second = train_transformer(config, progress=False), train_transformer(config, progress=False)
    assert first.history["train_acc"].iloc[-1] == 1.0
    assert first.history.equals(second.history)
    assert first.history["step"].tolist() == [0, 50, 100, 150]


def test_a_diverging_run_is_reported_at_the_step_it_diverges():
    config = TransformerConfig(modulus=7, train_fraction=0.5, d_model=8, heads=2, d_mlp=8, lr=1e30, steps=100, eval_every=50)
    with pytest.raises(FloatingPointError, match=r"non-finite training loss at step 1 for TransformerConfig\(modulus=7"):
        train_transformer(config, progress=False)


def test_snapshots_and_early_stop():
    config = TransformerConfig(modulus=11, train_fraction=0.5, d_model=16, d_mlp=32, steps=40, eval_every=10, stop_at_test_acc=1e-9)
    result = train_transformer(config, progress=False, snapshot_every=10)
    assert result.history["step"].tolist() == [0]
    assert list(result.snapshots) == [0]
    pairs = result.split.test_pairs
    assert math.isclose(float(result.snapshots[0](pairs).detach().sum()), float(result.model(pairs).detach().sum()), rel_tol=1e-5)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"d_model": 30, "heads": 4}, "multiple of heads"),
        ({"train_fraction": 1.0}, r"train_fraction must be in \(0, 1\)"),
        ({"betas": (0.9,)}, "tuple of two"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"modulus": 1}, "modulus must be >= 2"),
    ],
)
def test_bad_config_gets_a_clear_message(changes, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TransformerConfig(**changes)


def test_bad_pairs_and_snapshot_interval():
    with pytest.raises(ValueError, match=r"entries must be in \[0, 10\]"):
        OneLayerTransformer(11, d_model=8, heads=2, d_mlp=8)(torch.tensor([[0, 11]]))
    with pytest.raises(ValueError, match="multiple of eval_every"):
        train_transformer(TransformerConfig(modulus=11, steps=10, eval_every=5), snapshot_every=7)
