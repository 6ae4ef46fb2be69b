"""Quantities read off a training history."""

from __future__ import annotations

import pandas as pd

from ._validate import check_float

HISTORY_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


def first_step_reaching(history: pd.DataFrame, column: str, threshold: float) -> int | None:
    """The first recorded step at which ``column`` ≥ ``threshold``, or ``None`` if it never does.

    With an evaluation interval of e steps the true crossing lies in the e steps before the result.
    """
    if not isinstance(history, pd.DataFrame) or "step" not in history.columns:
        raise TypeError("history must be a pandas DataFrame with a 'step' column, as train() returns")
    if column not in history.columns:
        raise ValueError(f"column must be one of {sorted(set(history.columns) - {'step'})}, got {column!r}")
    threshold = check_float("threshold", threshold)
    reached = history.loc[history[column] >= threshold, "step"]
    return None if reached.empty else int(reached.iloc[0])
