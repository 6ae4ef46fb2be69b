"""Full-batch training of the Li₂ network on a modular task, returning a tidy history.

One step is one full-batch update, so a step is also an epoch. Metrics at step s describe the
parameters after s updates; step 0 is the initialisation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass

import pandas as pd
import torch
from tqdm.auto import tqdm

from ._validate import check_choice, check_float, check_int
from .device import pick_device
from .fastpath import PairBatch, evaluate, loss_and_gradients
from .losses import LOSSES
from .models import ACTIVATIONS, TwoLayerNet
from .tasks import OPERATIONS, ModularTask, Split

OPTIMIZERS = ("adam", "adamw")
"""``adam``: L2 weight decay added to the gradient (coupled, as in the Li₂ experiments);
``adamw``: decoupled weight decay (Loshchilov & Hutter)."""

HISTORY_COLUMNS = ["step", "train_loss", "train_acc", "test_loss", "test_acc"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run. Equal configs give equal histories on the same CPU."""

    modulus: int = 71
    operation: str = "add"
    n_train: int | None = 2016
    train_fraction: float | None = None
    hidden: int = 2048
    activation: str = "x2"
    top_init_scale: float = 1.0
    loss: str = "mse"
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 2e-4
    steps: int = 1000
    eval_every: int = 10
    stop_at_test_acc: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        task = ModularTask(self.modulus, self.operation)
        if (self.n_train is None) == (self.train_fraction is None):
            raise ValueError("give exactly one of n_train and train_fraction")
        if self.n_train is not None:
            check_int("n_train", self.n_train, minimum=1, maximum=task.size - 1)
        else:
            check_float("train_fraction", self.train_fraction, minimum=0, maximum=1, open_min=True, open_max=True)
        check_int("hidden", self.hidden, minimum=1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("top_init_scale", self.top_init_scale, minimum=0)
        check_choice("loss", self.loss, LOSSES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("lr", self.lr, minimum=0, open_min=True)
        check_float("weight_decay", self.weight_decay, minimum=0)
        check_int("steps", self.steps, minimum=1)
        check_int("eval_every", self.eval_every, minimum=1)
        if self.stop_at_test_acc is not None:
            check_float("stop_at_test_acc", self.stop_at_test_acc, minimum=0, maximum=1, open_min=True)
        check_int("seed", self.seed, minimum=0)

    def replace(self, **changes: object) -> TrainConfig:
        """A copy with some fields changed (and validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def stable_hash(self) -> str:
        """A hash of the field values that is the same in every process and on every machine."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def split(self) -> Split:
        return ModularTask(self.modulus, self.operation).split(
            n_train=self.n_train, train_fraction=self.train_fraction, seed=self.seed
        )


@dataclass
class TrainResult:
    """A finished run: its config, the trained model (on CPU), its split and its history."""

    config: TrainConfig
    model: TwoLayerNet
    split: Split
    history: pd.DataFrame

    def tidy(self) -> pd.DataFrame:
        """The history with the config's fields as extra columns, ready to concatenate across runs."""
        frame = self.history.copy()
        for key, value in self.config.to_dict().items():
            frame[key] = value
        return frame


def progress_enabled(progress: bool | None) -> bool:
    """``None`` means: show a bar unless running in CI or GROKKIT_PROGRESS=0 (as the book build sets)."""
    if progress is not None:
        return bool(progress)
    return not os.environ.get("CI") and os.environ.get("GROKKIT_PROGRESS", "1") != "0"


def _make_optimizer(config: TrainConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def train(
    config: TrainConfig,
    *,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> TrainResult:
    """Train one network full-batch and record metrics every ``config.eval_every`` steps.

    The split and the initial weights come from ``config.seed`` through private generators, so the
    global random state is neither used nor changed. Stops early once test accuracy reaches
    ``config.stop_at_test_acc`` (if set). A non-finite loss raises ``FloatingPointError``.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    where = pick_device(device)
    split = config.split()
    generator = torch.Generator().manual_seed(config.seed)
    model = TwoLayerNet(
        config.modulus, config.hidden, config.activation, top_init_scale=config.top_init_scale, generator=generator
    ).to(where)
    loss_fn = LOSSES[config.loss]
    optimizer = _make_optimizer(config, list(model.parameters()))
    train_batch = PairBatch(split.train_pairs.to(where), split.train_labels.to(where), config.hidden, config.modulus)
    test_batch = PairBatch(split.test_pairs.to(where), split.test_labels.to(where), config.hidden, config.modulus)

    rows: list[tuple[int, float, float, float, float]] = []
    bar = tqdm(total=config.steps, disable=not progress_enabled(progress), desc="training", unit="step")
    for step in range(config.steps + 1):
        loss, outputs = loss_and_gradients(model, train_batch, loss_fn)
        if step % config.eval_every == 0 or step == config.steps:
            train_acc = (outputs.argmax(1) == train_batch.labels).double().mean().item()
            row = (step, loss.item(), train_acc, *evaluate(model, test_batch, loss_fn))
            rows.append(row)
            if not all(math.isfinite(value) for value in row[1:]):
                bar.close()
                raise FloatingPointError(f"non-finite loss at step {step} (train {row[1]}, test {row[3]}) for {config}")
            bar.set_postfix(train_acc=f"{row[2]:.3f}", test_acc=f"{row[4]:.3f}", refresh=False)
            if config.stop_at_test_acc is not None and row[4] >= config.stop_at_test_acc:
                break
        if step == config.steps:
            break
        optimizer.step()
        bar.update(1)
    bar.close()
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    return TrainResult(config=config, model=model.cpu(), split=split, history=history)
