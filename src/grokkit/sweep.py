"""Many runs in, one tidy table out: batched training, an on-disk cache, resumable after a kill.

Configs that share an architecture are trained together as ensembles (:func:`grokkit.train_many`),
in chunks sized to a memory budget. Every finished run is written to the cache at once, atomically
(temporary file + rename) and with a SHA-256 checksum, under a key made of the config's stable hash
and :data:`TRAINING_CODE_VERSION`. Running the same sweep again loads finished runs and trains only
the rest; an entry that is truncated or corrupt is reported, ignored and recomputed.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ._validate import check_bool, check_float, check_folder, check_frame, check_int, check_sequence
from .device import pick_device
from .metrics import first_step_reaching
from .models import TwoLayerNet
from .train import HISTORY_COLUMNS, TrainConfig, TrainResult, _check_configs, _check_memory_for, ensemble_key, progress_enabled, train_many

TRAINING_CODE_VERSION = "3"
"""Bumped whenever a change to the training code changes results, so stale cache entries are not used."""

CHUNK_ACTIVATIONS = 1 << 24
MAX_MEMBERS = 16
"""Chunks hold at most MAX_MEMBERS runs and CHUNK_ACTIVATIONS hidden activations. Measured on 2 CPU
cores: per-run cost falls up to about 8 stacked runs (1.4x for K=512 on mod 71, 2x for K=128 on
mod 23) and rises again beyond 16, when the work tensors no longer fit in cache."""


def grid(base: TrainConfig, **axes: Sequence[object]) -> list[TrainConfig]:
    """Every combination of the given field values applied to ``base``, e.g. ``grid(c, seed=range(3), n_train=[500, 1000])``."""
    if not isinstance(base, TrainConfig):
        raise TypeError(f"base must be a TrainConfig, got {type(base).__name__}")
    fields = set(base.to_dict())
    unknown = sorted(set(axes) - fields)
    if unknown:
        raise ValueError(f"unknown TrainConfig field(s) {unknown}; allowed: {sorted(fields)}")
    names = list(axes)
    values = {n: check_sequence(n, axes[n], what=f"values for TrainConfig.{n}") for n in names}
    return [base.replace(**dict(zip(names, values, strict=True))) for values in itertools.product(*(values[n] for n in names))]


def _range(name: str, value: object, *, maximum: float | None = None) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}")
    low = check_float(name, value[0], minimum=0, maximum=maximum, open_min=True)
    return low, check_float(name, value[1], minimum=low, maximum=maximum)


def random_configs(
    base: TrainConfig, runs: int, *, seed: int, pairs: Sequence[float], weight_decays: Sequence[float], lrs: Sequence[float]
) -> list[TrainConfig]:
    """A random hyperparameter search: ``runs`` copies of ``base``, run i with seed i, each drawing (in this
    order, from one generator seeded by ``seed``) its training pairs uniformly between the shares ``pairs``
    = (low, high) of the M² pairs, and its weight decay and learning rate log-uniformly between
    ``weight_decays`` and ``lrs`` = (low, high)."""
    if not isinstance(base, TrainConfig):
        raise TypeError(f"base must be a TrainConfig, got {type(base).__name__}")
    runs = check_int("runs", runs, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    shares = _range("pairs", pairs, maximum=1)
    log_decays, log_lrs = (np.log10(_range(name, value)) for name, value in (("weight_decays", weight_decays), ("lrs", lrs)))
    return [
        base.replace(
            n_train=int(rng.uniform(*shares) * base.modulus**2),
            weight_decay=float(10 ** rng.uniform(*log_decays)),
            lr=float(10 ** rng.uniform(*log_lrs)),
            seed=i,
        )
        for i in range(runs)
    ]


def cache_key(config: TrainConfig) -> str:
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    return hashlib.sha256(f"{config.stable_hash()}|{TRAINING_CODE_VERSION}".encode()).hexdigest()[:24]


class RunCache:
    """Finished runs on disk, one checksummed file per run."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = check_folder("directory", directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, config: TrainConfig) -> Path:
        return self.directory / f"{cache_key(config)}.run"

    def save(self, result: TrainResult) -> None:
        if not isinstance(result, TrainResult):
            raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
        buffer = io.BytesIO()
        torch.save(
            {
                "config": result.config.to_dict(),
                "history": result.history.to_dict(orient="list"),
                "W": result.model.W.detach().clone(),
                "V": result.model.V.detach().clone(),
                "snapshots": {step: (net.W.detach().clone(), net.V.detach().clone()) for step, net in result.snapshots.items()},
            },
            buffer,
        )
        payload = buffer.getvalue()
        target = self.path(result.config)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=target.stem, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load(self, config: TrainConfig, snapshot_every: int | None = None) -> TrainResult | None:
        """The cached run, or ``None`` if absent or without the snapshots every ``snapshot_every`` steps
        asked for; a damaged entry is reported and treated as absent."""
        path = self.path(config)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        checksum, _, payload = raw.partition(b"\n")
        if hashlib.sha256(payload).hexdigest().encode() != checksum:
            warnings.warn(f"cache entry {path} is truncated or corrupt; recomputing it", stacklevel=3)
            return None
        data = torch.load(io.BytesIO(payload), weights_only=True)
        if data["config"] != config.to_dict():
            warnings.warn(f"cache entry {path} belongs to another config; recomputing it", stacklevel=3)
            return None
        history = pd.DataFrame(data["history"], columns=HISTORY_COLUMNS)
        snapshots = data.get("snapshots", {})
        if snapshot_every is not None and sorted(snapshots) != _snapshot_steps(history, snapshot_every):
            return None
        return TrainResult(
            config=config,
            model=_network(config, *[data["W"], data["V"]]),
            split=config.split(),
            history=history,
            snapshots={step: _network(config, w, v) for step, (w, v) in sorted(snapshots.items())},
        )


