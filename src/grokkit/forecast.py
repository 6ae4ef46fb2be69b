"""Predicting which runs generalise: from a few finished runs, or from the first part of one.

Insight made measurable. A *mental model* here is the Li₂ scaling law, n_c = c · M ln M: a
classifier that sees only the one feature the theory says matters, ln(n / (M ln M)). The *black
boxes* see (M, n) and nothing else. All are scikit-learn classifiers with the same interface, so they
are fitted to the same runs and scored on the same ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._validate import check_choice, check_frame, check_int, check_memory, check_sequence


def _numbers(name: str, values: object, *, ndim: int) -> np.ndarray:
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

MODELS = ("scaling law", "logistic regression", "nearest neighbours", "random forest")
"""The classifiers :func:`classifier` builds: the mental model first, then the black boxes."""


def scaling_feature(x: np.ndarray) -> np.ndarray:
    """ln(n / (M ln M)) for rows (M, n): the only feature the Li₂ scaling law uses."""
    x = _numbers("x", x, ndim=2)
    if x.shape[1] != 2:
        raise ValueError(f"x must have shape (runs, 2), columns modulus and n_train, got {x.shape}")
    if not np.isfinite(x).all() or (x[:, 0] < 2).any() or (x[:, 1] <= 0).any():
        raise ValueError("x must hold finite rows (M, n) with modulus M >= 2 and n_train n > 0")
    modulus, n = x[:, 0], x[:, 1]
    return np.log(n / (modulus * np.log(modulus)))[:, None]


def classifier(name: str, seed: int = 0) -> ClassifierMixin:
    """An unfitted classifier of runs (M, n) → generalises or not; ``name`` is one of :data:`MODELS`."""
    check_choice("name", name, MODELS)
    check_int("seed", seed, minimum=0, maximum=2**32 - 1)  # scikit-learn's random_state range
    if name == "scaling law":
        return make_pipeline(FunctionTransformer(scaling_feature), LogisticRegression(C=100.0))
    if name == "logistic regression":
        return make_pipeline(StandardScaler(), LogisticRegression(C=100.0))
    if name == "nearest neighbours":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=3))
    return RandomForestClassifier(n_estimators=100, random_state=check_int("seed", seed, minimum=0, maximum=2**32 - 1))


def _features(runs: pd.DataFrame) -> np.ndarray:
    check_frame("runs", runs, what="one row per run")
    missing = sorted({"modulus", "n_train"} - set(runs.columns))
    if missing:
        raise ValueError(f"runs need the columns modulus and n_train; missing {missing}")
    x = _numbers("runs[['modulus', 'n_train']]", runs[["modulus", "n_train"]], ndim=2)
    if not np.isfinite(x).all() or (x[:, 0] < 2).any() or (x[:, 1] <= 0).any():
        raise ValueError("runs must have finite modulus >= 2 and n_train > 0 in every row (no NaN)")
    return x


def fit(name: str, runs: pd.DataFrame, label: str = "generalised", seed: int = 0) -> ClassifierMixin:
    """``classifier(name)`` fitted to ``runs`` (columns modulus, n_train and the boolean ``label``)."""
    check_choice("name", name, MODELS)
    check_frame("runs", runs, what="one row per run")
    if not isinstance(label, str) or label not in runs.columns:
        raise ValueError(f"runs have no column {label!r}; label must be one of {sorted(map(str, runs.columns))}")
    if runs[label].isna().any():
        raise ValueError(f"runs[{label!r}] has missing (NaN) values; every run needs a true/false outcome")
    outcomes = runs[label].astype(bool).to_numpy()
    if outcomes.all() or not outcomes.any():
        raise ValueError(f"runs must include both outcomes to fit a classifier; all {len(runs)} runs have {label}={bool(outcomes[0])}")
    return classifier(name, seed).fit(_features(runs), outcomes)


def predict(model: ClassifierMixin, runs: pd.DataFrame) -> np.ndarray:
    """The fitted ``model``'s prediction for every run (row with modulus and n_train)."""
    _check_fitted(model)
    return model.predict(_features(runs)).astype(bool)


