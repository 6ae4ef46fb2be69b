"""The data law, measured: the search in n, the critical n per budget, the fits of n_c(M) and the divergence fit."""

import math

import numpy as np
import pandas as pd
import pytest

import grokkit
from grokkit.scaling import (
    LAWS,
    bootstrap_c,
    compare_laws,
    converged_budget,
    critical_by_budget,
    critical_n,
    divergence_by_modulus,
    divergence_curve,
    fit_divergence,
    fit_laws,
    fit_laws_by,
    keeping_thresholds,
    mlnm,
    pairs_for,
    predicted_critical_n,
    search_boundary,
    steps_to_generalize,
    training_cost,
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
    assert len(found) >= 4, "with the longer budget, 0.8 M² pairs should generalize for every modulus and seed"
    for row in found.itertuples():
        assert row.passes_n - row.fails_n <= max(0.5 * mlnm(row.modulus), 1)
        mine = runs[(runs["modulus"] == row.modulus) & (runs["seed"] == row.seed)]
        at = mine.set_index("n_train")
        passed = at.loc[[row.passes_n], "generalized_step"]
        assert (passed.notna() & (passed <= row.budget)).any(), "the upper end must be a run that generalized within the budget"
        if row.fails_n:
            failed = at.loc[[row.fails_n]]
            assert ((failed["steps"] >= row.budget) & ~(failed["generalized_step"].fillna(np.inf) <= row.budget)).any()


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
    """Thresholds at c · M ln M for three of four seeds at the long budget; a fourth seed never generalizes."""
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
    few.loc[few["seed"] == 2, "threshold_n"] = math.nan  # half the seeds never generalize: no median
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
    assert (first.loc[first["n_train"] == 90, "test_acc"] > 0.9).all(), "the grokked start generalizes on the pairs outside a large subset"
    tiny = ungrokked[(ungrokked["n_train"] == 10) & (ungrokked["step"] == 300)]
    assert (tiny["test_acc"] < 0.5).all(), "on 10 of 121 pairs the solution is lost"


def test_keeping_thresholds_bracket_the_smallest_subset_from_which_every_larger_one_keeps():
    curves = pd.DataFrame(
        {
            "modulus": 11,
            "seed": 0,
            "n_train": [10, 30, 60, 90] * 2,
            "step": [100] * 4 + [300] * 4,
            "test_acc": [0.2, 0.95, 0.5, 0.99, 0.0, 0.0, 0.92, 1.0],
        }
    )
    found = keeping_thresholds(curves, [100, 300]).set_index("budget")
    assert (found.loc[100, "fails_n"], found.loc[100, "keeps_n"]) == (60, 90), "30 keeps but 60 does not, so 30 is no threshold"
    assert found.loc[300, "threshold_n"] == 45 and found.loc[300, "multiple"] == pytest.approx(45 / mlnm(11))
    assert math.isnan(keeping_thresholds(curves.assign(test_acc=0.1), [300])["threshold_n"].iloc[0])
    assert keeping_thresholds(curves, [300], level=0.95).loc[0, "keeps_n"] == 90
    settled = converged_budget(found.reset_index().groupby(["modulus", "budget"], as_index=False)["multiple"].median())
    assert (found["modulus"] == 11).all() and settled.loc[0, "modulus"] == 11, "the rows name their modulus, as converged_budget needs"


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


def test_critical_n_needs_the_majority_at_that_n_and_every_larger_one():
    rows = [
        (23, n, s, step)
        for n, steps in [(100, [None] * 3), (150, [90, None, 80]), (200, [None, None, 60]), (250, [50, 40, 30])]
        for s, step in enumerate(steps)
    ]
    rows += [(31, 300, s, None) for s in range(3)]
    table = pd.DataFrame(rows, columns=["modulus", "n_train", "seed", "generalized_step"])
    result = critical_n(table).set_index("modulus")["critical_n"]
    assert result[23] == 250 and pd.isna(result[31])
    with pytest.raises(ValueError, match="lacks the columns"):
        critical_n(table.drop(columns="seed"))


def test_predicted_critical_n():
    assert predicted_critical_n(71, 2.75) == pytest.approx(2.75 * 71 * math.log(71))


def test_pairs_for_counts_in_units_of_the_scaling_law():
    assert pairs_for(71, 5) == round(5 * 71 * math.log(71))
    assert pairs_for(17, 8) == 17 * 17 - 1  # capped: at least one test pair remains
    with pytest.raises(ValueError, match="multiple"):
        pairs_for(71, 0)
    with pytest.raises(TypeError, match="modulus"):
        pairs_for(71.0, 5)


def test_training_cost_is_six_k_m_per_pair_and_step():
    assert training_cost(31, 128, 500, 300)[0] == 6 * 128 * 31 * 500 * 300
    costs = training_cost(np.array([23, 31]), 16, np.array([100, 200]), 10)
    assert costs.tolist() == [6 * 16 * 23 * 100 * 10, 6 * 16 * 31 * 200 * 10]
    with pytest.raises(ValueError, match="n_train"):
        training_cost(31, 16, -1, 10)


def test_divergence_is_fitted_per_modulus_and_its_curve_recovers_the_times():
    truth = {"t0": 50.0, "a": 4000.0, "n_c": 100.0, "gamma": 1.0}
    n = np.array([120, 140, 170, 200, 260, 320, 400], dtype=float)
    runs = pd.DataFrame({"modulus": 23, "n_train": n, "generalized_step": divergence_curve(truth, n)})
    runs = pd.concat([runs, pd.DataFrame({"modulus": [23], "n_train": [90], "generalized_step": [None]})], ignore_index=True)
    fits = divergence_by_modulus(runs)
    assert fits["modulus"].tolist() == [23]
    fit = fits.iloc[0]
    assert fit["n_c"] == pytest.approx(100, rel=0.02) and fit["multiple"] == pytest.approx(fit["n_c"] / mlnm(23))
    assert np.allclose(divergence_curve(fit, n), runs["generalized_step"].dropna().to_numpy(dtype=float), rtol=0.02)
    with pytest.raises(ValueError, match="above the fitted n_c"):
        divergence_curve(truth, [100.0])
    with pytest.raises(TypeError, match="gamma"):
        divergence_curve({"t0": 1.0}, [200.0])


def test_laws_are_fitted_per_group_in_order():
    moduli = np.array([23.0, 31, 41, 53])
    table = pd.concat(
        [pd.DataFrame({"modulus": moduli, "n": c * moduli * np.log(moduli), "estimate": name}) for name, c in (("long", 2.5), ("short", 4.0))],
        ignore_index=True,
    )
    laws = fit_laws_by(table, "estimate")
    assert laws["estimate"].unique().tolist() == ["long", "short"] and len(laws) == 2 * len(LAWS)
    exact = laws[laws["model"] == "c · M ln M"].set_index("estimate")
    assert exact.loc["long", "c"] == pytest.approx(2.5) and exact.loc["short", "loo_error"] == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match="table"):
        fit_laws_by(table.drop(columns="n"), "estimate")


