"""The data law, measured: the search in n, the critical n per budget, the fits of n_c(M) and the divergence fit."""

import math

import numpy as np
import pandas as pd
import pytest

import grokkit
from grokkit.scaling import (
    bootstrap_c,
    converged_budget,
    critical_by_budget,
    fit_divergence,
    fit_laws,
    keeping_thresholds,
    mlnm,
    search_boundary,
    ungrok,
)

# A small network that groks M = 11 and 13 within a few hundred steps when it has enough pairs.
BASE = grokkit.TrainConfig(modulus=11, n_train=1, hidden=64, weight_decay=1e-3, lr=1e-2, eval_every=10)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return (*search_boundary(BASE, [11, 13], [0, 1], [250, 500], low=0.05, high=0.8, resolution=0.5, cache_dir=cache), cache)


def test_mlnm_is_the_law_unit_and_refuses_non_moduli():
    assert mlnm(23) == pytest.approx(23 * math.log(23))
    for bad, error in ((1, ValueError), (2.5, TypeError), ("7", TypeError)):
        with pytest.raises(error, match="modulus"):
            mlnm(bad)


def test_the_search_brackets_every_boundary_it_finds_within_the_resolution(searched):
    runs, thresholds, _ = searched
    found = thresholds.dropna(subset=["threshold_n"])
    assert len(found) >= 4, "with the longer budget, 0.8 M² pairs should generalise for every modulus and seed"
    for row in found.itertuples():
        assert row.passes_n - row.fails_n <= max(0.5 * mlnm(row.modulus), 1)
        mine = runs[(runs["modulus"] == row.modulus) & (runs["seed"] == row.seed)]
        at = mine.set_index("n_train")
        passed = at.loc[[row.passes_n], "generalised_step"]
        assert (passed.notna() & (passed <= row.budget)).any(), "the upper end must be a run that generalised within the budget"
        if row.fails_n:
            failed = at.loc[[row.fails_n]]
            assert ((failed["steps"] >= row.budget) & ~(failed["generalised_step"].fillna(np.inf) <= row.budget)).any()


def test_a_longer_budget_never_needs_more_pairs(searched):
    _, thresholds, _ = searched
    by = thresholds.pivot_table(index=["modulus", "seed"], columns="budget", values="passes_n")
    both = by.dropna()
    assert len(both) >= 2 and (both[500] <= both[250]).all()


def test_a_second_search_on_the_same_cache_trains_nothing(searched):
    runs, thresholds, cache = searched
    again, same = search_boundary(BASE, [11, 13], [0, 1], [250, 500], low=0.05, high=0.8, resolution=0.5, cache_dir=cache)
    assert (again["source"] == "cache").all()
    pd.testing.assert_frame_equal(same, thresholds)


def test_the_search_shows_one_progress_bar_for_all_its_rounds(searched, capsys):
    _, _, cache = searched
    search_boundary(BASE, [11, 13], [0, 1], [250, 500], low=0.05, high=0.8, resolution=0.5, cache_dir=cache, progress=True)
    shown = capsys.readouterr().err
    assert "search" in shown and "sweep" not in shown, shown


def test_the_search_refuses_bad_arguments():
    with pytest.raises(TypeError, match="base"):
        search_boundary("config", [11], [0], [10])
    with pytest.raises(ValueError, match="high"):
        search_boundary(BASE, [11], [0], [10], low=0.5, high=0.2)
    with pytest.raises(ValueError, match="budgets"):
        search_boundary(BASE, [11], [0], [0])
    with pytest.raises(ValueError, match="resolution"):
        search_boundary(BASE, [11], [0], [10], resolution=0)
    with pytest.raises(ValueError, match="moduli"):
        search_boundary(BASE, [], [0], [10])


def synthetic(c: float = 3.0, moduli=(23, 31, 43), budgets=(100, 1000)) -> pd.DataFrame:
    """Thresholds at c · M ln M for three of four seeds at the long budget; a fourth seed never generalises."""
    rows = []
    for m in moduli:
        for b in budgets:
            for s, scale in enumerate((0.9, 1.0, 1.1, math.nan)):
                short = 2.0 if b == budgets[0] else 1.0
                rows.append({"modulus": m, "seed": s, "budget": b, "threshold_n": scale * short * c * mlnm(m)})
    return pd.DataFrame(rows)


def test_the_critical_n_is_the_median_counting_never_as_infinite():
    critical = critical_by_budget(synthetic())
    long = critical[critical["budget"] == 1000]
    assert np.allclose(long["multiple"], 3.0 * 1.05)  # median of 0.9, 1.0, 1.1 and ∞
    assert (long["seeds_found"] == 3).all()
    few = synthetic()
    few.loc[few["seed"] == 2, "threshold_n"] = math.nan  # half the seeds never generalise: no median
    assert critical_by_budget(few)["critical_n"].isna().all()


def test_the_converged_budget_is_where_the_multiple_stops_moving():
    critical = critical_by_budget(synthetic(budgets=(100, 300, 1000, 3000)))
    settled = converged_budget(critical, tolerance=0.1)
    assert (settled["settles_at_budget"] == 300).all()
    assert np.allclose(settled["converged_multiple"], 3.15)
    with pytest.raises(ValueError, match="tolerance"):
        converged_budget(critical, tolerance=0)


