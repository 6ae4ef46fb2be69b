"""The data law of the Li₂ paper, measured: training pairs in units of M ln M (:func:`mlnm`,
:func:`pairs_for`, :func:`predicted_critical_n`, :func:`scaling_feature`), the cost of training
(:func:`training_cost`), the critical n read off a sweep (:func:`critical_n`) or found by a search in n for
every seed and step budget, the fits of n_c(M), how far the time to generalize diverges, and how much data
keeps a solution once found (ungrokking).

A run *generalizes* when its test accuracy reaches 99 % within its step budget (it stops there). A seed's
training pairs are nested (a larger n adds pairs to a smaller one) and its initial weights do not depend on
n, so for one seed the outcome is a function of n alone. A run with budget B is the first B steps of the same
run with a longer budget, so one long run answers every shorter budget: it generalizes within B exactly
when its ``generalized_step`` is at most B.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from scipy.optimize import least_squares
from tqdm.auto import tqdm

from ._validate import check_float, check_frame, check_int, check_numbers, check_sequence
from .metrics import first_step_reaching
from .sweep import sweep
from .train import TrainConfig, progress_enabled, train, train_many


def mlnm(modulus: int) -> float:
    """M ln M, the unit of the Li₂ scaling law for the critical number of training pairs."""
    modulus = check_int("modulus", modulus, minimum=2)
    return modulus * math.log(modulus)


def pairs_for(modulus: int, multiple: float) -> int:
    """``multiple`` · M ln M training pairs, rounded and kept below the M² pairs there are.

    Sweeps measure data in units of the scaling law, so that one multiple means the same distance from
    the boundary for every modulus.
    """
    check_int("modulus", modulus, minimum=2)
    check_float("multiple", multiple, minimum=0, open_min=True)
    n = min(round(multiple * modulus * math.log(modulus)), modulus * modulus - 1)
    if n < 1:
        raise ValueError(f"multiple={multiple} gives {n} training pairs for modulus={modulus}; it must give at least 1")
    return n


def predicted_critical_n(modulus: int | float | torch.Tensor, constant: float) -> float | torch.Tensor:
    """The Li₂ scaling law n_c = c · M ln M, for a modulus M >= 2 (or a tensor of them) and a constant c > 0."""
    constant = check_float("constant", constant, minimum=0, open_min=True)
    if isinstance(modulus, torch.Tensor):
        if not modulus.dtype.is_floating_point:
            modulus = modulus.to(torch.get_default_dtype())
        if modulus.numel() == 0 or not bool(torch.isfinite(modulus).all()) or bool((modulus < 2).any()):
            raise ValueError("modulus must hold finite values >= 2 (and at least one)")
    else:
        if isinstance(modulus, numbers.Real) and not isinstance(modulus, (bool, np.bool_)):
            modulus = float(modulus)  # a numpy scalar, as read from a DataFrame
        check_float("modulus", modulus, minimum=2)
    return constant * modulus * (torch.log(modulus) if isinstance(modulus, torch.Tensor) else math.log(modulus))


def scaling_feature(x: np.ndarray) -> np.ndarray:
    """ln(n / (M ln M)) for rows (M, n): the only feature the Li₂ scaling law uses."""
    x = check_numbers("x", x, ndim=2)
    if x.shape[1] != 2:
        raise ValueError(f"x must have shape (runs, 2), columns modulus and n_train, got {x.shape}")
    if not np.isfinite(x).all() or (x[:, 0] < 2).any() or (x[:, 1] <= 0).any():
        raise ValueError("x must hold finite rows (M, n) with modulus M >= 2 and n_train n > 0")
    modulus, n = x[:, 0], x[:, 1]
    return np.log(n / (modulus * np.log(modulus)))[:, None]


def training_cost(modulus: ArrayLike, hidden: int, n_train: ArrayLike, steps: ArrayLike) -> np.ndarray:
    """Floating-point operations of full-batch training, 6·K·M per training pair and step: the top layer
    (K × M) dominates, with one product of K·M multiply-adds in the forward pass and two in the backward
    pass. Broadcasts over arrays of moduli, training sizes and steps, so a whole table of runs is one call."""
    hidden = check_int("hidden", hidden, minimum=1)
    m, n, t = (check_numbers(name, np.atleast_1d(v), ndim=1) for name, v in (("modulus", modulus), ("n_train", n_train), ("steps", steps)))
    for name, values in (("modulus", m), ("n_train", n), ("steps", t)):
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"{name} must hold finite numbers >= 0")
    return 6.0 * hidden * m * n * t


def steps_to_generalize(runs: pd.DataFrame, *, width: float = 0.5, up_to: float = 8.0) -> tuple[pd.Series, float]:
    """How fast the runs that generalized got there, against n / (M ln M) (the column ``multiple``): the
    median ``generalized_step`` in bins ``width`` wide centered on multiples of ``width`` up to ``up_to``
    (indexed by the bin's center), and the median of the runs beyond the last bin (the plateau; NaN if none)."""
    check_frame("runs", runs, ["multiple", "generalized", "generalized_step"], what="one row per run, with multiple = n / (M ln M)")
    width = check_float("width", width, minimum=0, open_min=True)
    up_to = check_float("up_to", up_to, minimum=0, open_min=True)
    fast = runs[runs["generalized"].astype(bool)]
    speed = fast.groupby((fast["multiple"] / width).round() * width)["generalized_step"].median()
    plateau = fast.loc[fast["multiple"] > up_to + width / 2, "generalized_step"].median()
    return speed[speed.index <= up_to], float(plateau)


def grow_until_generalized(config: TrainConfig, *, growth: float = 1.2, level: float = 0.99, progress: bool | None = None) -> dict[str, object]:
    """Train ``config``; while its test accuracy does not reach ``level`` within its steps, train again from
    scratch with ``growth`` times as many training pairs (rounded; at most all pairs but one).

    A search that starts from a guess of the critical n, as the scaling law gives it. Returns the last
    try's ``n_train`` and ``generalized_step`` (None if even that one did not generalize), the number of
    ``tries`` and the ``compute`` they spent together (:func:`training_cost` of the steps each one ran).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if config.n_train is None:
        raise ValueError("config must set n_train (not train_fraction): the search grows the number of training pairs")
    growth = check_float("growth", growth, minimum=1, open_min=True)
    level = check_float("level", level, minimum=0, maximum=1)
    largest = config.modulus * config.modulus - 1
    n, spent, tries = config.n_train, 0.0, 0
    while True:
        run = train(config.replace(n_train=n), progress=progress)
        spent += float(training_cost(config.modulus, config.hidden, n, int(run.history["step"].iloc[-1]))[0])
        tries += 1
        reached = first_step_reaching(run.history, "test_acc", level)
        if reached is not None or n >= largest:
            return {"n_train": n, "tries": tries, "compute": spent, "generalized_step": reached}
        n = min(max(round(growth * n), n + 1), largest)


def critical_n(results: pd.DataFrame, *, majority: float = 0.5) -> pd.DataFrame:
    """Per modulus, the smallest ``n_train`` from which more than ``majority`` of the seeds generalize.

    ``results`` is a :func:`grokkit.sweep` table; a run generalizes when it has a ``generalized_step``
    (test accuracy ≥ 99 % within its budget). The critical n is the smallest tested n such that it and
    every larger tested n pass; it is missing (NaN) when the largest n does not pass.
    """
    check_frame("results", results, ["modulus", "n_train", "seed", "generalized_step"], what="a grokkit.sweep table")
    if results[["modulus", "n_train"]].isna().any().any():
        raise ValueError("results must not have missing (NaN) values in modulus or n_train")
    majority = check_float("majority", majority, minimum=0, maximum=1, open_max=True)
    share = results.assign(ok=results["generalized_step"].notna()).groupby(["modulus", "n_train"])["ok"].mean()
    rows = []
    for modulus, by_n in share.groupby(level="modulus"):
        passing = (by_n.droplevel("modulus") > majority)[::-1].cummin()[::-1]  # n and all larger n pass
        rows.append({"modulus": modulus, "critical_n": int(passing.idxmax()) if passing.any() else None})
    return pd.DataFrame(rows)


def _outcomes(runs: pd.DataFrame, modulus: int, seed: int, budget: int) -> tuple[int, int | None]:
    """The largest n known to fail within ``budget`` below the smallest n known to pass (or None)."""
    mine = runs[(runs["modulus"] == modulus) & (runs["seed"] == seed)]
    passed = mine["generalized_step"].notna() & (mine["generalized_step"] <= budget)
    failed = ~passed & (mine["steps"] >= budget)  # ran at least this long without generalizing
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
    even ``high`` · M² pairs do not generalize within the budget). Where ``low`` · M² pairs already
    generalize the search goes on below it.
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
    runs = train(
        [
            base.replace(modulus=m, n_train=n, seed=s, steps=budgets[-1])
            for m in moduli
            for n in sorted({max(1, round(low * m * m)), min(round(high * m * m), m * m - 1)})
            for s in seeds
        ]
    )
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
        runs = pd.concat([runs, train([base.replace(modulus=m, seed=s, n_train=n, steps=b) for (m, s, n), b in queries.items()])], ignore_index=True)
    bar.close()
    rows = []
    for m in moduli:
        for s in seeds:
            for b in budgets:
                lo, hi = _outcomes(runs, m, s, b)
                rows.append(
                    {
                        "modulus": m,
                        "seed": s,
                        "budget": b,
                        "fails_n": lo,
                        "passes_n": math.nan if hi is None else hi,
                        "threshold_n": math.nan if hi is None else (lo + hi) / 2,
                    }
                )
    thresholds = pd.DataFrame(rows)
    thresholds["multiple"] = thresholds["threshold_n"] / thresholds["modulus"].map(mlnm)
    return runs.reset_index(drop=True), thresholds


def critical_by_budget(thresholds: pd.DataFrame) -> pd.DataFrame:
    """Per modulus and budget, the critical n: the median over seeds of the seeds' thresholds.

    A seed whose threshold lies above the searched range counts as infinitely large, so the median is
    missing when half the seeds or more never generalized. Columns ``critical_n``, ``multiple`` (in units
    of M ln M), ``fraction`` (of all M² pairs) and ``seeds_found``.
    """
    check_frame("thresholds", thresholds, ["modulus", "budget", "threshold_n"], what="the thresholds of search_boundary")
    rows = []
    for (m, b), group in thresholds.groupby(["modulus", "budget"]):
        values = np.sort(group["threshold_n"].fillna(np.inf).to_numpy(float))
        median = float(np.median(values))
        critical = median if math.isfinite(median) else math.nan
        rows.append(
            {
                "modulus": int(m),
                "budget": int(b),
                "critical_n": critical,
                "multiple": critical / mlnm(int(m)),
                "fraction": critical / m**2,
                "seeds_found": int(group["threshold_n"].notna().sum()),
            }
        )
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
        rows.append(
            {
                "modulus": int(m),
                "converged_multiple": float(final),
                "settles_at_budget": int(group.loc[settled, "budget"].min()) if math.isfinite(final) else None,
                "longest_budget": int(group["budget"].iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


def _positive(name: str, values: object) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D sequence of numbers, got {values!r}") from None
    if array.ndim != 1 or not np.isfinite(array).all() or (array <= 0).any():
        raise ValueError(f"{name} must be a 1-D sequence of finite positive numbers, got {values!r}")
    return array


def _law(kind: str, m: np.ndarray, n: np.ndarray) -> tuple[dict[str, float], Callable[[np.ndarray], np.ndarray]]:
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
        rows.append(
            {
                "model": label,
                **params,
                "rms_error": float(np.sqrt(np.mean((predict(m) / n - 1) ** 2))),
                "loo_error": float(np.sqrt(np.mean(np.square(held_out)))),
            }
        )
    return pd.DataFrame(rows)


def fit_laws_by(table: pd.DataFrame, by: str | list[str], *, n: str = "n") -> pd.DataFrame:
    """:func:`fit_laws` for each group of ``table`` (rows ``modulus`` and critical size column ``n``), the
    group's values in front: one row per group and model, groups in the order they first appear."""
    by = [by] if isinstance(by, str) else check_sequence("by", by, what="column names")
    check_frame("table", table, ["modulus", n, *by], what="one row per modulus and group")
    return pd.concat(
        [
            fit_laws(g["modulus"], g[n]).assign(**dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)))
            for key, g in table.groupby(by, sort=False)
        ],
        ignore_index=True,
    )


