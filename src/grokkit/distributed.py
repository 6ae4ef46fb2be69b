"""Sweep chunks on a Ray cluster (optional: ``pip install 'grokkit[ray]'``).

Each chunk is one Ray task that trains its configs as an ensemble on the worker; results come back
as chunks finish, so the sweep caches them in the order they complete. Each task carries the loss
functions its configs name, so losses added with :func:`grokkit.losses.register_loss` in this process
train on the workers too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from .losses import LOSSES, Loss
from .train import TrainConfig, TrainResult, train_many

Tag = TypeVar("Tag")


def _train_chunk(configs: list[TrainConfig], losses: dict[str, Loss]) -> list[TrainResult]:
    """Train one chunk on a worker, with the losses this chunk names as the sending process defined them."""
    LOSSES.update(losses)
    return train_many(configs, progress=False)


def _check_chunks(chunks: object) -> Sequence[list[TrainConfig]]:
    if isinstance(chunks, (str, bytes)) or not isinstance(chunks, Sequence):
        raise TypeError(f"chunks must be a sequence of lists of TrainConfig, got {type(chunks).__name__}")
    for chunk in chunks:
        if isinstance(chunk, (str, bytes)) or not isinstance(chunk, Sequence) or not chunk or not all(isinstance(c, TrainConfig) for c in chunk):
            raise TypeError("chunks must hold non-empty lists of TrainConfig, one list per Ray task")
    return chunks


def train_chunks_on_ray(chunks: Sequence[list[TrainConfig]], tags: Sequence[Tag]) -> Iterator[tuple[Tag, list[TrainResult]]]:
    """Yield ``(tag, results)`` for each chunk as its Ray task finishes. Starts a local Ray if none runs."""
    chunks = _check_chunks(chunks)
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Sequence) or len(tags) != len(chunks):
        length = len(tags) if isinstance(tags, Sequence) else "?"
        raise ValueError(f"tags must be a sequence with one tag per chunk ({len(chunks)}), got {type(tags).__name__} of length {length}")
    return _as_finished(chunks, tags)  # checked now, not when the caller first iterates


def _as_finished(chunks: Sequence[list[TrainConfig]], tags: Sequence[Tag]) -> Iterator[tuple[Tag, list[TrainResult]]]:
    try:
        import ray
    except ImportError as error:
        raise ImportError("backend='ray' needs Ray: pip install 'grokkit[ray]'") from error
    if not ray.is_initialized():
        ray.init()
    remote = ray.remote(_train_chunk)
    pending = {remote.remote(chunk, {c.loss: LOSSES[c.loss] for c in chunk}): tag for chunk, tag in zip(chunks, tags, strict=True)}
    while pending:
        (ready,), _ = ray.wait(list(pending), num_returns=1)
        yield pending.pop(ready), ray.get(ready)
