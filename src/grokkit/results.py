"""Key results: the numbers a chapter's prose quotes, glued into the book and checked against references.

A notebook records each number once with :meth:`KeyResults.glue`; that glues it for the prose
(myst-nb) and stores it, and :meth:`KeyResults.save` writes all of them to a small JSON file. The book
build compares that file with the committed reference, whose entries state their own tolerance.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

from ._validate import check_float, check_folder, check_name


def _glue(name: str, value: object) -> None:
    """Glue for the prose in the book build (tools/book.py sets GROKKIT_BOOK_BUILD=1); elsewhere, in Colab or
    Jupyter, a glued value would only add output to the cell, so nothing is shown."""
    if os.environ.get("GROKKIT_BOOK_BUILD") == "1":
        from myst_nb import glue

        glue(name, value, display=False)


def whole(x: object) -> float | int:
    """An int for the prose, or NaN when the quantity was never reached (``None`` or NaN): a NaN key
    result then fails the reference check instead of the notebook stopping halfway."""
    if x is None:
        return math.nan
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"x must be a number or None, got {type(x).__name__} {x!r}")
    if math.isnan(x):
        return math.nan
    if math.isinf(x):
        raise ValueError(f"x must be finite (or NaN / None for never reached), got {x}")
    return int(x)  # type: ignore[call-overload]  # every Real converts (numpy via __int__, others via __trunc__); typeshed's Real declares neither


class KeyResults:
    """Collects a notebook's quoted numbers and writes them to ``<directory>/<name>.results.json``."""

    def __init__(self, name: str, directory: str | Path = ".") -> None:
        self.name = check_name("name", name)
        self.path = check_folder("directory", directory) / f"{name}.results.json"
        self.values: dict[str, float | int] = {}

    def glue(self, key: str, value: float | int) -> None:
        """Record ``value`` under ``key`` and glue it for the prose (returns nothing, so a cell shows nothing)."""
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"key must be a non-empty string, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"key result {key!r} must be an int or float, got {type(value).__name__}")
        value = int(value) if isinstance(value, numbers.Integral) else float(value)  # plain Python, not numpy
        self.values[key] = value
        _glue(key, value)

    def glue_many(self, **values: float | int) -> None:
        """:meth:`glue` each keyword's value under its name: the settings a section quotes, in one call."""
        for key, value in values.items():
            self.glue(key, value)

    def save(self) -> None:
        """Write the recorded values to :attr:`path` (atomically: a temporary file renamed into place).
        Returns nothing, so a notebook's last cell shows nothing."""
        check_folder("directory", self.path.parent)
        if self.path.is_dir():
            raise ValueError(f"name must not name an existing folder, but {str(self.path)!r} is one")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.values, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path)


@dataclass(frozen=True)
class Drift:
    """One key result that is missing or outside its reference tolerance."""

    key: str
    reference: float | None
    new: float | None
    tolerance: str

    def __str__(self) -> str:
        return f"{self.key}: reference {self.reference}, new {self.new}, tolerance {self.tolerance}"


def compare(values: dict[str, float], reference: dict[str, dict[str, float]]) -> list[Drift]:
    """Every reference entry ``{"value": v, "abs": a, "rel": r}`` that ``values`` misses or breaks.

    A value passes when ``|new − v| ≤ max(a, r·|v|)``. Keys in ``values`` without a reference entry are
    reported too, so a new quoted number cannot go unchecked.
    """
    if not isinstance(values, dict):
        raise TypeError(f"values must be a dict of key → number, got {type(values).__name__}")
    if not isinstance(reference, dict):
        raise TypeError(f"reference must be a dict of key → {{'value': v, 'abs': a, 'rel': r}}, got {type(reference).__name__}")
    for key, new in values.items():
        if new is not None and (isinstance(new, bool) or not isinstance(new, numbers.Real)):
            raise TypeError(f"values[{key!r}] must be a number or None, got {type(new).__name__} {new!r}")
    drifts = []
    for key, entry in sorted(reference.items()):
        if not isinstance(entry, dict) or "value" not in entry:
            raise ValueError(f"reference[{key!r}] must be a dict with a 'value' (and optional 'abs', 'rel'), got {entry!r}")
        ref = check_float(f"reference[{key!r}]['value']", entry["value"])
        absolute = check_float(f"{key}.abs", entry.get("abs", 0.0), minimum=0)
        relative = check_float(f"{key}.rel", entry.get("rel", 0.0), minimum=0)
        tolerance = f"±max({absolute:g}, {relative:g}·|reference|)"
        got = values.get(key)
        if got is None or not math.isfinite(got) or abs(got - ref) > max(absolute, relative * abs(ref)):
            drifts.append(Drift(key, ref, got, tolerance))
    for key in sorted(set(values) - set(reference)):
        drifts.append(Drift(key, None, values[key], "no reference entry"))
    return drifts