def compare_laws(table: pd.DataFrame, by: str | list[str], *, n: str = "n") -> pd.DataFrame:
    """:func:`fit_laws_by` as one row per group (indexed by ``by``): each law's leave-one-modulus-out error
    (one column per label of :data:`LAWS`), the free power law's exponent ``alpha`` and the ``best`` law."""
    laws = fit_laws_by(table, by, n=n)
    by = [by] if isinstance(by, str) else list(by)
    compared = laws.pivot_table(index=by, columns="model", values="loo_error", sort=False)[list(LAWS.values())]
    compared.columns.name = None
    compared["alpha"] = laws[laws["model"] == LAWS["power"]].set_index(by)["alpha"]
    compared["best"] = compared[list(LAWS.values())].idxmin(axis=1)
    return compared


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
        raise ValueError("a modulus has no critical n (half its seeds or more never generalized); widen the search or the budget")
    samples = np.array([c_of(np.array([np.median(rng.choice(v, len(v))) for _, v in groups])) for _ in range(draws)])
    finite = samples[np.isfinite(samples)]
    tail = (1 - level) / 2
    return {
        "c": estimate,
        "low": float(np.quantile(finite, tail)),
        "high": float(np.quantile(finite, 1 - tail)),
        "draws_without_boundary": int(len(samples) - len(finite)),
    }


