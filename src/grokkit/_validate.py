"""Argument checks shared by the public API, so every bad input gets the same kind of message."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
import torch

INT64_MAX = 2**63 - 1
"""The largest integer torch and numpy store without overflow; every int argument must fit in 64 bits."""
INT64_MIN = -(2**63)
FALLBACK_MEMORY = 1 << 40
"""Assumed memory (1 TiB) where the operating system does not say how much there is."""


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int within [minimum, maximum] (and within 64 bits); raise naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name} must fit in 64 bits, between -2**63 and 2**63 - 1 = {INT64_MAX}, got {value}")
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
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError(f"{name} must be a finite number within the float range, got an int of {value.bit_length()} bits") from None
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


@overload
def check_bool(name: str, value: Any, *, optional: Literal[False] = False) -> bool: ...
@overload
def check_bool(name: str, value: Any, *, optional: bool) -> bool | None: ...
def check_bool(name: str, value: Any, *, optional: bool = False) -> bool | None:
    """Return ``value`` if it is a bool (or ``None`` when ``optional``); raise naming ``name`` otherwise."""
    if optional and value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {'None or ' if optional else ''}True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_callable(name: str, value: Any, *, optional: bool = False, what: str = "a function") -> Any:
    """Return ``value`` if it can be called (or is ``None`` when ``optional``); raise naming ``name`` otherwise."""
    if (optional and value is None) or callable(value):
        return value
    raise TypeError(f"{name} must be {'None or ' if optional else ''}{what}, got {type(value).__name__} {value!r}")


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; raise listing the allowed names otherwise."""
    allowed = sorted(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_sequence(name: str, value: Any, *, what: str = "values", minimum: int = 1) -> list[Any]:
    """``value`` as a list, if it is a list, tuple, range or other non-string collection with at least ``minimum`` items."""
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (Sequence, np.ndarray, pd.Series, set, frozenset, range)):
        raise TypeError(f"{name} must be a list of {what}, got {type(value).__name__} {value!r}")
    items = list(value)
    if len(items) < minimum:
        raise ValueError(f"{name} must list at least {minimum} item(s) ({what}), got {len(items)}")
    return items


def check_pairs(name: str, pairs: Any, modulus: int, width: int = 2) -> torch.Tensor:
    """Return ``pairs`` if it is an integer tensor of shape (n, width) with entries in [0, modulus)."""
    if not isinstance(pairs, torch.Tensor) or pairs.dtype.is_floating_point or pairs.dtype.is_complex or pairs.dtype == torch.bool:
        raise TypeError(
            f"{name} must be an integer torch.Tensor of shape (n, {width}), got {type(pairs).__name__} {getattr(pairs, 'dtype', '')}".rstrip()
        )
    if pairs.dim() != 2 or pairs.shape[1] != width:
        raise ValueError(f"{name} must have shape (n, {width}), got {tuple(pairs.shape)}")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= modulus):
        raise ValueError(f"{name} entries must be in [0, {modulus - 1}], got values from {int(pairs.min())} to {int(pairs.max())}")
    return pairs


