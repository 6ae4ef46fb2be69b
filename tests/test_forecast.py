"""grokkit.forecast: the mental model and the black boxes, held-out early calls, replayed random search."""

import math

import numpy as np
import pandas as pd
import pytest

from grokkit import forecast

MULTIPLES = np.linspace(2, 8, 13)


def law_runs(constant=5.0, moduli=(23, 29, 31), multiples=MULTIPLES):
    """Synthetic runs that obey n_c = constant · M ln M exactly."""
    rows = [{"modulus": m, "n_train": round(c * m * math.log(m))} for m in moduli for c in multiples]
    runs = pd.DataFrame(rows)
    runs["generalized"] = runs["n_train"] > constant * runs["modulus"] * np.log(runs["modulus"])
    return runs


def test_scaling_law_recovers_its_constant_and_extrapolates():
    model = forecast.fit("scaling law", law_runs())
    assert forecast.fitted_constant(model) == pytest.approx(5.0, rel=0.06)
    far = law_runs(moduli=(97, 113))
    assert (forecast.predict(model, far) == far["generalized"]).mean() > 0.9
    edge = forecast.boundary(model, [113]).loc[0, "n"]
    assert edge == pytest.approx(5.0 * 113 * math.log(113), rel=0.08)


@pytest.mark.parametrize("name", ["nearest neighbors", "random forest"])
def test_local_black_boxes_go_flat_outside_their_range(name):
    model = forecast.fit(name, law_runs())
    edges = forecast.boundary(model, [31, 113])["n"].to_numpy()
    assert edges[1] < 1.2 * edges[0], "beyond the fitted moduli the boundary should stop growing"


def test_boundary_is_missing_when_nothing_is_predicted_to_generalize():
    runs = law_runs()
    model = forecast.fit("nearest neighbors", runs)
    edge = forecast.boundary(model, [5], resolution=4)  # n ≤ 24: far below every run that generalized
    assert edge["modulus"].tolist() == [5] and math.isnan(edge.loc[0, "n"])


def test_fit_refuses_one_outcome_and_missing_columns():
    runs = law_runs()
    with pytest.raises(ValueError, match="both outcomes"):
        forecast.fit("scaling law", runs.assign(generalized=True))
    with pytest.raises(ValueError, match="modulus and n_train"):
        forecast.fit("scaling law", runs.drop(columns="modulus"))
    with pytest.raises(ValueError, match="no column"):
        forecast.fit("scaling law", runs, label="grokked")
    with pytest.raises(ValueError, match="name"):
        forecast.classifier("svm")


def test_fitted_constant_needs_the_scaling_law():
    with pytest.raises(TypeError, match="scaling law"):
        forecast.fitted_constant(forecast.fit("logistic regression", law_runs()))


def test_held_out_calls_read_a_clean_signal_and_refuse_bad_input():
    outcome = np.array([True] * 6 + [False] * 10)
    measure = np.where(outcome, 0.8, 0.1) + np.linspace(0, 0.05, outcome.size)
    assert (forecast.held_out_calls(measure, outcome) == outcome).all()
    with pytest.raises(ValueError, match="same length"):
        forecast.held_out_calls(measure[:-1], outcome)
    with pytest.raises(ValueError, match="NaN"):
        forecast.held_out_calls(np.where(outcome, np.nan, 0.1), outcome)
    with pytest.raises(ValueError, match="each outcome"):
        forecast.held_out_calls(measure, np.array([True] + [False] * 15))


def test_cost_until_success_counts_up_to_the_first_success():
    cost = forecast.cost_until_success([False, True], [3.0, 1.0], trials=200, seed=1)
    assert set(np.unique(cost)) == {1.0, 4.0}
    assert forecast.cost_until_success([True, True], [2.0, 2.0], trials=5).tolist() == [2.0] * 5
    assert forecast.cost_until_success([False, False], [1.0, 2.0], trials=3).tolist() == [3.0] * 3
    first = forecast.cost_until_success([False, True, False], [1.0, 2.0, 4.0], trials=50, seed=7)
    assert (first == forecast.cost_until_success([False, True, False], [1.0, 2.0, 4.0], trials=50, seed=7)).all()
    with pytest.raises(ValueError, match="same length"):
        forecast.cost_until_success([True], [1.0, 2.0], trials=3)
    with pytest.raises(TypeError, match="trials"):
        forecast.cost_until_success([True], [1.0], trials=2.5)


