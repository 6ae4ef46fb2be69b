"""Sweep chunks on a Ray cluster (optional: ``pip install 'grokkit[ray]'``).

Each chunk is one Ray task that trains its configs as an ensemble on the worker; results come back
as chunks finish, so the sweep caches them in the order they complete.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from .train import TrainConfig, TrainResult, train_many

Tag = TypeVar("Tag")


def _train_chunk(configs: list[TrainConfig]) -> list[TrainResult]:
    return train_many(configs, progress=False)


def train_chunks_on_ray(chunks: Sequence[list[TrainConfig]], tags: Sequence[Tag]) -> Iterator[tuple[Tag, list[TrainResult]]]:
    """Yield ``(tag, results)`` for each chunk as its Ray task finishes. Starts a local Ray if none runs."""
    try:
        import ray
    except ImportError as error:
        raise ImportError("backend='ray' needs Ray: pip install 'grokkit[ray]'") from error
    if not ray.is_initialized():
        ray.init()
    remote = ray.remote(_train_chunk)
    pending = {remote.remote(chunk): tag for chunk, tag in zip(chunks, tags)}
    while pending:
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        yield pending.pop(ready), ray.get(ready)
