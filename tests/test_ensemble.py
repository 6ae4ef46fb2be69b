import pandas as pd
import pytest
import torch

from grokkit import LOSSES, TrainConfig, TwoLayerNet, train, train_many

SMALL = TrainConfig(modulus=13, n_train=80, hidden=24, steps=30, eval_every=5)


@pytest.mark.parametrize("activation", ["x2", "relu", "silu"])
@pytest.mark.parametrize(("loss", "optimizer"), [("mse", "adam"), ("cross_entropy", "adamw")])
def test_one_run_matches_a_plain_pytorch_loop(activation, loss, optimizer):
    """The hand-written engine against autograd + torch.optim on the same network and data."""
    config = SMALL.replace(activation=activation, loss=loss, optimizer=optimizer, weight_decay=1e-2, lr=1e-2)
    split = config.split()
    model = TwoLayerNet(13, 24, activation, generator=torch.Generator().manual_seed(config.seed))
    opt_class = torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW
    opt = opt_class(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for _ in range(config.steps):
        opt.zero_grad()
        LOSSES[loss](model(split.train_pairs), split.train_labels).mean().backward()
        opt.step()
    trained = train(config, progress=False).model
    torch.testing.assert_close(trained.W, model.W, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(trained.V, model.V, rtol=1e-4, atol=1e-6)


def test_members_equal_solo_runs():
    configs = [
        SMALL,
        SMALL.replace(seed=3, n_train=120),
        SMALL.replace(seed=1, weight_decay=1e-2, lr=3e-3),
        SMALL.replace(loss="cross_entropy", optimizer="adamw", n_train=40),
        SMALL.replace(steps=12, top_init_scale=0.0),
        SMALL.replace(seed=2, stop_at_test_acc=0.02),
    ]
    together = train_many(configs, progress=False)
    for config, member in zip(configs, together):
        alone = train(config, progress=False)
        pd.testing.assert_frame_equal(member.history, alone.history, check_exact=False, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(member.model.W, alone.model.W, rtol=1e-5, atol=1e-6)


def test_members_stop_at_their_own_budget_or_target():
    configs = [SMALL.replace(steps=10), SMALL.replace(steps=30), SMALL.replace(stop_at_test_acc=0.01)]
    short, long, target = train_many(configs, progress=False)
    assert short.history["step"].iloc[-1] == 10
    assert long.history["step"].iloc[-1] == 30
    assert target.history["step"].iloc[-1] < 30 and target.history["test_acc"].iloc[-1] >= 0.01


def test_members_must_share_the_architecture():
    with pytest.raises(ValueError, match="must share modulus, hidden, activation and eval_every"):
        train_many([SMALL, SMALL.replace(hidden=32)])
    with pytest.raises(TypeError, match="non-empty sequence of TrainConfig"):
        train_many([])
