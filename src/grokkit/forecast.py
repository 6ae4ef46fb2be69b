"""Predicting which runs generalize: from a few finished runs, or from the first part of one.

Insight made measurable. A *mental model* here is the Li₂ scaling law, n_c = c · M ln M: a
classifier that sees only the one feature the theory says matters, ln(n / (M ln M)). The *black
boxes* see (M, n) and nothing else. All are scikit-learn classifiers with the same interface, so they
are fitted to the same runs and scored on the same ground truth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._validate import check_choice, check_float, check_frame, check_int, check_memory, check_numbers, check_sequence
from .scaling import scaling_feature, training_cost

MODELS = ("scaling law", "logistic regression", "nearest neighbors", "random forest")
"""The classifiers :func:`classifier` builds: the mental model first, then the black boxes."""


def classifier(name: str, seed: int = 0) -> ClassifierMixin:
    """An unfitted classifier of runs (M, n) → generalizes or not; ``name`` is one of :data:`MODELS`."""
    check_choice("name", name, MODELS)
    check_int("seed", seed, minimum=0, maximum=2**32 - 1)  # scikit-learn's random_state range
    if name == "scaling law":
        return make_pipeline(FunctionTransformer(scaling_feature), LogisticRegression(C=100.0))
    if name == "logistic regression":
        return make_pipeline(StandardScaler(), LogisticRegression(C=100.0))
    if name == "nearest neighbors":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=3))
    return RandomForestClassifier(n_estimators=100, random_state=check_int("seed", seed, minimum=0, maximum=2**32 - 1))


def _features(runs: pd.DataFrame) -> np.ndarray:
    check_frame("runs", runs, what="one row per run")
    missing = sorted({"modulus", "n_train"} - set(runs.columns))
    if missing:
        raise ValueError(f"runs need the columns modulus and n_train; missing {missing}")
    x = check_numbers("runs[['modulus', 'n_train']]", runs[["modulus", "n_train"]], ndim=2)
    if not np.isfinite(x).all() or (x[:, 0] < 2).any() or (x[:, 1] <= 0).any():
        raise ValueError("runs must have finite modulus >= 2 and n_train > 0 in every row (no NaN)")
    return x


def fit(name: str, runs: pd.DataFrame, label: str = "generalized", seed: int = 0) -> ClassifierMixin:
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
    """Per modulus M, the smallest n (on a grid of ``resolution`` values up to M²) predicted to generalize.

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
    """ĉ of a fitted scaling-law classifier: the n / (M ln M) at which it switches to 'generalizes'."""
    regression = model[-1] if hasattr(model, "steps") else None
    if not isinstance(regression, LogisticRegression) or not isinstance(model[0], FunctionTransformer):
        raise TypeError("model must be a fitted classifier('scaling law') for fitted_constant")
    _check_fitted(model)
    slope = float(regression.coef_[0, 0])
    if slope <= 0:
        raise ValueError(
            f"model predicts fewer successes with more data (slope {slope:.3g}), so it has no switch point ĉ; refit it on runs of both outcomes"
        )
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
    x = check_numbers("measure", measure, ndim=1)[:, None]
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
    flags = np.asarray(succeeded)
    if flags.dtype != bool and not (flags.dtype.kind in "iuf" and np.isin(flags, (0, 1)).all()):
        raise ValueError(f"succeeded must hold True/False per run, got {flags.dtype}")
    flags = flags.astype(bool)
    costs = check_numbers("cost", cost, ndim=1)
    if flags.shape != costs.shape or flags.ndim != 1 or flags.size == 0:
        raise ValueError(f"succeeded and cost must be non-empty 1-D and the same length, got {flags.shape} and {costs.shape}")
    if not np.isfinite(costs).all() or (costs < 0).any():
        raise ValueError("cost must be finite and >= 0 for every run")
    check_int("trials", trials, minimum=1)
    check_memory(f"trials={trials}", 8 * trials)
    generator = np.random.default_rng(check_int("seed", seed, minimum=0))
    totals = np.empty(trials)
    for t in range(trials):
        order = generator.permutation(flags.size)
        hits = np.flatnonzero(flags[order])
        last = hits[0] if hits.size else flags.size - 1
        totals[t] = costs[order][: last + 1].sum()
    return totals


