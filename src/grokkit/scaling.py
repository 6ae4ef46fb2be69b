"""The data law of the Li₂ paper, measured: training pairs in units of M ln M, the critical n found by a
search in n for every seed and step budget, the fits of n_c(M), how far the time to generalise diverges, and
how much data keeps a solution once found (ungrokking).

A run *generalises* when its test accuracy reaches 99 % within its step budget (it stops there). A seed's
training pairs are nested (a larger n adds pairs to a smaller one) and its initial weights do not depend on
n, so for one seed the outcome is a function of n alone. A run with budget B is the first B steps of the same
run with a longer budget, so one long run answers every shorter budget: it generalises within B exactly
when its ``generalised_step`` is at most B.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from tqdm.auto import tqdm

from ._validate import check_float, check_frame, check_int, check_sequence
from .sweep import sweep
from .train import TrainConfig, progress_enabled, train_many


def mlnm(modulus: int) -> float:
    """M ln M, the unit of the Li₂ scaling law for the critical number of training pairs."""
    modulus = check_int("modulus", modulus, minimum=2)
    return modulus * math.log(modulus)


def _outcomes(runs: pd.DataFrame, modulus: int, seed: int, budget: int) -> tuple[int, int | None]:
    """The largest n known to fail within ``budget`` below the smallest n known to pass (or None)."""
    mine = runs[(runs["modulus"] == modulus) & (runs["seed"] == seed)]
    passed = mine["generalised_step"].notna() & (mine["generalised_step"] <= budget)
    failed = ~passed & (mine["steps"] >= budget)  # ran at least this long without generalising
    hi = int(mine.loc[passed, "n_train"].min()) if passed.any() else None
    below = mine.loc[failed, "n_train"]
    below = below[below < hi] if hi is not None else below
    return (int(below.max()) if len(below) else 0), hi


def search_boundary(
    base: TrainConfig,
    moduli: Sequence[int],
    seeds: Sequence[int],
    budgets: Sequence[int],
    *,
    low: float = 0.02,
    high: float = 0.6,
    resolution: float = 0.25,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bisect n for every modulus, seed and step budget until each boundary is bracketed within
    ``resolution`` · M ln M pairs.

    The search starts from ``low`` · M² and ``high`` · M² pairs, fractions of the whole table, so the points it
    tries are not laid out in units of the law being tested. Every round trains all open brackets in one
    sweep (each query with the budget it asks about; a run answers every budget it covers), with early stop
    at 99 % test accuracy. Returns ``(runs, thresholds)``: the sweep rows of every run, and per modulus, seed
    and budget the bracket ``fails_n`` < threshold ≤ ``passes_n`` and its midpoint ``threshold_n`` (missing where
    even ``high`` · M² pairs do not generalise within the budget). Where ``low`` · M² pairs already
    generalise the search goes on below it.
    """
    if not isinstance(base, TrainConfig):
        raise TypeError(f"base must be a TrainConfig, got {type(base).__name__}")
    moduli = [check_int("moduli", m, minimum=3) for m in check_sequence("moduli", moduli, what="moduli")]
    seeds = [check_int("seeds", s, minimum=0) for s in check_sequence("seeds", seeds, what="seeds")]
    budgets = sorted({check_int("budgets", b, minimum=1) for b in check_sequence("budgets", budgets, what="step budgets")})
    low = check_float("low", low, minimum=0, maximum=1, open_min=True, open_max=True)
    high = check_float("high", high, minimum=low, maximum=1, open_min=True, open_max=True)
    resolution = check_float("resolution", resolution, minimum=0, open_min=True)
    base = base.replace(stop_at_test_acc=0.99, train_fraction=None)
    bar = tqdm(desc="search", unit="run", disable=not progress_enabled(progress))  # one bar: the number of rounds is not known ahead

    def train(configs: list[TrainConfig]) -> pd.DataFrame:
        bar.total = (bar.total or 0) + len(configs)
        done = sweep(configs, cache_dir=cache_dir, progress=False)
        bar.update(len(configs))
        return done

    # both ends first: the bracket the bisection narrows
    runs = train([base.replace(modulus=m, n_train=n, seed=s, steps=budgets[-1]) for m in moduli
                  for n in sorted({max(1, round(low * m * m)), min(round(high * m * m), m * m - 1)}) for s in seeds])
    while True:
        queries: dict[tuple[int, int, int], int] = {}
        for m in moduli:
            for s in seeds:
                for b in budgets:
                    lo, hi = _outcomes(runs, m, s, b)
                    if hi is not None and hi - lo > resolution * mlnm(m) and hi - lo > 1:
                        key = (m, s, (lo + hi) // 2)
                        queries[key] = max(queries.get(key, 0), b)
        if not queries:
            break
        runs = pd.concat([runs, train([base.replace(modulus=m, seed=s, n_train=n, steps=b) for (m, s, n), b in queries.items()])],
                         ignore_index=True)
    bar.close()
    rows = []
    for m in moduli:
        for s in seeds:
            for b in budgets:
                lo, hi = _outcomes(runs, m, s, b)
                rows.append({"modulus": m, "seed": s, "budget": b, "fails_n": lo, "passes_n": math.nan if hi is None else hi,
                             "threshold_n": math.nan if hi is None else (lo + hi) / 2})
    thresholds = pd.DataFrame(rows)
    thresholds["multiple"] = thresholds["threshold_n"] / thresholds["modulus"].map(mlnm)
    return runs.reset_index(drop=True), thresholds


def critical_by_budget(thresholds: pd.DataFrame) -> pd.DataFrame:
    """Per modulus and budget, the critical n: the median over seeds of the seeds' thresholds.

    A seed whose threshold lies above the searched range counts as infinitely large, so the median is
    missing when half the seeds or more never generalised. Columns ``critical_n``, ``multiple`` (in units
    of M ln M), ``fraction`` (of all M² pairs) and ``seeds_found``.
    """
    check_frame("thresholds", thresholds, ["modulus", "budget", "threshold_n"], what="the thresholds of search_boundary")
    rows = []
    for (m, b), group in thresholds.groupby(["modulus", "budget"]):
        values = np.sort(group["threshold_n"].fillna(np.inf).to_numpy(float))
        median = float(np.median(values))
        critical = median if math.isfinite(median) else math.nan
        rows.append({"modulus": int(m), "budget": int(b), "critical_n": critical, "multiple": critical / mlnm(int(m)),
                     "fraction": critical / m**2, "seeds_found": int(group["threshold_n"].notna().sum())})
    return pd.DataFrame(rows)


def converged_budget(critical: pd.DataFrame, tolerance: float = 0.25) -> pd.DataFrame:
    """Per modulus, the smallest budget from which the critical multiple stays within ``tolerance`` (in
    units of M ln M) of its value at the longest budget, and that value."""
    check_frame("critical", critical, ["modulus", "budget", "multiple"], what="the table of critical_by_budget")
    tolerance = check_float("tolerance", tolerance, minimum=0, open_min=True)
    rows = []
    for m, group in critical.sort_values("budget").groupby("modulus"):
        final = group["multiple"].iloc[-1]
        close = (group["multiple"] - final).abs() <= tolerance
        settled = close[::-1].cummin()[::-1]  # this budget and every longer one are close
        rows.append({"modulus": int(m), "converged_multiple": float(final),
                     "settles_at_budget": int(group.loc[settled, "budget"].min()) if math.isfinite(final) else None,
                     "longest_budget": int(group["budget"].iloc[-1])})
    return pd.DataFrame(rows)


def _positive(name: str, values: object) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D sequence of numbers, got {values!r}") from None
    if array.ndim != 1 or not np.isfinite(array).all() or (array <= 0).any():
        raise ValueError(f"{name} must be a 1-D sequence of finite positive numbers, got {values!r}")
    return array


def _law(kind: str, m: np.ndarray, n: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """Fit one model of n_c(M) to (m, n); its parameters and a function of M giving the prediction."""
    if kind == "power":  # a·M^α: straight line in log-log
        alpha, log_a = np.polyfit(np.log(m), np.log(n), 1)
        return {"a": float(np.exp(log_a)), "alpha": float(alpha)}, lambda x: np.exp(log_a) * x**alpha
    shape = (lambda x: x * np.log(x)) if kind == "mlnm" else (lambda x: x**2)
    r = shape(m) / n  # least squared relative error of n ≈ k·shape: k = Σr / Σr²
    k = float(r.sum() / (r**2).sum())
    return {"c" if kind == "mlnm" else "f": k}, lambda x: k * shape(x)


LAWS = {"mlnm": "c · M ln M", "square": "f · M²", "power": "a · M^α"}


def fit_laws(moduli: Sequence[float], critical_n: Sequence[float]) -> pd.DataFrame:
    """Fit the three models of n_c(M) — c·M ln M, a fixed fraction f of M², a free power a·M^α — and
    compare them by leave-one-modulus-out prediction: each modulus is predicted by the model fitted to the
    others. Columns: ``model``, its parameters, ``rms_error`` (relative, in the fit) and ``loo_error``
    (relative, root mean square over the left-out moduli; the criterion, as it charges the power law for its
    extra parameter)."""
    m, n = _positive("moduli", moduli), _positive("critical_n", critical_n)
    if len(m) != len(n):
        raise ValueError(f"moduli and critical_n must have the same length, got {len(m)} and {len(n)}")
    if len(np.unique(m)) < 3:
        raise ValueError(f"fit_laws needs at least 3 distinct moduli to leave one out of a two-parameter fit, got {len(np.unique(m))}")
    rows = []
    for kind, label in LAWS.items():
        params, predict = _law(kind, m, n)
        held_out = [(_law(kind, np.delete(m, i), np.delete(n, i))[1](m[i]) - n[i]) / n[i] for i in range(len(m))]
        rows.append({"model": label, **params, "rms_error": float(np.sqrt(np.mean((predict(m) / n - 1) ** 2))),
                     "loo_error": float(np.sqrt(np.mean(np.square(held_out))))})
    return pd.DataFrame(rows)


def bootstrap_c(thresholds: pd.DataFrame, *, draws: int = 2000, level: float = 0.95, seed: int = 0) -> dict[str, float]:
    """c of n_c = c·M ln M with a bootstrap interval over seeds: each draw resamples every modulus's seeds
    with replacement, takes the median threshold per modulus and refits c."""
    thresholds = check_frame("thresholds", thresholds, ["modulus", "seed", "threshold_n"], what="one budget of search_boundary's thresholds")
    if "budget" in thresholds and thresholds["budget"].nunique() > 1:
        raise ValueError("thresholds must hold one budget; select it first, e.g. thresholds[thresholds.budget == 4000]")
    draws = check_int("draws", draws, minimum=100)
    level = check_float("level", level, minimum=0, maximum=1, open_min=True, open_max=True)
    groups = [(int(m), g["threshold_n"].fillna(np.inf).to_numpy(float)) for m, g in thresholds.groupby("modulus")]
    if len(groups) < 2:
        raise ValueError(f"bootstrap_c needs at least 2 moduli, got {len(groups)}")
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    m = np.array([mod for mod, _ in groups], float)

    def c_of(n: np.ndarray) -> float:
        return _law("mlnm", m, n)[0]["c"] if np.isfinite(n).all() else math.nan

    estimate = c_of(np.array([np.median(v) for _, v in groups]))
    if not math.isfinite(estimate):
        raise ValueError("a modulus has no critical n (half its seeds or more never generalised); widen the search or the budget")
    samples = np.array([c_of(np.array([np.median(rng.choice(v, len(v))) for _, v in groups])) for _ in range(draws)])
    finite = samples[np.isfinite(samples)]
    tail = (1 - level) / 2
    return {"c": estimate, "low": float(np.quantile(finite, tail)), "high": float(np.quantile(finite, 1 - tail)),
            "draws_without_boundary": int(len(samples) - len(finite))}


def fit_divergence(n: Sequence[float], steps: Sequence[float]) -> dict[str, float]:
    """Fit T(n) ≈ T₀ + A/(n − n_c)^γ to the steps T a run needs to generalise with n training pairs.

    n_c is where the time diverges: a second estimate of the critical n that no step budget sets. The fit
    is by least squares in log T, with n_c below the smallest n given. Returns ``t0``, ``a``, ``n_c``,
    ``gamma`` and ``rms_log_error``.
    """
    x, t = _positive("n", n), _positive("steps", steps)
    if len(x) != len(t):
        raise ValueError(f"n and steps must have the same length, got {len(x)} and {len(t)}")
    if len(np.unique(x)) < 5:
        raise ValueError(f"fit_divergence needs at least 5 distinct n for its 4 parameters, got {len(np.unique(x))}")
    smallest, span = x.min(), x.max() - x.min()

    def residual(p: np.ndarray) -> np.ndarray:
        t0, log_a, n_c, gamma = p
        return np.log(t0 + np.exp(log_a - gamma * np.log(x - n_c))) - np.log(t)

    start = np.array([t.min() / 2, math.log(max(t.max() - t.min(), 1.0)) + math.log(span), smallest - span / 4, 1.0])
    lower = [0.0, -50.0, smallest - 20 * span, 0.05]
    upper = [t.min(), 50.0, smallest - 1e-6 * span, 10.0]
    fit = least_squares(residual, np.clip(start, lower, upper), bounds=(lower, upper))
    t0, log_a, n_c, gamma = fit.x
    return {"t0": float(t0), "a": float(math.exp(log_a)), "n_c": float(n_c), "gamma": float(gamma),
            "rms_log_error": float(np.sqrt(np.mean(fit.fun**2)))}


def ungrok(
    base: TrainConfig,
    seeds: Sequence[int],
    start_n: int,
    subset_ns: Sequence[int],
    steps: int,
    *,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Ungrokking (Varma et al. 2023): per seed, train on ``start_n`` pairs until test accuracy reaches
    99.5 % (within ``base.steps``), then continue that network, with fresh optimiser state and no early stop,
    for ``steps`` steps on each subset of ``subset_ns`` pairs of its own training pairs (a seed's splits are
    nested). Returns the long table of the continued runs: ``modulus``, ``seed``, ``n_train``, ``multiple`` (of M ln M),
    ``step`` and ``test_acc``, the accuracy on every pair outside the subset.
    """
    if not isinstance(base, TrainConfig):
        raise TypeError(f"base must be a TrainConfig, got {type(base).__name__}")
    seeds = [check_int("seeds", s, minimum=0) for s in check_sequence("seeds", seeds, what="seeds")]
    start_n = check_int("start_n", start_n, minimum=2, maximum=base.modulus**2 - 1)
    subset_ns = sorted({check_int("subset_ns", n, minimum=1, maximum=start_n - 1)
                        for n in check_sequence("subset_ns", subset_ns, what="subset sizes below start_n")})
    steps = check_int("steps", steps, minimum=1)
    start = base.replace(n_train=start_n, train_fraction=None, stop_at_test_acc=0.995)
    grokked = train_many([start.replace(seed=s) for s in seeds], progress=progress)
    missed = [s for s, r in zip(seeds, grokked) if r.history["test_acc"].iloc[-1] < 0.995]
    if missed:
        raise RuntimeError(f"the starting networks of seeds {missed} did not reach 99.5 % test accuracy on {start_n} pairs "
                           f"within {base.steps} steps; give more pairs or a larger base.steps")
    subsets = [base.replace(n_train=n, train_fraction=None, seed=s, steps=steps, stop_at_test_acc=None) for s in seeds for n in subset_ns]
    continued = train_many(subsets, init=[r.model for r in grokked for _ in subset_ns], progress=progress)
    unit = mlnm(base.modulus)
    return pd.concat([r.history[["step", "test_acc"]].assign(modulus=c.modulus, seed=c.seed, n_train=c.n_train,
                                                                multiple=c.n_train / unit)
                      for c, r in zip(subsets, continued)], ignore_index=True)[["modulus", "seed", "n_train", "multiple", "step", "test_acc"]]


def keeping_thresholds(curves: pd.DataFrame, budgets: Sequence[int], *, level: float = 0.9) -> pd.DataFrame:
    """Per seed and post-training budget B, the fewest pairs that keep a grokked solution: a subset *keeps* it
    when test accuracy at step B (the last record at or before B) is at least ``level``. ``keeps_n`` is the
    smallest subset from which every larger one keeps, ``fails_n`` the next smaller one (0 if none), and
    ``threshold_n`` their midpoint (missing where no subset keeps). ``multiple`` is in units of M ln M."""
    check_frame("curves", curves, ["modulus", "seed", "n_train", "step", "test_acc"], what="the table of ungrok")
    if curves["modulus"].nunique() != 1:
        raise ValueError(f"curves must hold one modulus, got {sorted(curves['modulus'].unique())}")
    budgets = sorted({check_int("budgets", b, minimum=1) for b in check_sequence("budgets", budgets, what="step budgets")})
    level = check_float("level", level, minimum=0, maximum=1, open_min=True)
    unit = mlnm(int(curves["modulus"].iloc[0]))
    rows = []
    for seed, mine in curves.groupby("seed"):
        for b in budgets:
            at = mine[mine["step"] <= b].sort_values("step").groupby("n_train")["test_acc"].last().sort_index()
            kept = (at >= level)[::-1].cummin()[::-1]  # this subset and every larger one keep
            keeps = int(at.index[kept.to_numpy()].min()) if kept.any() else None
            below = at.index[at.index < keeps] if keeps is not None else at.index
            fails = int(below.max()) if len(below) else 0
            threshold = math.nan if keeps is None else (fails + keeps) / 2
            rows.append({"seed": int(seed), "budget": b, "fails_n": fails, "keeps_n": math.nan if keeps is None else keeps,
                         "threshold_n": threshold, "multiple": threshold / unit})
    return pd.DataFrame(rows)