def boundary(model: ClassifierMixin, moduli: Sequence[int], *, resolution: int = 400) -> pd.DataFrame:
    """Per modulus M, the smallest n (on a grid of ``resolution`` values up to M²) predicted to generalise.

    Missing when the model predicts failure for every n. For the scaling law this is ĉ · M ln M.
    """
    _check_fitted(model)
    check_int("resolution", resolution, minimum=2)
    moduli = check_sequence("moduli", moduli, what="ints >= 2")
    for m in moduli:
        check_int("moduli entry", m, minimum=2)
    check_memory(f"resolution={resolution}", 64 * resolution)
    rows = []
    for m in moduli:
        grid = np.unique(np.linspace(1, m * m - 1, resolution).round())
        ok = model.predict(np.column_stack([np.full_like(grid, m), grid])).astype(bool)
        rows.append({"modulus": m, "n": float(grid[ok.argmax()]) if ok.any() else math.nan})
    return pd.DataFrame(rows)


def fitted_constant(model: ClassifierMixin) -> float:
    """ĉ of a fitted scaling-law classifier: the n / (M ln M) at which it switches to 'generalises'."""
    regression = model[-1] if hasattr(model, "steps") else None
    if not isinstance(regression, LogisticRegression) or not isinstance(model[0], FunctionTransformer):
        raise TypeError("model must be a fitted classifier('scaling law') for fitted_constant")
    _check_fitted(model)
    slope = float(regression.coef_[0, 0])
    if slope <= 0:
        raise ValueError(f"model predicts fewer successes with more data (slope {slope:.3g}), so it has no switch point ĉ; refit it on runs of both outcomes")
    return float(math.exp(-regression.intercept_[0] / slope))


def _check_fitted(model: object) -> None:
    if not hasattr(model, "predict"):
        raise TypeError(f"model must be a fitted classifier from grokkit.forecast.fit, got {type(model).__name__}")
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise ValueError("model must be fitted first (grokkit.forecast.fit)") from None


def held_out_calls(measure: Sequence[float], outcome: Sequence[bool]) -> np.ndarray:
    """Leave-one-out predictions of ``outcome`` from one progress ``measure`` per run.

    Each run is judged by a logistic regression (classes weighted equally) fitted to all the other
    runs, so no run's prediction has seen its own outcome.
    """
    x = _numbers("measure", measure, ndim=1)[:, None]
    y = np.asarray(outcome)
    if y.ndim != 1 or (y.dtype != bool and not np.isin(y, (0, 1)).all()):
        raise ValueError(f"outcome must be a 1-D list of True/False, got {y.dtype} of shape {y.shape}")
    y = y.astype(bool)
    if x.shape[0] != y.shape[0] or x.shape[0] < 3:
        raise ValueError(f"measure and outcome must have the same length, at least 3; got {x.shape[0]} and {y.shape[0]}")
    if not np.isfinite(x).all():
        raise ValueError("measure has NaN or infinite values")
    if np.ptp(x) == 0:
        raise ValueError("measure is the same for every run, so it cannot tell the outcomes apart")
    if y.sum() < 2 or (~y).sum() < 2:
        raise ValueError(f"need at least 2 runs of each outcome to judge held-out runs; got {int(y.sum())} of {y.size} positive")
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
    return cross_val_predict(model, x, y, cv=LeaveOneOut()).astype(bool)


def cost_until_success(succeeded: Sequence[bool], cost: Sequence[float], *, trials: int, seed: int = 0) -> np.ndarray:
    """Random search, replayed: the cost spent until the first success, in ``trials`` random orders.

    Each trial tries the runs in a fresh random order and adds up their costs up to and including the
    first one that succeeded; a trial with no success costs everything (all runs tried).
    """
    succeeded = np.asarray(succeeded)
    if succeeded.dtype != bool and not (succeeded.dtype.kind in "iuf" and np.isin(succeeded, (0, 1)).all()):
        raise ValueError(f"succeeded must hold True/False per run, got {succeeded.dtype}")
    succeeded = succeeded.astype(bool)
    cost = _numbers("cost", cost, ndim=1)
    if succeeded.shape != cost.shape or succeeded.ndim != 1 or succeeded.size == 0:
        raise ValueError(f"succeeded and cost must be non-empty 1-D and the same length, got {succeeded.shape} and {cost.shape}")
    if not np.isfinite(cost).all() or (cost < 0).any():
        raise ValueError("cost must be finite and >= 0 for every run")
    check_int("trials", trials, minimum=1)
    check_memory(f"trials={trials}", 8 * trials)
    generator = np.random.default_rng(check_int("seed", seed, minimum=0))
    totals = np.empty(trials)
    for t in range(trials):
        order = generator.permutation(succeeded.size)
        hits = np.flatnonzero(succeeded[order])
        last = hits[0] if hits.size else succeeded.size - 1
        totals[t] = cost[order][: last + 1].sum()
    return totals