def few_run_scores(
    pool: pd.DataFrame, beyond: pd.DataFrame, *, runs: int, draws: int, reference: tuple[int, float], seed: int = 0
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """How well each model of :data:`MODELS` predicts the other runs after seeing only ``runs`` of them.

    ``draws`` times, ``runs`` rows of ``pool`` are drawn at random (drawn again until both outcomes are
    among them) and every model is fitted to them (seeded by the draw's number). ``pool`` and ``beyond``
    are tables of runs with columns modulus, n_train and generalized. Returns one row per draw and model
    (``draw``, ``model``; ``inside``: % of the rest of ``pool`` predicted right; ``outside``: % of
    ``beyond``; ``constant``: ĉ of the scaling law, NaN for the others; ``error``: % distance of the
    smallest n predicted to generalize at modulus ``reference[0]`` from the critical n ``reference[1]``),
    and the runs each draw saw.
    """
    for name, table in (("pool", pool), ("beyond", beyond)):
        check_frame(name, table, ["modulus", "n_train", "generalized"], what="one row per run")
    if not pool.index.is_unique:
        raise ValueError("pool must have a unique index, so that the runs a draw saw can be left out")
    outcome = pool["generalized"].astype(bool)
    if outcome.all() or not outcome.any():
        raise ValueError(f"pool must hold runs of both outcomes to draw from; all {len(pool)} have generalized={bool(outcome.iloc[0])}")
    runs = check_int("runs", runs, minimum=2, maximum=len(pool) - 1)  # at least one run is left to judge inside
    draws = check_int("draws", draws, minimum=1)
    if not isinstance(reference, (tuple, list)) or len(reference) != 2:
        raise TypeError(f"reference must be a pair (modulus, critical n), got {reference!r}")
    modulus = check_int("reference", reference[0], minimum=2)
    critical = check_float("reference", float(reference[1]), minimum=0, open_min=True)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    rows, seen = [], []
    for draw in range(draws):
        while True:
            chosen = pool.sample(runs, random_state=int(rng.integers(2**31)))
            if 0 < chosen["generalized"].sum() < runs:
                break
        seen.append(chosen)
        rest = pool.drop(chosen.index)
        for name in MODELS:
            model = fit(name, chosen, seed=draw)
            edge = boundary(model, [modulus])["n"].iloc[0]
            rows.append(
                {
                    "draw": draw,
                    "model": name,
                    "inside": 100 * (predict(model, rest) == rest["generalized"]).mean(),
                    "outside": 100 * (predict(model, beyond) == beyond["generalized"]).mean(),
                    "constant": fitted_constant(model) if name == "scaling law" else math.nan,
                    "error": 100 * abs(edge - critical) / critical,
                }
            )
    return pd.DataFrame(rows), seen


def win_share(scores: pd.DataFrame, model: str, column: str = "outside") -> float:
    """The share of draws (%) in which ``model`` scores higher in ``column`` than every other model, for the
    scores of :func:`few_run_scores` (one row per draw and model)."""
    check_frame("scores", scores, ["draw", "model", column], what="one row per draw and model, as few_run_scores gives")
    models = list(scores["model"].unique())
    if model not in models or len(models) < 2:
        raise ValueError(f"model must be one of the scored models {models}, and there must be another to beat; got {model!r}")
    wins = scores.pivot(index="draw", columns="model", values=column)
    others = [name for name in models if name != model]
    return float(100 * (wins[model].to_numpy()[:, None] > wins[others].to_numpy()).all(axis=1).mean())


def early_stopping(paths: pd.DataFrame, runs: pd.DataFrame, measures: Mapping[str, str], steps: Sequence[int]) -> pd.DataFrame:
    """Stop runs early on the word of one progress measure, and count what it saves and what it loses.

    ``runs`` has one row per run (columns modulus, hidden, n_train, ``last_step``: the steps it ran, and
    ``generalized``), as :func:`grokkit.runs_table` gives; ``paths`` one row per run and recorded step
    (columns ``run``, the run's row position in ``runs``, ``step`` and each measure's column). At each of
    ``steps``, every run is judged from the last value of a measure it has shown by then, through
    :func:`held_out_calls`; a run called a failure that is still running is stopped there. One row per
    step and measure (``measures`` maps a label to a column of ``paths``), in that order: ``step``,
    ``measure``, ``balanced_accuracy`` (%, the mean of the accuracy on runs that generalize and on runs
    that do not), ``compute_saved`` (% of the multiply-adds of all the runs, :func:`~grokkit.scaling.training_cost`)
    and ``good_runs_lost`` (stopped runs that would have generalized).
    """
    check_frame("runs", runs, ["modulus", "hidden", "n_train", "last_step", "generalized"], what="one row per run, as grokkit.runs_table")
    if not isinstance(measures, Mapping) or not measures:
        raise TypeError(f"measures must be a non-empty dict of label → column of paths, got {measures!r}")
    check_frame("paths", paths, ["run", "step", *measures.values()], what="one row per run and recorded step")
    if set(paths["run"]) != set(range(len(runs))):
        raise ValueError(f"paths['run'] must number the runs 0 … {len(runs) - 1}, as the rows of runs")
    steps = [check_int("steps", s, minimum=0) for s in check_sequence("steps", steps, what="steps")]
    outcome = runs["generalized"].to_numpy(bool)
    ran = runs["last_step"].to_numpy()
    per_step = np.array([training_cost(m, int(k), n, 1)[0] for m, k, n in zip(runs["modulus"], runs["hidden"], runs["n_train"], strict=True)])
    total = (per_step * ran).sum()
    rows = []
    for step in steps:
        seen = paths[paths["step"] <= step].groupby("run").last()  # a run that already stopped shows its last value
        if len(seen) != len(runs):
            raise ValueError(f"every run must have a recorded step at or before {step}")
        for label, column in measures.items():
            calls = held_out_calls(seen[column].to_numpy(), outcome)
            hit = 100 * (calls == outcome)
            stop = ~calls & (ran > step)
            rows.append(
                {
                    "step": step,
                    "measure": label,
                    "balanced_accuracy": (hit[outcome].mean() + hit[~outcome].mean()) / 2,
                    "compute_saved": 100 * (per_step[stop] * (ran[stop] - step)).sum() / total,
                    "good_runs_lost": int((stop & outcome).sum()),
                }
            )
    return pd.DataFrame(rows)