def test_grow_until_generalized_adds_a_fifth_more_pairs_per_failed_try():
    from grokkit.scaling import grow_until_generalized

    config = BASE.replace(n_train=30, steps=250, stop_at_test_acc=0.99)
    found = grow_until_generalized(config, progress=False)
    assert found["tries"] >= 2 and found["generalized_step"] is not None
    tried = [30]
    while len(tried) < found["tries"]:
        tried.append(round(1.2 * tried[-1]))
    assert found["n_train"] == tried[-1]
    spent = sum(training_cost(11, 64, n, 250)[0] for n in tried[:-1]) + training_cost(11, 64, tried[-1], found["generalized_step"])[0]
    assert found["compute"] == spent  # failed tries ran the whole budget; the last one stopped when it generalized
    last = grow_until_generalized(config.replace(n_train=120, steps=1), progress=False)  # all pairs but one: no further try
    assert last["tries"] == 1 and last["n_train"] == 120
    with pytest.raises(ValueError, match="growth"):
        grow_until_generalized(config, growth=1.0)
    with pytest.raises(ValueError, match="n_train"):
        grow_until_generalized(config.replace(n_train=None, train_fraction=0.5))
    with pytest.raises(TypeError, match="TrainConfig"):
        grow_until_generalized("config")


def test_compare_laws_gives_one_row_per_group_with_the_best_law():
    moduli = np.array([23.0, 31, 41, 53])
    table = pd.concat(
        [
            pd.DataFrame({"modulus": moduli, "n": n, "estimate": name, "kind": "x"})
            for name, n in (("mlnm", 2.5 * moduli * np.log(moduli)), ("square", 0.3 * moduli**2))
        ],
        ignore_index=True,
    )
    compared = compare_laws(table, "estimate")
    assert list(compared.index) == ["mlnm", "square"] and list(compared.columns) == [*LAWS.values(), "alpha", "best"]
    assert compared.loc["mlnm", "best"] == "c · M ln M" and compared.loc["mlnm", "c · M ln M"] == pytest.approx(0, abs=1e-9)
    assert compared.loc["square", "alpha"] == pytest.approx(2.0) and compared.loc["square", "best"] in ("f · M²", "a · M^α")
    laws = fit_laws_by(table, "estimate")
    assert compared.loc["square", "f · M²"] == laws[(laws["estimate"] == "square") & (laws["model"] == "f · M²")]["loo_error"].item()
    assert compare_laws(table, ["kind", "estimate"]).index.names == ["kind", "estimate"]
    with pytest.raises(ValueError, match="table lacks the columns"):
        compare_laws(table.drop(columns="n"), "estimate")
    with pytest.raises(ValueError, match="at least 3"):
        compare_laws(table[table["modulus"] < 35], "estimate")


def test_steps_to_generalize_are_binned_by_multiple_with_the_plateau_beyond():
    runs = pd.DataFrame(
        {
            "multiple": [3.0, 4.1, 3.9, 4.6, 8.0, 8.3, 9.0, 10.0],
            "generalized_step": [None, 400.0, 500.0, 300.0, 120.0, 100.0, 90.0, 110.0],
        }
    )
    runs["generalized"] = runs["generalized_step"].notna()
    speed, plateau = steps_to_generalize(runs, width=0.5, up_to=8)
    assert speed.index.tolist() == [4.0, 4.5, 8.0] and speed.tolist() == [450.0, 300.0, 120.0]
    assert plateau == 100.0  # the median of the runs beyond 8.25
    speed, plateau = steps_to_generalize(runs, width=1.0, up_to=12)
    assert speed.index.tolist() == [4.0, 5.0, 8.0, 9.0, 10.0] and math.isnan(plateau)
    with pytest.raises(ValueError, match="width"):
        steps_to_generalize(runs, width=0.0)
    with pytest.raises(ValueError, match="runs lacks the columns"):
        steps_to_generalize(runs.drop(columns="multiple"))