def test_each_law_wins_on_data_it_generated():
    m = np.array([23, 31, 43, 53, 71, 97, 127], float)
    laws = fit_laws(m, 3.0 * m * np.log(m)).set_index("model")
    assert laws.loc["c · M ln M", "c"] == pytest.approx(3.0)
    assert laws["loo_error"].idxmin() == "c · M ln M" and laws.loc["c · M ln M", "loo_error"] < 1e-9
    assert laws.loc["f · M²", "loo_error"] > 0.05
    square = fit_laws(m, 0.2 * m**2).set_index("model")
    assert square["loo_error"].idxmin() in ("f · M²", "a · M^α") and square.loc["a · M^α", "alpha"] == pytest.approx(2.0)
    assert square.loc["c · M ln M", "loo_error"] > square.loc["f · M²", "loo_error"] + 0.05
    with pytest.raises(ValueError, match="critical_n"):
        fit_laws(m, -m)
    with pytest.raises(TypeError, match="moduli"):
        fit_laws(["a", "b", "c"], [1, 2, 3])
    with pytest.raises(ValueError, match="same length"):
        fit_laws(m, m[:-1])
    with pytest.raises(ValueError, match="at least 3"):
        fit_laws([23, 23, 31], [1, 2, 3])


def test_the_bootstrap_interval_covers_c_and_shrinks_to_it_without_spread():
    thresholds = synthetic()
    long = thresholds[thresholds["budget"] == 1000]
    result = bootstrap_c(long, draws=500)
    assert result["low"] <= result["c"] <= result["high"] and result["c"] == pytest.approx(3.15)
    assert result["high"] - result["low"] > 0.1
    exact = long.assign(threshold_n=3.0 * long["modulus"].map(mlnm))
    tight = bootstrap_c(exact, draws=200)
    assert tight["low"] == pytest.approx(3.0) and tight["high"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="one budget"):
        bootstrap_c(thresholds)
    with pytest.raises(ValueError, match="no critical n"):
        bootstrap_c(long.assign(threshold_n=math.nan))


def test_the_divergence_fit_recovers_where_the_time_blows_up():
    n = np.linspace(320, 900, 12)
    t = 80 + 4e4 / (n - 300) ** 1.3
    fit = fit_divergence(n, t)
    assert fit["n_c"] == pytest.approx(300, rel=0.02) and fit["gamma"] == pytest.approx(1.3, rel=0.05)
    assert fit["rms_log_error"] < 1e-3
    with pytest.raises(ValueError, match="at least 5"):
        fit_divergence(n[:4], t[:4])
    with pytest.raises(ValueError, match="steps"):
        fit_divergence(n, -t)


@pytest.fixture(scope="module")
def ungrokked():
    # M = 11: a network grokked on 100 of the 121 pairs, then continued on subsets of its training pairs.
    return ungrok(BASE.replace(steps=600), [0, 1], 100, [10, 30, 60, 90], 300)


def test_ungrok_continues_each_seed_on_nested_subsets_of_its_training_pairs(ungrokked):
    assert set(ungrokked["seed"]) == {0, 1} and set(ungrokked["n_train"]) == {10, 30, 60, 90}
    assert ungrokked.groupby(["seed", "n_train"])["step"].max().eq(300).all(), "continued runs have no early stop"
    first = ungrokked[ungrokked["step"] == ungrokked["step"].min()]
    assert (first.loc[first["n_train"] == 90, "test_acc"] > 0.9).all(), "the grokked start generalises on the pairs outside a large subset"
    tiny = ungrokked[(ungrokked["n_train"] == 10) & (ungrokked["step"] == 300)]
    assert (tiny["test_acc"] < 0.5).all(), "on 10 of 121 pairs the solution is lost"


def test_keeping_thresholds_bracket_the_smallest_subset_from_which_every_larger_one_keeps():
    curves = pd.DataFrame({"modulus": 11, "seed": 0, "n_train": [10, 30, 60, 90] * 2, "step": [100] * 4 + [300] * 4,
                           "test_acc": [0.2, 0.95, 0.5, 0.99, 0.0, 0.0, 0.92, 1.0]})
    found = keeping_thresholds(curves, [100, 300]).set_index("budget")
    assert (found.loc[100, "fails_n"], found.loc[100, "keeps_n"]) == (60, 90), "30 keeps but 60 does not, so 30 is no threshold"
    assert found.loc[300, "threshold_n"] == 45 and found.loc[300, "multiple"] == pytest.approx(45 / mlnm(11))
    assert math.isnan(keeping_thresholds(curves.assign(test_acc=0.1), [300])["threshold_n"].iloc[0])
    assert keeping_thresholds(curves, [300], level=0.95).loc[0, "keeps_n"] == 90


def test_ungrok_and_keeping_thresholds_refuse_bad_arguments(ungrokked):
    with pytest.raises(ValueError, match="subset_ns"):
        ungrok(BASE, [0], 50, [60], 10)
    with pytest.raises(ValueError, match="start_n"):
        ungrok(BASE, [0], 121, [60], 10)
    with pytest.raises(RuntimeError, match="99.5 %"):
        ungrok(BASE.replace(steps=5), [0], 100, [60], 10)
    with pytest.raises(ValueError, match="curves"):
        keeping_thresholds(ungrokked.drop(columns="test_acc"), [100])
    with pytest.raises(ValueError, match="one modulus"):
        keeping_thresholds(pd.concat([ungrokked, ungrokked.assign(modulus=13)]), [100])
    with pytest.raises(ValueError, match="level"):
        keeping_thresholds(ungrokked, [100], level=1.5)