def fit_divergence(n: Sequence[float], steps: Sequence[float]) -> dict[str, float]:
    """Fit T(n) ≈ T₀ + A/(n − n_c)^γ to the steps T a run needs to generalize with n training pairs.

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
    return {
        "t0": float(t0),
        "a": float(math.exp(log_a)),
        "n_c": float(n_c),
        "gamma": float(gamma),
        "rms_log_error": float(np.sqrt(np.mean(fit.fun**2))),
    }


def divergence_by_modulus(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`fit_divergence` for each modulus of a search's runs (those that generalized), one row per modulus:
    ``modulus``, the fit's parameters, and ``multiple``, where the time diverges in units of M ln M."""
    check_frame("runs", runs, ["modulus", "n_train", "generalized_step"], what="one row per run, as search_boundary returns")
    passed = runs[runs["generalized_step"].notna()]
    rows = [{"modulus": m, **fit_divergence(g["n_train"].astype(float), g["generalized_step"].astype(float))} for m, g in passed.groupby("modulus")]
    if not rows:
        raise ValueError("runs has no run that generalized, so there is no time to generalize to fit")
    table = pd.DataFrame(rows)
    table["multiple"] = table["n_c"] / table["modulus"].map(mlnm)
    return table


def divergence_curve(fit: Mapping[str, float] | pd.Series, n: ArrayLike) -> np.ndarray:
    """The fitted time to generalize T₀ + A/(n − n_c)^γ at training sizes ``n`` above n_c (``fit`` from :func:`fit_divergence`)."""
    fit = fit.to_dict() if isinstance(fit, pd.Series) else fit
    missing = sorted({"t0", "a", "n_c", "gamma"} - set(fit)) if isinstance(fit, Mapping) else None
    if missing is None or missing:
        raise TypeError(f"fit must be a mapping with keys t0, a, n_c and gamma, as fit_divergence returns; missing {missing}")
    x = check_numbers("n", np.atleast_1d(n), ndim=1)
    if (x <= fit["n_c"]).any():
        raise ValueError(f"n must lie above the fitted n_c = {fit['n_c']:.4g}, where the time diverges")
    return fit["t0"] + fit["a"] / (x - fit["n_c"]) ** fit["gamma"]


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
    99.5 % (within ``base.steps``), then continue that network, with fresh optimizer state and no early stop,
    for ``steps`` steps on each subset of ``subset_ns`` pairs of its own training pairs (a seed's splits are
    nested). Returns the long table of the continued runs: ``modulus``, ``seed``, ``n_train``, ``multiple`` (of M ln M),
    ``step`` and ``test_acc``, the accuracy on every pair outside the subset.
    """
    if not isinstance(base, TrainConfig):
        raise TypeError(f"base must be a TrainConfig, got {type(base).__name__}")
    seeds = [check_int("seeds", s, minimum=0) for s in check_sequence("seeds", seeds, what="seeds")]
    start_n = check_int("start_n", start_n, minimum=2, maximum=base.modulus**2 - 1)
    subset_ns = sorted(
        {check_int("subset_ns", n, minimum=1, maximum=start_n - 1) for n in check_sequence("subset_ns", subset_ns, what="subset sizes below start_n")}
    )
    steps = check_int("steps", steps, minimum=1)
    start = base.replace(n_train=start_n, train_fraction=None, stop_at_test_acc=0.995)
    grokked = train_many([start.replace(seed=s) for s in seeds], progress=progress)
    missed = [s for s, r in zip(seeds, grokked, strict=True) if r.history["test_acc"].iloc[-1] < 0.995]
    if missed:
        raise RuntimeError(
            f"the starting networks of seeds {missed} did not reach 99.5 % test accuracy on {start_n} pairs "
            f"within {base.steps} steps; give more pairs or a larger base.steps"
        )
    subsets = [base.replace(n_train=n, train_fraction=None, seed=s, steps=steps, stop_at_test_acc=None) for s in seeds for n in subset_ns]
    continued = train_many(subsets, init=[r.model for r in grokked for _ in subset_ns], progress=progress)
    unit = mlnm(base.modulus)
    return pd.concat(
        [
            r.history[["step", "test_acc"]].assign(modulus=c.modulus, seed=c.seed, n_train=c.n_train, multiple=r.split.n_train / unit)  # = c.n_train
            for c, r in zip(subsets, continued, strict=True)
        ],
        ignore_index=True,
    )[["modulus", "seed", "n_train", "multiple", "step", "test_acc"]]


def keeping_thresholds(curves: pd.DataFrame, budgets: Sequence[int], *, level: float = 0.9) -> pd.DataFrame:
    """Per seed and post-training budget B, the fewest pairs that keep a grokked solution: a subset *keeps* it
    when test accuracy at step B (the last record at or before B) is at least ``level``. ``keeps_n`` is the
    smallest subset from which every larger one keeps, ``fails_n`` the next smaller one (0 if none), and
    ``threshold_n`` their midpoint (missing where no subset keeps). ``multiple`` is in units of M ln M; the
    rows also name the ``modulus``, so that their medians per budget suit :func:`converged_budget`."""
    check_frame("curves", curves, ["modulus", "seed", "n_train", "step", "test_acc"], what="the table of ungrok")
    if curves["modulus"].nunique() != 1:
        raise ValueError(f"curves must hold one modulus, got {sorted(curves['modulus'].unique())}")
    budgets = sorted({check_int("budgets", b, minimum=1) for b in check_sequence("budgets", budgets, what="step budgets")})
    level = check_float("level", level, minimum=0, maximum=1, open_min=True)
    modulus = int(curves["modulus"].iloc[0])
    unit = mlnm(modulus)
    rows = []
    for seed, mine in curves.groupby("seed"):
        for b in budgets:
            at = mine[mine["step"] <= b].sort_values("step").groupby("n_train")["test_acc"].last().sort_index()
            kept = (at >= level)[::-1].cummin()[::-1]  # this subset and every larger one keep
            keeps = int(at.index[kept.to_numpy()].min()) if kept.any() else None
            below = at.index[at.index < keeps] if keeps is not None else at.index
            fails = int(below.max()) if len(below) else 0
            threshold = math.nan if keeps is None else (fails + keeps) / 2
            rows.append(
                {
                    "modulus": modulus,
                    "seed": int(seed),
                    "budget": b,
                    "fails_n": fails,
                    "keeps_n": math.nan if keeps is None else keeps,
                    "threshold_n": threshold,
                    "multiple": threshold / unit,
                }
            )
    return pd.DataFrame(rows)
