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

import pandas as pd
import torch
from tqdm.auto import tqdm

from ._validate import check_bool, check_choice, check_folder, check_frame, check_sequence
from .device import pick_device
from .metrics import first_step_reaching
from .models import TwoLayerNet
from .train import HISTORY_COLUMNS, TrainConfig, TrainResult, _check_memory_for, ensemble_key, progress_enabled, train_many

TRAINING_CODE_VERSION = "3"
"""Bumped whenever a change to the training code changes results, so stale cache entries are not used."""

SUMMARY_COLUMNS = [
    "memorised_step", "generalised_step", "final_train_acc", "final_test_acc", "final_train_loss",
    "final_test_loss", "source", "history",
]
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
    return [base.replace(**dict(zip(names, values))) for values in itertools.product(*(values[n] for n in names))]


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
        torch.save({
            "config": result.config.to_dict(),
            "history": result.history.to_dict(orient="list"),
            "W": result.model.W.detach().clone(),
            "V": result.model.V.detach().clone(),
        }, buffer)
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

    def load(self, config: TrainConfig) -> TrainResult | None:
        """The cached run, or ``None`` if absent; a damaged entry is reported and treated as absent."""
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
        model = TwoLayerNet(config.modulus, config.hidden, config.activation, inputs=config.inputs)
        with torch.no_grad():
            model.W.copy_(data["W"])
            model.V.copy_(data["V"])
        history = pd.DataFrame(data["history"], columns=HISTORY_COLUMNS)
        return TrainResult(config=config, model=model, split=config.split(), history=history)


def _chunks(configs: list[tuple[int, TrainConfig]], max_members: int | None) -> list[list[tuple[int, TrainConfig]]]:
    """Group by architecture, sort by training size (little padding), split into cache-friendly chunks."""
    groups: dict[tuple[object, ...], list[tuple[int, TrainConfig]]] = {}
    for item in configs:
        c = item[1]
        groups.setdefault(ensemble_key(c), []).append(item)
    chunks = []
    for (modulus, hidden, *_), items in groups.items():
        items.sort(key=lambda item: (item[1].split().n_train, item[1].steps))
        per_member = modulus * modulus * hidden  # hidden activations over all (train + test) pairs
        size = max(1, min(max_members or MAX_MEMBERS, CHUNK_ACTIVATIONS // per_member))
        chunks += [items[i : i + size] for i in range(0, len(items), size)]
    return chunks


def summarise(result: TrainResult, source: str) -> dict[str, object]:
    """One sweep row: the config's fields, when the run memorised and generalised (99 %), final values."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    check_choice("source", source, ("cache", "trained"))
    history = check_frame("result.history", result.history, HISTORY_COLUMNS)
    last = history.iloc[-1]
    return {
        **result.config.to_dict(),
        "memorised_step": first_step_reaching(history, "train_acc", 0.99),
        "generalised_step": first_step_reaching(history, "test_acc", 0.99),
        "final_train_acc": float(last["train_acc"]),
        "final_test_acc": float(last["test_acc"]),
        "final_train_loss": float(last["train_loss"]),
        "final_test_loss": float(last["test_loss"]),
        "source": source,
        "history": history,
    }


def sweep(
    configs: Iterable[TrainConfig],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    max_members: int | None = None,
    backend: str = "local",
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train every config (or load it from ``cache_dir``) and return one row per config, in order.

    Columns: every :class:`TrainConfig` field, ``memorised_step`` / ``generalised_step`` (first
    recorded step with train / test accuracy ≥ 99 %, or missing), final accuracies and losses,
    ``source`` ("cache" or "trained") and ``history`` (that run's history DataFrame).
    ``backend="ray"`` sends chunks to a Ray cluster (``pip install 'grokkit[ray]'``; call
    ``ray.init`` first to choose which), the default trains in this process.
    """
    if isinstance(configs, TrainConfig):
        raise TypeError("configs must be an iterable of TrainConfig, got one TrainConfig; pass [config]")
    try:
        configs = list(configs)
    except TypeError:
        raise TypeError(f"configs must be an iterable of TrainConfig, got {type(configs).__name__}") from None
    if not configs:
        raise ValueError("configs is empty; pass at least one TrainConfig (see grokkit.sweep.grid)")
    if not all(isinstance(c, TrainConfig) for c in configs):
        raise TypeError("configs must all be TrainConfig instances")
    if max_members is not None and (isinstance(max_members, bool) or not isinstance(max_members, int) or max_members < 1):
        raise ValueError(f"max_members must be None or an int >= 1, got {max_members!r}")
    if not isinstance(backend, str) or backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
    check_bool("progress", progress, optional=True)
    where = pick_device(device) if backend == "local" else None
    cache = RunCache(check_folder("cache_dir", cache_dir)) if cache_dir is not None else None
    rows: dict[int, dict[str, object]] = {}
    todo = []
    for index, config in enumerate(configs):
        cached = cache.load(config) if cache else None
        if cached is not None:
            rows[index] = summarise(cached, "cache")
        else:
            todo.append((index, config))
    bar = tqdm(total=len(configs), initial=len(rows), disable=not progress_enabled(progress), desc="sweep", unit="run")

    def record(index: int, result: TrainResult) -> None:
        if cache:
            cache.save(result)
        rows[index] = summarise(result, "trained")
        bar.update(1)

    chunks = _chunks(todo, max_members)
    if where is not None:  # refuse a sweep that cannot fit before training any of it (a Ray worker may have more memory)
        for chunk in chunks:
            _check_memory_for([c for _, c in chunk], where)
    if backend == "ray":
        from .distributed import train_chunks_on_ray

        for chunk, results in train_chunks_on_ray([[c for _, c in chunk] for chunk in chunks], chunks):
            for (index, _), result in zip(chunk, results):
                record(index, result)
    else:
        for chunk in chunks:
            train_many([c for _, c in chunk], device=where, progress=False,
                       on_finish=lambda position, result, chunk=chunk: record(chunk[position][0], result))
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
