"""Where training runs: the fastest available device unless one is forced, and CPU thread count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` picks CUDA, then Apple MPS, then CPU; otherwise the named device, checked to exist."""
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be None, a str or a torch.device, got {type(device).__name__}")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device must name a torch device such as 'cpu', 'cuda' or 'mps', got {device!r}") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available here; use None or 'cpu'")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' was requested but MPS is not available here; use None or 'cpu'")
    if chosen.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'mps', got {device!r}")
    return chosen


SMALL_WORK = 1 << 20
"""Below this many hidden activations per step (members × pairs × K), one CPU thread is faster:
the ops are too small to split, and a second thread on a busy machine can slow them down many times."""


@contextmanager
def cpu_threads_for(work: int, device: torch.device) -> Iterator[None]:
    """Use one intra-op thread on CPU for small work, torch's default otherwise; restore afterwards."""
    before = torch.get_num_threads()
    if device.type == "cpu" and work < SMALL_WORK:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