def check_labels(name: str, labels: Any, modulus: int, n: int | None = None) -> torch.Tensor:
    """Return ``labels`` if it is a 1-D integer tensor (of length ``n``, if given) with entries in [0, modulus)."""
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer torch.Tensor of shape (n,), got {type(labels).__name__} {getattr(labels, 'dtype', '')}".rstrip())
    if labels.dim() != 1 or (n is not None and labels.shape[0] != n):
        raise ValueError(f"{name} must have shape ({'n' if n is None else n},), one label per input, got {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= modulus):
        raise ValueError(f"{name} entries must be classes in [0, {modulus - 1}], got values from {int(labels.min())} to {int(labels.max())}")
    return labels


def check_float_tensor(name: str, value: Any, *, dim: int | None = None, shape: str = "", nonempty: bool = True) -> torch.Tensor:
    """Return ``value`` if it is a finite float tensor with ``dim`` dimensions (``shape`` describes them in messages)."""
    described = f" of shape {shape}" if shape else (f" with {dim} dimension(s)" if dim is not None else "")
    if not isinstance(value, torch.Tensor) or not value.dtype.is_floating_point:
        raise TypeError(f"{name} must be a float torch.Tensor{described}, got {type(value).__name__} {getattr(value, 'dtype', '')}".rstrip())
    if dim is not None and value.dim() != dim:
        raise ValueError(f"{name} must be a float tensor{described}, got shape {tuple(value.shape)}")
    if nonempty and value.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite, but it holds NaN or infinite values")
    return value


def check_nonzero(name: str, value: torch.Tensor, what: str) -> torch.Tensor:
    """Raise naming ``name`` if ``value`` is all zero, so that ``what`` (a ratio to its size) would be undefined."""
    if not bool(value.detach().ne(0).any()):
        raise ValueError(f"{name} is all zero, so {what} is undefined; pass a non-zero {name}")
    return value


def check_frame(name: str, value: Any, columns: Iterable[str] = (), *, what: str = "", nonempty: bool = True) -> pd.DataFrame:
    """Return ``value`` if it is a DataFrame with the ``columns`` (and at least one row); raise naming ``name`` otherwise."""
    suffix = f", {what}" if what else ""
    if not isinstance(value, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame{suffix}, got {type(value).__name__}")
    missing = sorted(set(columns) - set(value.columns))
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}{suffix}; it has {sorted(map(str, value.columns))}")
    if nonempty and value.empty:
        raise ValueError(f"{name} is empty; it must have at least one row{suffix}")
    return value


def memory_limit(device: str | torch.device | None = None) -> int:
    """Bytes of memory there are: the GPU's for a CUDA device, this machine's physical memory otherwise."""
    if device is not None and torch.device(device).type == "cuda":
        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # not a POSIX system
        return FALLBACK_MEMORY
    return total if total > 0 else FALLBACK_MEMORY


def _bytes(n: int) -> str:
    size: float = n
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.3g} {unit}" if unit != "B" else f"{size} B"
        size /= 1024
    raise AssertionError  # pragma: no cover


def check_memory(what: str, n_bytes: int, device: str | torch.device | None = None) -> None:
    """Raise a ValueError before anything is allocated if ``n_bytes`` (an estimate) exceed the memory there is.

    ``what`` names the arguments responsible and their values, e.g. ``"modulus=1000000 (10**12 pairs)"``.
    """
    limit = memory_limit(device)
    if n_bytes > limit:
        where = "the GPU" if device is not None and torch.device(device).type == "cuda" else "this machine"
        raise ValueError(f"{what} would need about {_bytes(n_bytes)} of memory, more than the {_bytes(limit)} {where} has; choose smaller sizes")


def check_path(name: str, value: Any) -> Path:
    """``value`` as a Path, if it is a non-empty str or os.PathLike; raise naming ``name`` otherwise."""
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (a str or os.PathLike), got {type(value).__name__} {value!r}")
    text = os.fspath(value)
    if not isinstance(text, str) or not text or "\0" in text:
        raise ValueError(f"{name} must be a non-empty path without NUL characters, got {value!r}")
    return Path(text)


def check_folder(name: str, value: Any) -> Path:
    """``value`` as a Path to a folder that exists or can be created and is writable; raise naming ``name`` otherwise."""
    path = check_path(name, value)
    try:
        if path.exists() and not path.is_dir():
            raise ValueError(f"{name} must be a folder, but {str(path)!r} is an existing file")
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
    except OSError as error:  # e.g. a name too long for the file system
        raise ValueError(f"{name} must be a usable folder path, got {str(path)!r}: {error.strerror or error}") from None
    if not existing.is_dir():
        raise ValueError(f"{name} must be a folder that can be created, but {str(existing)!r} in its path is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name} must be a writable folder, but {str(existing)!r} is not writable")
    return path


def check_name(name: str, value: Any) -> str:
    """Return ``value`` if it is a plain file name: non-empty, no folder separators, not '.' or '..'."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    if not value.strip() or value in (".", "..") or any(c in value for c in "/\\\0") or os.path.isabs(value) or (os.altsep and os.altsep in value):
        raise ValueError(f"{name} must be a plain, non-empty file name without '/', '\\' or '..' (it names a file in its folder), got {value!r}")
    return value


def check_numbers(name: str, values: object, *, ndim: int) -> np.ndarray:
    """``values`` as a float array with ``ndim`` dimensions; a TypeError naming ``name`` if they are not numbers."""
    array = np.asarray(values)
    if array.dtype == object:  # numbers mixed with other things: each must be a real number itself
        if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in array.flat):
            raise TypeError(f"{name} must hold numbers, got a {type(values).__name__} holding other objects")
    elif array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold numbers, got {array.dtype} values")
    array = array.astype(float)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    return array
