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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from tqdm.auto import tqdm

from ._validate import check_choice, check_float, check_int
from .device import cpu_threads_for, pick_device
from .ensemble import Ensemble, MemberSettings, StackedPairs, accuracy, stack_splits
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


def progress_enabled(progress: bool | None) -> bool:
    """``None`` means: show a bar unless running in CI or GROKKIT_PROGRESS=0 (as the book build sets)."""
    if progress is not None:
        return bool(progress)
    return not os.environ.get("CI") and os.environ.get("GROKKIT_PROGRESS", "1") != "0"


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
    return train_many([config], device=device, progress=progress)[0]


def train_many(
    configs: Sequence[TrainConfig],
    *,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    on_finish: Callable[[int, TrainResult], None] | None = None,
) -> list[TrainResult]:
    """Train several networks at once as one batched ensemble; results are in the order given.

    The configs must share ``modulus``, ``hidden``, ``activation`` and ``eval_every``; each member's
    history is what :func:`train` gives for its config alone, up to float rounding. ``on_finish(i,
    result)`` is called as soon as member ``i`` is done, so a caller can save it before the rest end.
    """
    configs = list(configs)
    if not configs or not all(isinstance(c, TrainConfig) for c in configs):
        raise TypeError("configs must be a non-empty sequence of TrainConfig")
    shared = {(c.modulus, c.hidden, c.activation, c.eval_every) for c in configs}
    if len(shared) > 1:
        raise ValueError(f"configs trained together must share modulus, hidden, activation and eval_every; got {sorted(shared)}")
    where = pick_device(device)
    splits = [c.split() for c in configs]
    models = [
        TwoLayerNet(c.modulus, c.hidden, c.activation, top_init_scale=c.top_init_scale,
                    generator=torch.Generator().manual_seed(c.seed))
        for c in configs
    ]
    column = lambda values: torch.tensor(values, dtype=torch.get_default_dtype(), device=where).view(-1, 1, 1)  # noqa: E731
    settings = MemberSettings(
        lr=column([c.lr for c in configs]),
        weight_decay=column([c.weight_decay for c in configs]),
        decoupled=column([c.optimizer == "adamw" for c in configs]),
    )
    ensemble = Ensemble(models, settings, where)
    train_batch, test_batch = stack_splits(splits, configs[0].hidden, where)
    with cpu_threads_for(train_batch.pre.numel(), where):
        return _run(configs, splits, ensemble, train_batch, test_batch, progress, on_finish)


def _run(
    configs: list[TrainConfig],
    splits: list[Split],
    ensemble: Ensemble,
    train_batch: StackedPairs,
    test_batch: StackedPairs,
    progress: bool | None,
    on_finish: Callable[[int, TrainResult], None] | None,
) -> list[TrainResult]:
    """The training loop of :func:`train_many`: step all active members, record, retire finished ones."""
    where = ensemble.V.device
    active = list(range(len(configs)))  # original index of each member still in the stack
    rows: list[list[tuple[int, float, float, float, float]]] = [[] for _ in configs]
    finished: dict[int, TrainResult] = {}
    eval_every = configs[0].eval_every
    budget = max(c.steps for c in configs)
    bar = tqdm(total=budget, disable=not progress_enabled(progress), desc=f"training {len(configs)} run(s)", unit="step")
    for step in range(budget + 1):
        losses = [configs[i].loss for i in active]
        loss, outputs, grads = ensemble.loss_and_gradients(train_batch, losses)
        finite = torch.isfinite(loss)
        if not finite.all():
            bar.close()
            bad = active[int((~finite).nonzero()[0])]
            raise FloatingPointError(f"non-finite training loss at step {step} for {configs[bad]}")
        done = [configs[i].steps == step for i in active]
        if step % eval_every == 0 or any(done):
            test_loss, test_acc = ensemble.evaluate(test_batch, losses)
            train_acc = accuracy(outputs, train_batch)
            table = torch.stack([loss, train_acc, test_loss, test_acc], dim=1).tolist()
            for slot, i in enumerate(active):
                if step % eval_every and not done[slot]:
                    continue
                row = (step, *table[slot])
                rows[i].append(row)
                if not math.isfinite(row[3]):
                    bar.close()
                    raise FloatingPointError(f"non-finite test loss at step {step} for {configs[i]}")
                target = configs[i].stop_at_test_acc
                done[slot] = done[slot] or (target is not None and row[4] >= target)
            bar.set_postfix(test_acc=f"{max(r[-1][4] for r in rows):.3f}", active=len(active), refresh=False)
        if any(done):
            for slot, i in enumerate(active):
                if done[slot]:
                    history = pd.DataFrame(rows[i], columns=HISTORY_COLUMNS)
                    finished[i] = TrainResult(config=configs[i], model=ensemble.member(slot), split=splits[i], history=history)
                    if on_finish is not None:
                        on_finish(i, finished[i])
            keep = torch.tensor([slot for slot, d in enumerate(done) if not d], dtype=torch.long, device=where)
            active = [i for i, d in zip(active, done) if not d]
            if not active:
                break
            ensemble.keep(keep)
            train_batch.keep(keep)
            test_batch.keep(keep)
            grads = [g[keep] for g in grads]
        ensemble.adam_step(grads)
        bar.update(1)
    bar.close()
    return [finished[i] for i in range(len(configs))]
