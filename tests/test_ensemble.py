import pandas as pd
import pytest
import torch

from grokkit import LOSSES, TrainConfig, TwoLayerNet, train, train_many
from grokkit.ensemble import Ensemble

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


def test_sgd_matches_torch_optim():
    config = SMALL.replace(optimizer="sgd", lr=0.05, weight_decay=1e-2)
    split = config.split()
    model = TwoLayerNet(13, 24, generator=torch.Generator().manual_seed(config.seed))
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    for _ in range(config.steps):
        opt.zero_grad()
        LOSSES["mse"](model(split.train_pairs), split.train_labels).mean().backward()
        opt.step()
    trained = train(config, progress=False).model
    torch.testing.assert_close(trained.W, model.W, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(trained.V, model.V, rtol=1e-4, atol=1e-6)


def reference_muon_step(weight, grad, buffer, lr, weight_decay):
    """Muon as its authors publish it, on W of shape (out, in) = (K, 2M)."""
    buffer.lerp_(grad, 0.1)
    update = grad.lerp(buffer, 0.9)
    x = update / (update.norm() + 1e-7)
    transposed = x.shape[0] > x.shape[1]
    x = x.T if transposed else x
    for _ in range(5):
        a = x @ x.T
        x = 3.4445 * x + (-4.7750 * a + 2.0315 * a @ a) @ x
    x = x.T if transposed else x
    weight.mul_(1 - lr * weight_decay)
    weight.sub_(x * lr * max(1, weight.shape[0] / weight.shape[1]) ** 0.5)


def test_muon_on_the_hidden_layer_and_adam_on_the_top_layer_match_a_reference_loop():
    config = SMALL.replace(optimizer="muon", lr=1e-2, hidden_lr=0.02, weight_decay=1e-2)
    split = config.split()
    model = TwoLayerNet(13, 24, generator=torch.Generator().manual_seed(config.seed))
    adam = torch.optim.Adam([model.V], lr=config.lr, weight_decay=config.weight_decay)
    buffer = torch.zeros_like(model.W)
    for _ in range(config.steps):
        adam.zero_grad()
        model.W.grad = None
        LOSSES["mse"](model(split.train_pairs), split.train_labels).mean().backward()
        adam.step()
        with torch.no_grad():
            reference_muon_step(model.W, model.W.grad, buffer, config.hidden_lr, config.weight_decay)
    trained = train(config, progress=False).model
    torch.testing.assert_close(trained.W, model.W, rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(trained.V, model.V, rtol=1e-3, atol=1e-5)


def test_snapshots_and_starting_from_a_trained_network():
    first = train(SMALL, progress=False, snapshot_every=10)
    assert sorted(first.snapshots) == [0, 10, 20, 30]
    torch.testing.assert_close(first.snapshots[30].W, first.model.W)
    assert not torch.equal(first.snapshots[0].W, first.snapshots[10].W)
    fresh = TwoLayerNet(13, 24, generator=torch.Generator().manual_seed(SMALL.seed))
    torch.testing.assert_close(first.snapshots[0].W, fresh.W)
    continued = train(SMALL.replace(steps=5), progress=False, init=first.model, snapshot_every=5)
    torch.testing.assert_close(continued.snapshots[0].W, first.model.W)
    assert continued.history["train_acc"].iloc[0] == first.history["train_acc"].iloc[-1]
    with pytest.raises(ValueError, match="snapshot_every must be a multiple of eval_every=5, got 7"):
        train(SMALL, snapshot_every=7)
    with pytest.raises(ValueError, match="init network has modulus=13, hidden=24"):
        train(SMALL.replace(hidden=8), init=first.model)
    with pytest.raises(TypeError, match="init must be None or a TwoLayerNet"):
        train(SMALL, init="model.pt")


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
    for config, member in zip(configs, together, strict=True):
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
    with pytest.raises(ValueError, match="must share modulus, hidden, activation, inputs, eval_every and optimizer family"):
        train_many([SMALL, SMALL.replace(hidden=32)])
    with pytest.raises(ValueError, match="optimizer family"):
        train_many([SMALL, SMALL.replace(optimizer="sgd")])
    with pytest.raises(ValueError, match="configs is empty"):
        train_many([])


def small_ensemble(count=3, models=None, splits=None, **settings):
    """An ensemble of ``count`` SMALL networks (seeds 0, 1, ...) with Adam; ``settings`` override the per-member lists."""
    per_member = {
        "losses": ["mse"] * count,
        "optimizers": ["adam"] * count,
        "lr": [1e-2] * count,
        "hidden_lr": [1e-2] * count,
        "weight_decay": [1e-3] * count,
    }
    models = models or [TwoLayerNet(13, 24, generator=torch.Generator().manual_seed(s)) for s in range(count)]
    splits = splits or [SMALL.replace(seed=s).split() for s in range(count)]
    return Ensemble(models, splits, "cpu", **{**per_member, **settings})


def test_retiring_members_shrinks_everything_the_ensemble_holds():
    ensemble = small_ensemble()
    ensemble.forward_backward()
    metrics, second = ensemble.metrics(), ensemble.member(1)
    ensemble.retire([True, False, False])
    assert ensemble.members == [1, 2] and ensemble.losses == ["mse", "mse"]
    assert torch.equal(ensemble.member(0).W, second.W)
    torch.testing.assert_close(ensemble.metrics(), metrics[1:])  # the pending outputs and data shrank with the weights
    ensemble.step()  # and so did the pending gradients and the optimizer state
    assert ensemble.forward_backward().shape == (2,)
    ensemble.retire([False, False])
    assert ensemble.members == [1, 2]


def test_step_and_metrics_need_a_forward_backward_pass_at_the_current_weights():
    ensemble = small_ensemble(2)
    with pytest.raises(RuntimeError, match="call forward_backward"):
        ensemble.step()
    ensemble.forward_backward()
    ensemble.step()
    with pytest.raises(RuntimeError, match="call forward_backward"):
        ensemble.metrics()


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"optimizers": ["adam", "sgd"]}, ValueError, r"optimizers must share their update rules \(only Adam and AdamW mix\), got \['adam', 'sgd'\]"),
        ({"optimizers": ["adam", "rmsprop"]}, ValueError, "optimizers must be one of"),
        ({"losses": ["mse"]}, ValueError, r"losses must hold one entry per member \(2\), got 1"),
        ({"lr": [1e-3, 0.0]}, ValueError, r"lr must be in \(0"),
        ({"weight_decay": "0.1"}, TypeError, "weight_decay must be a list"),
        ({"models": ["W", "V"]}, TypeError, "models must be TwoLayerNet instances"),
        ({"models": [TwoLayerNet(13, 24), TwoLayerNet(13, 8)]}, ValueError, "must share modulus, hidden, activation and inputs"),
        ({"splits": [SMALL.replace(modulus=11).split()] * 2}, ValueError, "splits must have modulus 13 and 2 inputs per pair"),
        ({"splits": [None, None]}, TypeError, "splits must be Split instances"),
    ],
)
def test_bad_members_and_settings_are_named(settings, error, message):
    with pytest.raises(error, match=message):
        small_ensemble(2, **settings)


def test_retire_needs_one_flag_per_member():
    ensemble = small_ensemble(2)
    with pytest.raises(ValueError, match=r"done must hold one entry per member \(2\), got 3"):
        ensemble.retire([True, False, False])
    with pytest.raises(TypeError, match="done must be True or False"):
        ensemble.retire([1, 0])