def _network(config: TrainConfig, w: torch.Tensor, v: torch.Tensor) -> TwoLayerNet:
    model = TwoLayerNet(config.modulus, config.hidden, config.activation, inputs=config.inputs)
    with torch.no_grad():
        model.W.copy_(w)
        model.V.copy_(v)
    return model


def _snapshot_steps(history: pd.DataFrame, snapshot_every: int) -> list[int]:
    """The steps at which a run with this history kept a snapshot (see :func:`grokkit.train`)."""
    return [int(step) for step in history["step"] if step % snapshot_every == 0]


def _chunks(configs: list[tuple[int, TrainConfig]], max_members: int | None) -> list[list[tuple[int, TrainConfig]]]:
    """Group by architecture, sort by training size (little padding), split into cache-friendly chunks."""
    groups: dict[tuple[object, ...], list[tuple[int, TrainConfig]]] = {}
    for item in configs:
        c = item[1]
        groups.setdefault(ensemble_key(c), []).append(item)
    chunks = []
    for items in groups.values():
        items.sort(key=lambda item: (item[1].split().n_train, item[1].steps))
        modulus, hidden = items[0][1].modulus, items[0][1].hidden  # shared by the group (see ensemble_key)
        per_member = modulus * modulus * hidden  # hidden activations over all (train + test) pairs
        size = max(1, min(max_members or MAX_MEMBERS, CHUNK_ACTIVATIONS // per_member))
        chunks += [items[i : i + size] for i in range(0, len(items), size)]
    return chunks


def runs_table(results: Sequence[TrainResult], *, test_level: float = 0.99) -> pd.DataFrame:
    """One row per run: the config's fields, when it memorized (train accuracy ≥ 99 %) and generalized
    (test accuracy ≥ ``test_level``), final accuracies and losses, the last recorded step, and the run itself.

    Columns: every :class:`TrainConfig` field, ``memorized_step`` and ``generalized_step`` (missing if
    never reached), ``generalized`` (reached at all), ``final_train_acc`` / ``final_test_acc`` /
    ``final_train_loss`` / ``final_test_loss``, ``last_step`` (a run that stops early ends before its
    budget), ``history`` and ``result`` (the :class:`TrainResult`, with its model and snapshots).
    :func:`histories` stacks the histories into one long table.
    """
    if isinstance(results, TrainResult) or not isinstance(results, Sequence):
        raise TypeError(f"results must be a list of TrainResult, got {type(results).__name__}")
    bad = [i for i, r in enumerate(results) if not isinstance(r, TrainResult)]
    if bad:
        raise TypeError(f"results must hold only TrainResult; items {bad[:5]} are not")
    check_float("test_level", test_level, minimum=0, maximum=1)
    return pd.DataFrame([_row(result, test_level) for result in results])


def _row(result: TrainResult, test_level: float) -> dict[str, object]:
    history = check_frame("result.history", result.history, HISTORY_COLUMNS)
    last = history.iloc[-1]
    generalized = first_step_reaching(history, "test_acc", test_level)
    return {
        **result.config.to_dict(),
        "memorized_step": first_step_reaching(history, "train_acc", 0.99),
        "generalized_step": generalized,
        "generalized": generalized is not None,
        "final_train_acc": float(last["train_acc"]),
        "final_test_acc": float(last["test_acc"]),
        "final_train_loss": float(last["train_loss"]),
        "final_test_loss": float(last["test_loss"]),
        "last_step": int(last["step"]),
        "history": history,
        "result": result,
    }


def sweep(
    configs: Iterable[TrainConfig],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    max_members: int | None = None,
    backend: str = "local",
    snapshot_every: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train every config (or load it from ``cache_dir``) and return one row per config, in order.

    Columns: those of :func:`runs_table` (test level 99 %) and ``source`` ("cache" or "trained").
    ``snapshot_every=k`` keeps a copy of each network every k steps, in the cache too, as
    :func:`grokkit.train` does; a cached run without those snapshots is trained again.
    ``backend="ray"`` sends chunks to a Ray cluster (``pip install 'grokkit[ray]'``; call
    ``ray.init`` first to choose which), the default trains in this process.
    """
    configs = _check_configs(configs)
    if max_members is not None and (isinstance(max_members, bool) or not isinstance(max_members, int) or max_members < 1):
        raise ValueError(f"max_members must be None or an int >= 1, got {max_members!r}")
    if not isinstance(backend, str) or backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    check_bool("progress", progress, optional=True)
    if snapshot_every is not None:
        check_int("snapshot_every", snapshot_every, minimum=1)
    if snapshot_every is not None and backend == "ray":
        raise ValueError("snapshot_every is not available with backend='ray'; use the local backend to keep snapshots")
    where = pick_device(device) if backend == "local" else None
    cache = RunCache(check_folder("cache_dir", cache_dir)) if cache_dir is not None else None
    rows: dict[int, dict[str, object]] = {}
    todo = []
    for index, config in enumerate(configs):
        cached = cache.load(config, snapshot_every) if cache else None
        if cached is not None:
            rows[index] = {**_row(cached, 0.99), "source": "cache"}
        else:
            todo.append((index, config))
    bar = tqdm(total=len(configs), initial=len(rows), disable=not progress_enabled(progress), desc="sweep", unit="run")

    def record(index: int, result: TrainResult) -> None:
        if cache:
            cache.save(result)
        rows[index] = {**_row(result, 0.99), "source": "trained"}
        bar.update(1)

    chunks = _chunks(todo, max_members)
    if where is not None:  # refuse a sweep that cannot fit before training any of it (a Ray worker may have more memory)
        for chunk in chunks:
            _check_memory_for([c for _, c in chunk], where, snapshot_every)
    if backend == "ray":
        from .distributed import train_chunks_on_ray

        for chunk, results in train_chunks_on_ray([[c for _, c in chunk] for chunk in chunks], chunks):
            for (index, _), result in zip(chunk, results, strict=True):
                record(index, result)
    else:
        for chunk in chunks:

            def on_finish(position: int, result: TrainResult, chunk: list[tuple[int, TrainConfig]] = chunk) -> None:
                record(chunk[position][0], result)

            train_many([c for _, c in chunk], device=where, progress=False, snapshot_every=snapshot_every, on_finish=on_finish)
    bar.close()
    return pd.DataFrame([rows[i] for i in range(len(configs))])


def histories(results: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """The runs' histories stacked into one long frame, each row tagged with the given config columns."""
    check_frame("results", results, ["history"], what="a table from grokkit.sweep")
    for c in columns:
        if not isinstance(c, str):
            raise TypeError(f"column names must be str, got {type(c).__name__} {c!r}")
    missing = sorted(set(columns) - set(results.columns))
    if missing:
        raise ValueError(f"unknown column(s) {missing}; available: {sorted(results.columns)}")
    bad = [i for i, h in enumerate(results["history"]) if not isinstance(h, pd.DataFrame)]
    if bad:
        raise TypeError(f"results['history'] must hold a DataFrame in every row; rows {bad[:5]} do not")
    frames = [row.history.assign(run=i, **{c: getattr(row, c) for c in columns}) for i, row in enumerate(results.itertuples())]
    return pd.concat(frames, ignore_index=True)
