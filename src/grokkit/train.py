"""Full-batch training of the Li₂ network on a modular task, returning a tidy history.

One step is one full-batch update, so a step is also an epoch. Metrics at step s describe the
parameters after s updates; step 0 is the initialization.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import pandas as pd
import torch
from tqdm.auto import tqdm

from ._validate import INT64_MAX, check_bool, check_callable, check_choice, check_float, check_int, check_memory
from .device import CpuThreads, pick_device
from .ensemble import UPDATE_RULES, Ensemble
from .losses import LOSSES
from .models import ACTIVATIONS, TwoLayerNet
from .tasks import BYTES_PER_PAIR, ModularTask, Split

OPTIMIZERS = tuple(UPDATE_RULES)
"""``adam``: L2 weight decay added to the gradient (coupled, as in the Li₂ experiments);
``adamw``: decoupled weight decay (Loshchilov & Hutter); ``sgd``: heavy-ball momentum 0.9 with L2;
``muon``: Muon on the hidden layer W (orthogonalized Nesterov momentum, decoupled weight decay;
Jordan et al. 2024) and Adam on the top layer V."""

HISTORY_COLUMNS = ["step", "train_loss", "train_acc", "test_loss", "test_acc"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a run. Equal configs give equal histories on the same CPU.

    ``hidden_lr`` is the learning rate of the hidden layer W when it should differ from ``lr`` (Muon
    is usually run at about 0.02 while Adam on V keeps ``lr``); ``None`` means ``lr``.

    ``hint`` adds a spurious third input h to every pair, a shortcut: on a training pair h is the
    label with probability ``hint`` and uniform otherwise; on a test pair h is always uniform, so a
    network that relies on h fails there. ``None`` (the default) means no third input.
    """

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
    hidden_lr: float | None = None
    weight_decay: float = 2e-4
    steps: int = 1000
    eval_every: int = 10
    stop_at_test_acc: float | None = None
    seed: int = 0
    hint: float | None = None

    def __post_init__(self) -> None:
        task = ModularTask(self.modulus, self.operation)
        if (self.n_train is None) == (self.train_fraction is None):
            raise ValueError("give exactly one of n_train and train_fraction")
        if self.n_train is not None:
            check_int("n_train", self.n_train, minimum=1, maximum=task.size - 1)
        else:
            fraction = check_float("train_fraction", self.train_fraction, minimum=0, maximum=1, open_min=True, open_max=True)
            if not 1 <= round(fraction * task.size) < task.size:
                raise ValueError(
                    f"train_fraction={fraction} gives {round(fraction * task.size)} of {task.size} pairs; "
                    f"it must leave at least one training and one test pair"
                )
        check_int("hidden", self.hidden, minimum=1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("top_init_scale", self.top_init_scale, minimum=0)
        check_choice("loss", self.loss, LOSSES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("lr", self.lr, minimum=0, open_min=True)
        if self.hidden_lr is not None:
            check_float("hidden_lr", self.hidden_lr, minimum=0, open_min=True)
        check_float("weight_decay", self.weight_decay, minimum=0)
        check_int("steps", self.steps, minimum=1)
        check_int("eval_every", self.eval_every, minimum=1)
        if self.stop_at_test_acc is not None:
            check_float("stop_at_test_acc", self.stop_at_test_acc, minimum=0, maximum=1, open_min=True)
        if self.hint is not None:
            check_float("hint", self.hint, minimum=0, maximum=1)
        check_int("seed", self.seed, minimum=0, maximum=INT64_MAX if self.hint is None else INT64_MAX - HINT_STREAM)

    @property
    def inputs(self) -> int:
        """One-hot tokens per input: a and b, plus the hint if there is one."""
        return 2 if self.hint is None else 3

    def replace(self, **changes: Any) -> TrainConfig:  # Any: each field has its own type, checked by __post_init__
        """A copy with some fields changed (and validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def stable_hash(self) -> str:
        """A hash of the field values that is the same in every process and on every machine."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def split(self) -> Split:
        split = ModularTask(self.modulus, self.operation).split(n_train=self.n_train, train_fraction=self.train_fraction, seed=self.seed)
        return split if self.hint is None else with_hint(split, self.hint, self.seed)


HINT_STREAM = 104_729
"""Added to the seed for the generator of the hints, so they do not reuse the split's random stream."""


def with_hint(split: Split, probability: float, seed: int) -> Split:
    """``split`` with a third column h: the label with ``probability`` on training pairs, else uniform."""
    if not isinstance(split, Split):
        raise TypeError(f"split must be a Split, got {type(split).__name__}")
    if split.train_pairs.shape[1] != 2:
        raise ValueError(f"split must have pairs (a, b) without a hint yet, got {split.train_pairs.shape[1]} columns")
    probability = check_float("probability", probability, minimum=0, maximum=1)
    seed = check_int("seed", seed, minimum=0, maximum=INT64_MAX - HINT_STREAM)
    generator = torch.Generator().manual_seed(seed + HINT_STREAM)
    m = split.modulus
    uniform_train = torch.randint(0, m, (split.n_train,), generator=generator)
    honest = torch.rand(split.n_train, generator=generator) < probability
    train_hint = torch.where(honest, split.train_labels, uniform_train)
    test_hint = torch.randint(0, m, (split.n_test,), generator=generator)
    return Split(
        m,
        torch.cat([split.train_pairs, train_hint[:, None]], dim=1),
        split.train_labels,
        torch.cat([split.test_pairs, test_hint[:, None]], dim=1),
        split.test_labels,
    )


@dataclass
class TrainResult:
    """A finished run: its config, the trained model (on CPU), its split and its history.

    ``snapshots`` maps a step to the network after that many updates, when snapshots were asked for.
    """

    config: TrainConfig
    model: TwoLayerNet
    split: Split
    history: pd.DataFrame
    snapshots: dict[int, TwoLayerNet] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, kind in (("config", TrainConfig), ("model", TwoLayerNet), ("split", Split), ("history", pd.DataFrame), ("snapshots", dict)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"{name} must be a {kind.__name__}, got {type(getattr(self, name)).__name__}")


def progress_enabled(progress: bool | None) -> bool:
    """``None`` means: show a bar unless running in CI or GROKKIT_PROGRESS=0 (as the book build sets)."""
    if check_bool("progress", progress, optional=True) is not None:
        return bool(progress)
    return not os.environ.get("CI") and os.environ.get("GROKKIT_PROGRESS", "1") != "0"


def train(
    config: TrainConfig,
    *,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    snapshot_every: int | None = None,
    init: TwoLayerNet | None = None,
) -> TrainResult:
    """Train one network full-batch and record metrics every ``config.eval_every`` steps.

    The split and the initial weights come from ``config.seed`` through private generators, so the
    global random state is neither used nor changed. Stops early once test accuracy reaches
    ``config.stop_at_test_acc`` (if set). A non-finite loss raises ``FloatingPointError``.
    ``snapshot_every=k`` keeps a copy of the network every k steps (a multiple of ``eval_every``) in
    ``result.snapshots``; ``init`` starts from a given network's weights instead of a fresh one
    (with fresh optimizer state), for example to continue a trained network on other data.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if init is not None and not isinstance(init, TwoLayerNet):
        raise TypeError(f"init must be None or a TwoLayerNet, got {type(init).__name__}")
    return train_many([config], device=device, progress=progress, snapshot_every=snapshot_every, init=None if init is None else [init])[0]


def _check_configs(configs: object) -> list[TrainConfig]:
    """``configs`` as a list of at least one :class:`TrainConfig` (any iterable of them; one alone is refused)."""
    if isinstance(configs, TrainConfig):
        raise TypeError("configs must be an iterable of TrainConfig, got one TrainConfig; pass [config] (or use train(config))")
    try:
        items = list(cast("Iterable[object]", configs))  # cast: whatever list() refuses raises TypeError here
    except TypeError:
        raise TypeError(f"configs must be an iterable of TrainConfig, got {type(configs).__name__}") from None
    if not items:
        raise ValueError("configs is empty; pass at least one TrainConfig (see grokkit.sweep.grid)")
    checked = [c for c in items if isinstance(c, TrainConfig)]
    if len(checked) != len(items):
        raise TypeError("configs must all be TrainConfig instances")
    return checked


def train_many(
    configs: Sequence[TrainConfig],
    *,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    on_finish: Callable[[int, TrainResult], None] | None = None,
    snapshot_every: int | None = None,
    init: Sequence[TwoLayerNet] | None = None,
) -> list[TrainResult]:
    """Train several networks at once as one batched ensemble; results are in the order given.

    The configs must share ``modulus``, ``hidden``, ``activation``, hint or no hint, ``eval_every`` and
    the optimizer family (Adam and AdamW mix); each member's history is what :func:`train` gives for its config
    alone, up to float rounding. ``on_finish(i, result)`` is called as soon as member ``i`` is done,
    so a caller can save it before the rest end. ``snapshot_every`` and ``init`` are as in :func:`train`.
    """
    configs = _check_configs(configs)
    check_bool("progress", progress, optional=True)
    check_callable("on_finish", on_finish, optional=True, what="a function of (index, result)")
    shared = {ensemble_key(c) for c in configs}
    if len(shared) > 1:
        raise ValueError(
            f"configs trained together must share modulus, hidden, activation, inputs, eval_every and optimizer family; got {sorted(shared, key=str)}"
        )
    _check_snapshot_every(snapshot_every, configs[0].eval_every)
    where = pick_device(device)
    _check_memory_for(configs, where, snapshot_every)
    splits = [c.split() for c in configs]
    ensemble = Ensemble(
        _initial_models(configs, init),
        splits,
        where,
        losses=[c.loss for c in configs],
        optimizers=[c.optimizer for c in configs],
        lr=[c.lr for c in configs],
        hidden_lr=[c.lr if c.hidden_lr is None else c.hidden_lr for c in configs],
        weight_decay=[c.weight_decay for c in configs],
    )
    with CpuThreads(ensemble.activations, where) as threads:
        return _run(configs, splits, ensemble, progress, on_finish, snapshot_every, threads)


def _check_memory_for(configs: Sequence[TrainConfig], device: torch.device | None = None, snapshot_every: int | None = None) -> None:
    """Raise a ValueError, before anything is allocated, if training ``configs`` together would not fit in memory.

    The estimate counts, per member, the weights with their copies, gradients and optimizer moments,
    the three ``(S, n, K)`` work tensors of the train and the test batch, the ``(S, n, M)`` outputs
    and their gradients, the index tensors and the kept snapshots.
    """
    first = configs[0]
    m, k, tokens, s = first.modulus, first.hidden, first.inputs, len(configs)
    size = ModularTask(m, first.operation).size
    n_train = []
    for c in configs:
        if c.n_train is not None:
            n_train.append(c.n_train)
        elif c.train_fraction is not None:
            n_train.append(round(c.train_fraction * size))
        else:  # TrainConfig.__post_init__ refuses this
            raise ValueError("give exactly one of n_train and train_fraction")
    pairs = max(n_train) + size - min(n_train)  # padded train batch + padded test batch
    weights = (tokens + 1) * m * k
    floats = s * (8 * weights + 3 * pairs * k + 4 * pairs * m)
    snapshots = s * _snapshots_kept(max(c.steps for c in configs), snapshot_every) * weights
    total = torch.get_default_dtype().itemsize * (floats + snapshots) + 8 * (tokens + 4) * s * pairs + BYTES_PER_PAIR * size
    what = f"training {s} network(s) at once with modulus={m} and hidden={k}"
    if snapshots:
        what += f", keeping a snapshot every snapshot_every={snapshot_every} of steps={max(c.steps for c in configs)}"
    check_memory(what, total, device)


def ensemble_key(config: TrainConfig) -> tuple[object, ...]:
    """What configs trained in one ensemble must share."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    return (config.modulus, config.hidden, config.activation, config.inputs, config.eval_every, UPDATE_RULES[config.optimizer])


def _initial_models(configs: list[TrainConfig], init: Sequence[TwoLayerNet] | None) -> list[TwoLayerNet]:
    """Fresh networks seeded by each config, or copies of the given ones after checking they fit."""
    if init is None:
        return [
            TwoLayerNet(
                c.modulus, c.hidden, c.activation, inputs=c.inputs, top_init_scale=c.top_init_scale, generator=torch.Generator().manual_seed(c.seed)
            )
            for c in configs
        ]
    init = list(init)
    if len(init) != len(configs) or not all(isinstance(m, TwoLayerNet) for m in init):
        raise TypeError(f"init must hold one TwoLayerNet per config ({len(configs)}), got {len(init)} item(s)")
    for config, model in zip(configs, init, strict=True):
        if (model.modulus, model.hidden, model.activation, model.inputs) != (config.modulus, config.hidden, config.activation, config.inputs):
            raise ValueError(
                f"init network has modulus={model.modulus}, hidden={model.hidden}, activation={model.activation!r}, "
                f"inputs={model.inputs}; the config asks for {config.modulus}, {config.hidden}, {config.activation!r}, {config.inputs}"
            )
    return init


def _run(
    configs: list[TrainConfig],
    splits: list[Split],
    ensemble: Ensemble,
    progress: bool | None,
    on_finish: Callable[[int, TrainResult], None] | None,
    snapshot_every: int | None,
    threads: CpuThreads,
) -> list[TrainResult]:
    """The training loop of :func:`train_many`: step the ensemble, record each member, retire finished ones."""
    records = [_Recorder(c, snapshot_every) for c in configs]
    finished: dict[int, TrainResult] = {}
    budget = max(c.steps for c in configs)
    with _progress_bar(budget, progress, f"training {len(configs)} run(s)") as bar:
        for step in range(budget + 1):
            _check_finite(ensemble.forward_backward(), step, [configs[i] for i in ensemble.members])
            due = [records[i].due(step) for i in ensemble.members]
            if any(due):
                table = ensemble.metrics().tolist()
                done = [
                    due[slot] and records[i].record(step, table[slot], functools.partial(ensemble.member, slot))
                    for slot, i in enumerate(ensemble.members)
                ]
                _show(bar, records, active=len(ensemble.members))
                for slot, i in enumerate(ensemble.members):
                    if done[slot]:
                        finished[i] = TrainResult(configs[i], ensemble.member(slot), splits[i], records[i].history(), records[i].snapshots)
                        if on_finish is not None:
                            on_finish(i, finished[i])
                ensemble.retire(done)
                if not ensemble.members:
                    break
            ensemble.step()
            threads.recheck()
            bar.update(1)
    return [finished[i] for i in range(len(configs))]


class _Schedule(Protocol):
    """What :class:`_Recorder` reads from a run's config: a :class:`TrainConfig` or a transformer's."""

    @property
    def steps(self) -> int: ...
    @property
    def eval_every(self) -> int: ...
    @property
    def stop_at_test_acc(self) -> float | None: ...


class _Recorder:
    """One run's history, snapshots and stopping rule, the same for every trainer.

    A row is recorded every ``eval_every`` steps and at the last step; a snapshot every
    ``snapshot_every`` steps (a multiple of ``eval_every``). The run is done at its last step or once
    its test accuracy reaches ``stop_at_test_acc``.
    """

    def __init__(self, config: _Schedule, snapshot_every: int | None) -> None:
        self.config, self.snapshot_every = config, snapshot_every
        self.rows: list[tuple[float, ...]] = []
        self.snapshots: dict[int, Any] = {}  # step → the trainer's model

    def due(self, step: int) -> bool:
        return step % self.config.eval_every == 0 or step == self.config.steps

    def record(self, step: int, metrics: Sequence[float], snapshot: Callable[[], Any]) -> bool:
        """Add the row of ``step`` (train loss and accuracy, test loss and accuracy); True once the run is done."""
        self.rows.append((step, *metrics))
        if self.snapshot_every and step % self.snapshot_every == 0:
            self.snapshots[step] = snapshot()
        if not math.isfinite(metrics[2]):
            raise FloatingPointError(f"non-finite test loss at step {step} for {self.config}")
        target = self.config.stop_at_test_acc
        return step == self.config.steps or (target is not None and metrics[3] >= target)

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=HISTORY_COLUMNS)


def _check_finite(loss: torch.Tensor, step: int, configs: Sequence[object]) -> None:
    """Raise a FloatingPointError naming the first run whose training loss (one per run) is NaN or infinite."""
    finite = torch.isfinite(loss)
    if not finite.all():
        raise FloatingPointError(f"non-finite training loss at step {step} for {configs[int((~finite).nonzero()[0])]}")


def _check_snapshot_every(snapshot_every: int | None, eval_every: int) -> None:
    """Snapshots are taken at recorded steps, so their interval must be a multiple of ``eval_every``."""
    if snapshot_every is not None and check_int("snapshot_every", snapshot_every, minimum=1) % eval_every:
        raise ValueError(f"snapshot_every must be a multiple of eval_every={eval_every}, got {snapshot_every}")


def _snapshots_kept(steps: int, snapshot_every: int | None) -> int:
    """How many snapshots a run of ``steps`` steps keeps, for the memory estimates."""
    return 0 if snapshot_every is None else steps // snapshot_every + 1


def _progress_bar(steps: int, progress: bool | None, what: str) -> tqdm:
    """A bar over ``steps`` training steps; used as a context manager, it closes even when training raises."""
    return tqdm(total=steps, disable=not progress_enabled(progress), desc=what, unit="step")


def _show(bar: tqdm, records: Sequence[_Recorder], **more: object) -> None:
    """Show the best latest test accuracy of the runs on the progress bar."""
    bar.set_postfix(test_acc=f"{max(r.rows[-1][4] for r in records):.3f}", **more, refresh=False)
