"""Argument checks shared by the public API, so every bad input gets the same kind of message."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int within [minimum, maximum]; raise naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    open_min: bool = False,
    open_max: bool = False,
) -> float:
    """Return ``value`` as a finite float within the stated bounds; raise naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    lo = "(" if open_min else "["
    hi = ")" if open_max else "]"
    allowed = f"{lo}{'-inf' if minimum is None else minimum}, {'inf' if maximum is None else maximum}{hi}"
    if minimum is not None and (value < minimum or (open_min and value == minimum)):
        raise ValueError(f"{name} must be in {allowed}, got {value}")
    if maximum is not None and (value > maximum or (open_max and value == maximum)):
        raise ValueError(f"{name} must be in {allowed}, got {value}")
    return value


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; raise listing the allowed names otherwise."""
    allowed = sorted(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_pairs(name: str, pairs: Any, modulus: int, width: int = 2) -> torch.Tensor:
    """Return ``pairs`` if it is an integer tensor of shape (n, width) with entries in [0, modulus)."""
    if not isinstance(pairs, torch.Tensor) or pairs.dtype.is_floating_point or pairs.dtype.is_complex or pairs.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer torch.Tensor of shape (n, {width}), got {type(pairs).__name__} {getattr(pairs, 'dtype', '')}".rstrip())
    if pairs.dim() != 2 or pairs.shape[1] != width:
        raise ValueError(f"{name} must have shape (n, {width}), got {tuple(pairs.shape)}")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= modulus):
        raise ValueError(f"{name} entries must be in [0, {modulus - 1}], got values from {int(pairs.min())} to {int(pairs.max())}")
    return pairs