def test_few_run_scores_fit_every_model_to_each_draw_and_score_it_inside_and_outside():
    pool, beyond = law_runs(moduli=(23, 29)), law_runs(moduli=(61, 67))
    critical = 5.0 * 67 * math.log(67)
    scores, seen = forecast.few_run_scores(pool, beyond, runs=8, draws=3, reference=(67, critical))
    assert list(scores.columns) == ["draw", "model", "inside", "outside", "constant", "error"]
    assert scores["draw"].tolist() == [0] * 4 + [1] * 4 + [2] * 4 and scores["model"].tolist() == list(forecast.MODELS) * 3
    assert len(seen) == 3 and all(len(s) == 8 and 0 < s["generalized"].sum() < 8 for s in seen)
    law = scores[scores["model"] == "scaling law"]
    assert law["constant"].notna().all() and scores.loc[scores["model"] != "scaling law", "constant"].isna().all()
    first = forecast.fit("scaling law", seen[0], seed=0)  # the first draw, refitted: the same model
    assert law["constant"].iloc[0] == forecast.fitted_constant(first)
    edge = forecast.boundary(first, [67])["n"].iloc[0]
    assert law["error"].iloc[0] == pytest.approx(100 * abs(edge - critical) / critical)
    rest = pool.drop(seen[0].index)
    assert law["inside"].iloc[0] == pytest.approx(100 * (forecast.predict(first, rest) == rest["generalized"]).mean())
    again, _ = forecast.few_run_scores(pool, beyond, runs=8, draws=3, reference=(67, critical))
    pd.testing.assert_frame_equal(scores, again)  # the same seed draws the same runs
    with pytest.raises(ValueError, match="both outcomes"):
        forecast.few_run_scores(pool.assign(generalized=True), beyond, runs=8, draws=1, reference=(67, critical))
    with pytest.raises(ValueError, match="runs"):
        forecast.few_run_scores(pool, beyond, runs=len(pool), draws=1, reference=(67, critical))
    with pytest.raises(TypeError, match="reference"):
        forecast.few_run_scores(pool, beyond, runs=8, draws=1, reference=67)


def test_early_stopping_counts_the_compute_saved_and_the_good_runs_lost():
    runs = pd.DataFrame(
        {
            "modulus": 11,
            "hidden": 8,
            "n_train": [10, 20, 30, 40, 50, 60],
            "last_step": [40, 40, 40, 40, 20, 40],
            "generalized": [False, False, False, True, True, True],
        }
    )
    signal = {0: 0.1, 1: 0.15, 2: 0.2, 3: 0.8, 4: 0.85, 5: 0.9}  # a clean signal: every run is called right
    paths = pd.DataFrame(
        [
            {"run": r, "step": s, "clean": signal[r] * (s > 0), "flat": 1.0 + 0.01 * r * (s > 0)}
            for r in range(6)
            for s in (0, 10, 20, 30, 40)
            if s <= runs.loc[r, "last_step"]
        ]
    )
    found = forecast.early_stopping(paths, runs, {"clean signal": "clean"}, [10, 30])
    assert list(found.columns) == ["step", "measure", "balanced_accuracy", "compute_saved", "good_runs_lost"]
    assert found["step"].tolist() == [10, 30] and (found["balanced_accuracy"] == 100).all()
    per_step = 6 * 8 * 11 * runs["n_train"]
    total = (per_step * runs["last_step"]).sum()
    assert found["compute_saved"].tolist() == pytest.approx([100 * (per_step[:3] * 30).sum() / total, 100 * (per_step[:3] * 10).sum() / total])
    assert (found["good_runs_lost"] == 0).all()
    with pytest.raises(ValueError, match="recorded step"):
        forecast.early_stopping(paths[paths["step"] > 0], runs, {"clean signal": "clean"}, [0])
    with pytest.raises(ValueError, match="number the runs"):
        forecast.early_stopping(paths[paths["run"] < 5], runs, {"clean signal": "clean"}, [10])
    with pytest.raises(TypeError, match="measures"):
        forecast.early_stopping(paths, runs, "clean", [10])
    with pytest.raises(ValueError, match="lacks the columns"):
        forecast.early_stopping(paths, runs.drop(columns="last_step"), {"clean signal": "clean"}, [10])


def test_win_share_counts_the_draws_a_model_beats_every_other():
    scores = pd.DataFrame(
        {
            "draw": [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3],
            "model": ["law", "box", "forest"] * 4,
            "outside": [90, 80, 70, 60, 80, 50, 90, 90, 10, 95, 94, 93],
        }
    )
    assert forecast.win_share(scores, "law") == 50.0  # draws 0 and 3; a tie (draw 2) is no win
    assert forecast.win_share(scores, "box") == 25.0
    with pytest.raises(ValueError, match="model"):
        forecast.win_share(scores, "nobody")
    with pytest.raises(ValueError, match="scores lacks the columns"):
        forecast.win_share(scores.drop(columns="outside"), "law")
