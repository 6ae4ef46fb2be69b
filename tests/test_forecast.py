"""grokkit.forecast: the mental model and the black boxes, held-out early calls, replayed random search."""

import math

import numpy as np
import pandas as pd
import pytest

from grokkit import forecast


def law_runs(constant=5.0, moduli=(23, 29, 31), multiples=np.linspace(2, 8, 13)):
    """Synthetic runs that obey n_c = constant · M ln M exactly."""
    rows = [{"modulus": m, "n_train": round(c * m * math.log(m))} for m in moduli for c in multiples]
    runs = pd.DataFrame(rows)
    runs["generalised"] = runs["n_train"] > constant * runs["modulus"] * np.log(runs["modulus"])
    return runs


def test_scaling_law_recovers_its_constant_and_extrapolates():
    model = forecast.fit("scaling law", law_runs())
    assert forecast.fitted_constant(model) == pytest.approx(5.0, rel=0.06)
    far = law_runs(moduli=(97, 113))
    assert (forecast.predict(model, far) == far["generalised"]).mean() > 0.9
    edge = forecast.boundary(model, [113]).loc[0, "n"]
    assert edge == pytest.approx(5.0 * 113 * math.log(113), rel=0.08)


@pytest.mark.parametrize("name", ["nearest neighbours", "random forest"])
def test_local_black_boxes_go_flat_outside_their_range(name):
    model = forecast.fit(name, law_runs())
    edges = forecast.boundary(model, [31, 113])["n"].to_numpy()
    assert edges[1] < 1.2 * edges[0], "beyond the fitted moduli the boundary should stop growing"


def test_boundary_is_missing_when_nothing_is_predicted_to_generalise():
    runs = law_runs()
    model = forecast.fit("nearest neighbours", runs)
    edge = forecast.boundary(model, [5], resolution=4)  # n ≤ 24: far below every run that generalised
    assert edge["modulus"].tolist() == [5] and math.isnan(edge.loc[0, "n"])


def test_fit_refuses_one_outcome_and_missing_columns():
    runs = law_runs()
    with pytest.raises(ValueError, match="both outcomes"):
        forecast.fit("scaling law", runs.assign(generalised=True))
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
