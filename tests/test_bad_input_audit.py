"""Second property-based audit of bad input, over the public functions of every module (not only
``grokkit.__all__``): sizes that cannot fit in memory, integers beyond 64 bits, path arguments,
thresholds and fractions out of range, names that would write outside their folder, and degenerate
inputs (all zero, constant, empty, NaN). Each is refused with a ValueError or TypeError that names the
argument; nothing is clipped or answered with a misleading number. Sizes are only ever estimated here:
nothing large is allocated."""

import importlib
import math
import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import refused  # noqa: E402
from grokkit import (  # noqa: E402
    KeyResults,
    ModularTask,
    TrainConfig,
    TwoLayerNet,
    first_step_reaching,
    forecast,
    fourier,
    grid,
    histories,
    losses,
    metrics,
    plots,
    results,
    scaling,
    theory,
    train,
    train_many,
)
from grokkit._validate import INT64_MAX, check_memory, memory_limit  # noqa: E402
from grokkit.distributed import train_chunks_on_ray  # noqa: E402
from grokkit.sweep import RunCache, cache_key, runs_table, sweep  # noqa: E402
from grokkit.tasks import Split  # noqa: E402
from grokkit.train import TrainResult, ensemble_key, with_hint  # noqa: E402
from grokkit.transformer import (  # noqa: E402
    OneLayerTransformer,
    TransformerConfig,
    train_transformer,
)

train_module = importlib.import_module("grokkit.train")  # the module; grokkit.train is the function


BASE = TrainConfig(modulus=11, n_train=60, hidden=8, steps=5, eval_every=5)
SPLIT = ModularTask(7).split(n_train=20, seed=0)
NET = TwoLayerNet(7, 6, generator=torch.Generator().manual_seed(1))
HISTORY = pd.DataFrame({"step": [0, 10, 20], "train_loss": [1.0, 0.5, 0.1], "train_acc": [0.1, 0.9, 1.0], "test_acc": [0.0, 0.4, 0.8]})
LOGITS = torch.randn(7, 7, 7, generator=torch.Generator().manual_seed(2))
RUNS = pd.DataFrame(
    {"modulus": [11, 11, 13, 13, 17, 17], "n_train": [20, 90, 25, 110, 30, 140], "generalized": [False, True, False, True, False, True]}
)

# Sizes far beyond the memory of any machine (≥ 1 PiB by every estimate), so the tests never depend on this one.
HUGE_MODULUS = st.integers(10**8, 2**40)
HUGE_WIDTH = st.integers(10**14, 2**50)
BEYOND_64_BITS = st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1))
bad_floats = st.sampled_from([math.nan, math.inf, -math.inf])
not_a_path = st.one_of(st.integers(), st.floats(allow_nan=False), st.lists(st.text(max_size=3), max_size=2), st.just(b"bytes"), st.just(object()))


def outside(low, high, *, low_open=False, high_open=False):
    """Floats outside [low, high] (or the open ends), plus NaN and ±inf."""
    below = st.floats(max_value=low, exclude_max=not low_open, allow_nan=False)
    above = st.floats(min_value=high, exclude_min=not high_open, allow_nan=False)
    return st.one_of(below, above, bad_floats)


# --- sizes that could not fit in memory fail at once, before anything is allocated -----------------------------------


@given(st.integers(0, 2**60))
def test_check_memory_compares_the_estimate_with_the_memory_there_is(extra):
    limit = memory_limit()
    assert limit > 0
    check_memory("size=1", min(extra, limit))  # fits: no error
    refused(lambda: check_memory("size=1", limit + 1 + extra), "size")


@given(HUGE_MODULUS)
def test_a_table_too_big_for_memory_is_refused(modulus):
    refused(lambda: ModularTask(modulus), "modulus")
    refused(lambda: ModularTask(modulus, "div"), "modulus")
    refused(lambda: TrainConfig(modulus=modulus, n_train=10, hidden=8), "modulus")
    refused(lambda: TransformerConfig(modulus=modulus), "modulus")
    refused(lambda: metrics.prediction_table(NET, modulus), "modulus")
    refused(lambda: fourier.logit_table(NET, modulus), "modulus")
    refused(lambda: fourier.fourier_basis(2 * modulus + 1), "modulus")


@given(HUGE_WIDTH)
def test_networks_too_big_for_memory_are_refused(width):
    refused(lambda: TwoLayerNet(7, width), "hidden")
    refused(lambda: TwoLayerNet(7, 4, inputs=width), "inputs")
    refused(lambda: train(BASE.replace(hidden=width), progress=False), "hidden")
    refused(lambda: train_many([BASE.replace(hidden=width, seed=s) for s in range(2)], progress=False), "hidden")
    refused(lambda: sweep([BASE, BASE.replace(hidden=width)], progress=False), "hidden")
    refused(lambda: OneLayerTransformer(7, d_model=width, heads=1), "d_model")
    refused(lambda: OneLayerTransformer(7, d_model=8, heads=1, d_mlp=width), "d_mlp")
    refused(lambda: train_transformer(TransformerConfig(modulus=7, d_model=width, heads=1), progress=False), "d_model")


@given(HUGE_WIDTH)
def test_other_sizes_too_big_for_memory_are_refused(size):
    refused(lambda: theory.census_of_maxima(7, [10], starts=size, steps=1), "starts")
    refused(lambda: fourier.fourier_feature(size, 1), "modulus")
    refused(lambda: fourier.fourier_network(2 * size + 1, [1]), "modulus")
    refused(lambda: losses.centered_targets(torch.tensor([0]), size), "modulus")
    refused(lambda: forecast.cost_until_success([True, False], [1.0, 2.0], trials=size), "trials")
    refused(lambda: forecast.boundary(FITTED_LAW, [11], resolution=size), "resolution")


def test_training_memory_is_checked_before_splits_models_or_the_loop(monkeypatch):
    def forbidden(*args, **kwargs):
        pytest.fail("allocated before the memory check")

    monkeypatch.setattr(TrainConfig, "split", forbidden)
    monkeypatch.setattr(train_module, "TwoLayerNet", forbidden)
    monkeypatch.setattr(train_module, "_run", forbidden)
    refused(lambda: train(BASE.replace(hidden=10**14), progress=False), "hidden")
    # snapshots of a long run add up: one network per snapshot, kept to the end
    refused(lambda: train(BASE.replace(hidden=1024, steps=10**12, eval_every=1), snapshot_every=1, progress=False), "snapshot_every")


# --- integers beyond 64 bits ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["modulus", "n_train", "hidden", "steps", "eval_every", "seed"])
def test_config_ints_beyond_64_bits_are_refused(field):
    @given(BEYOND_64_BITS)
    def check(value):
        refused(lambda: BASE.replace(**{field: value}), field)

    check()


@given(BEYOND_64_BITS)
def test_ints_beyond_64_bits_are_refused_everywhere(value):
    refused(lambda: ModularTask(value), "modulus")
    refused(lambda: ModularTask(7).split(n_train=value), "n_train")
    refused(lambda: ModularTask(7).split(n_train=3, seed=value), "seed")
    refused(lambda: TwoLayerNet(value, 4), "modulus")
    refused(lambda: train(BASE, snapshot_every=value, progress=False), "snapshot_every")
    refused(lambda: OneLayerTransformer(7, 8, 2, 8, seed=value), "seed")
    for field in ("seed", "steps", "warmup", "d_mlp"):
        refused(lambda: TransformerConfig(modulus=7, **{field: value}), field)
    refused(lambda: theory.census_of_maxima(7, [10], starts=2, steps=1, seed=value), "seed")
    refused(lambda: scaling.pairs_for(value, 1.0), "modulus")
    refused(lambda: forecast.cost_until_success([True], [1.0], trials=1, seed=value), "seed")
    refused(lambda: fourier.strongest_node_frequencies(NET, value), "per_node")


@given(st.integers(min_value=2**1024))
def test_ints_beyond_the_float_range_are_refused_as_floats(value):
    refused(lambda: BASE.replace(lr=value), "lr")
    refused(lambda: BASE.replace(weight_decay=value), "weight_decay")
    refused(lambda: scaling.pairs_for(7, value), "multiple")


@given(st.integers(2**32, INT64_MAX))
def test_seeds_beyond_what_scikit_learn_takes_are_refused(seed):
    refused(lambda: forecast.classifier("random forest", seed), "seed")
    refused(lambda: forecast.fit("logistic regression", RUNS, seed=seed), "seed")


@given(st.integers(INT64_MAX - train_module.HINT_STREAM + 1, INT64_MAX))
def test_seeds_whose_hint_stream_would_overflow_are_refused(seed):
    refused(lambda: BASE.replace(hint=0.5, seed=seed), "seed")
    refused(lambda: with_hint(SPLIT, 0.5, seed), "seed")


def test_the_largest_64_bit_seed_still_works():
    split = ModularTask(7).split(n_train=5, seed=INT64_MAX)
    assert split.n_train == 5
    assert OneLayerTransformer(5, 8, 2, 8, seed=INT64_MAX).embed.shape == (6, 8)


# --- path arguments ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def a_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("paths") / "a_file.txt"
    path.write_text("not a folder")
    return path


@given(not_a_path)
def test_folders_must_be_paths(value):
    refused(lambda: RunCache(value), "directory")
    refused(lambda: sweep([BASE], cache_dir=value, progress=False), "cache_dir")
    refused(lambda: KeyResults("chapter", value), "directory")


@given(st.sampled_from(["", "\0"]))
def test_folders_must_be_non_empty_paths(value):
    refused(lambda: RunCache(value), "directory")
    refused(lambda: KeyResults("chapter", value), "directory")


def test_folders_must_not_be_files_or_lie_under_files(a_file):
    for path in (a_file, a_file / "below", str(a_file / "below" / "deeper")):
        refused(lambda: RunCache(path), "directory")
        refused(lambda: sweep([BASE], cache_dir=path, progress=False), "cache_dir")
        refused(lambda: KeyResults("chapter", path), "directory")
    assert a_file.read_text() == "not a folder"


def test_key_results_refuse_to_overwrite_a_folder(tmp_path):
    (tmp_path / "chapter.results.json").mkdir()
    keys = KeyResults("chapter", tmp_path)
    keys.glue("x", 1)
    refused(keys.save, "name")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write to any folder, so none is unwritable")
def test_unwritable_folders_are_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        refused(lambda: RunCache(locked / "cache"), "directory")
        refused(lambda: KeyResults("chapter", locked), "directory")
    finally:
        locked.chmod(0o700)


# --- names that would write outside their folder --------------------------------------------------------------------

escaping_names = st.one_of(
    st.sampled_from(["", " ", ".", "..", "../x", "a/b", "a\\b", "/abs", "/", "x\0y"]),
    st.builds(lambda a, b: f"{a}/{b}", st.text(max_size=4), st.text(max_size=4)),
    st.builds(lambda a: f"../{a}", st.text(max_size=4)),
)


@given(escaping_names)
def test_names_that_would_leave_their_folder_are_refused(name):
    refused(lambda: KeyResults(name), "name")


@given(st.one_of(st.integers(), st.none(), st.lists(st.text(max_size=2), max_size=2)))
def test_names_must_be_strings(name):
    refused(lambda: KeyResults(name), "name")


def test_a_plain_name_is_written_inside_its_folder(tmp_path):
    keys = KeyResults("01-insight", tmp_path)
    keys.glue("answer", 42)
    keys.save()
    assert keys.path == tmp_path / "01-insight.results.json" and keys.path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["01-insight.results.json"]


# --- thresholds and fractions outside their range -----------------------------------------------------------------


@given(outside(0, 1))
def test_accuracy_thresholds_outside_0_1_are_refused(level):
    for column in ("train_acc", "test_acc"):
        refused(lambda: first_step_reaching(HISTORY, column, level), "threshold")
    flags = HISTORY.assign(low=HISTORY["train_loss"] < 0.6)
    refused(lambda: first_step_reaching(flags, "low", level), "threshold")


@given(st.floats(0, 1))
def test_accuracy_thresholds_inside_0_1_are_answered(level):
    step = first_step_reaching(HISTORY, "test_acc", level)
    reached = HISTORY.loc[HISTORY["test_acc"] >= level, "step"]
    assert step == (None if reached.empty else int(reached.iloc[0]))


@given(outside(0, 1))
def test_fractions_in_metrics_fourier_and_theory_are_refused_outside_their_range(value):
    refused(lambda: fourier.distinct_frequencies(NET, value), "concentration")
    refused(lambda: fourier.frequencies_needed(NET, SPLIT.train_pairs, SPLIT.train_labels, value), "accuracy")
    refused(lambda: with_hint(SPLIT, value, 0), "probability")
    refused(lambda: BASE.replace(hint=value), "hint")


@given(outside(0, 1, high_open=True))
def test_majority_must_be_in_0_1(value):
    table = pd.DataFrame({"modulus": [7], "n_train": [10], "seed": [0], "generalized_step": [5.0]})
    refused(lambda: scaling.critical_n(table, majority=value), "majority")


@given(outside(0, 1, low_open=True))
def test_open_below_fractions_are_refused(value):
    refused(lambda: fourier.key_frequencies(LOGITS, value), "share")
    refused(lambda: theory.census_of_maxima(7, [10], starts=2, steps=1, fourier_threshold=value), "fourier_threshold")
    refused(lambda: theory.ascend_energy(torch.ones(1, 14), SPLIT, steps=1, step_size=value), "step_size")
    refused(lambda: TransformerConfig(modulus=7, stop_at_test_acc=value), "stop_at_test_acc")


@given(outside(0, 1, low_open=True, high_open=True))
def test_open_fractions_are_refused(value):
    path = pd.DataFrame({"step": [0, 10, 20], "alignment": [0.1, 0.9, 0.2]})
    refused(lambda: theory.stage_boundaries(path, value), "alignment")
    refused(lambda: TransformerConfig(modulus=7, train_fraction=value), "train_fraction")
    refused(lambda: BASE.replace(n_train=None, train_fraction=value), "train_fraction")


@given(outside(0, 1, high_open=True))
def test_transformer_betas_must_be_in_0_1(beta):
    refused(lambda: TransformerConfig(modulus=7, betas=(0.9, beta)), "betas")


@given(st.floats(0, 1e-3, exclude_min=True))
def test_fractions_that_leave_no_training_pair_are_refused_when_the_config_is_made(fraction):
    refused(lambda: BASE.replace(n_train=None, train_fraction=fraction), "train_fraction")
    refused(lambda: TransformerConfig(modulus=7, train_fraction=fraction), "train_fraction")


@given(st.one_of(st.floats(max_value=0), bad_floats))
def test_positive_quantities_of_the_scaling_law_are_refused_otherwise(value):
    refused(lambda: scaling.pairs_for(7, value), "multiple")
    refused(lambda: scaling.predicted_critical_n(23, value), "constant")


@given(st.floats(1e-12, 1e-3))
def test_a_multiple_that_gives_no_training_pair_is_refused(multiple):
    refused(lambda: scaling.pairs_for(7, multiple), "multiple")


@given(st.one_of(st.floats(max_value=2, exclude_max=True, allow_nan=False), bad_floats))
def test_the_scaling_law_needs_a_modulus_of_at_least_2(modulus):
    refused(lambda: scaling.predicted_critical_n(modulus, 1.0), "modulus")
    refused(lambda: scaling.predicted_critical_n(torch.tensor([23.0, modulus], dtype=torch.float64), 1.0), "modulus")


# --- degenerate inputs: all zero, constant, empty, NaN ----------------------------------------------------------------


@given(st.integers(0, 5))
def test_all_zero_hidden_nodes_have_no_frequency_content(node):
    weights = NET.W.detach().clone()
    weights[node] = 0
    refused(lambda: fourier.fourier_concentration(weights), "network")
    refused(lambda: fourier.dominant_frequency(weights), "network")
    refused(lambda: fourier.distinct_frequencies(weights), "network")
    net = TwoLayerNet(7, 6)
    with torch.no_grad():
        net.W.copy_(weights)
    refused(lambda: fourier.fourier_concentration(net), "network")


@given(st.integers(0, 5), st.one_of(st.floats(-10, -1e-3), st.floats(1e-3, 10)))
def test_constant_hidden_nodes_have_no_dominant_frequency(node, constant):
    weights = NET.W.detach().clone()
    weights[node] = constant
    refused(lambda: fourier.dominant_frequency(weights), "network")
    assert fourier.fourier_concentration(weights)[node] == pytest.approx(0.0, abs=1e-6)  # defined: no power off the constant


@given(st.integers(1, 6), st.integers(1, 4))
def test_zero_matrices_have_no_rank_or_similarity(rows, columns):
    zero, varied = torch.zeros(rows + 1, columns), torch.randn(rows + 1, columns, generator=torch.Generator().manual_seed(rows))
    refused(lambda: metrics.effective_rank(zero), "matrix")
    refused(lambda: metrics.linear_cka(zero, varied), "x")
    refused(lambda: metrics.linear_cka(varied, zero), "y")
    constant = torch.ones(rows + 1, columns) * 3.0  # the same features for every input: zero once centered
    refused(lambda: metrics.linear_cka(constant, varied), "x")


@given(st.integers(3, 8), st.floats(-5, 5), st.floats(-5, 5))
def test_coincident_points_have_no_circularity(n, x, y):
    refused(lambda: metrics.circularity(torch.tensor([[x, y]] * n)), "points")


@given(st.integers(0, 2))
def test_too_few_points_have_no_circularity(n):
    refused(lambda: metrics.circularity(torch.randn(n, 2)), "points")


@given(st.floats(-3, 3))
def test_logits_equal_for_every_class_have_no_frequency_power(value):
    flat = torch.full((7, 7, 7), value) + torch.arange(7.0).view(7, 1, 1)  # depends on a only: no class is preferred
    refused(lambda: fourier.logit_power(flat), "logits")
    refused(lambda: fourier.key_frequencies(flat), "logits")


def test_zero_weights_have_no_energy_direction_or_distance():
    zero = torch.zeros(2, 14)
    refused(lambda: theory.energy(zero, SPLIT), "w")
    refused(lambda: theory.ascend_energy(zero, SPLIT, steps=1), "starts")
    refused(lambda: fourier.fourier_plane(torch.zeros(7, 3), 1), "embeddings")
    start = TwoLayerNet(7, 6, top_init_scale=0.0)
    refused(lambda: metrics.weight_distance(NET, start), "start")


nan_tensors = st.tuples(st.integers(0, 4), st.integers(0, 1), bad_floats)


@given(nan_tensors)
def test_nan_or_infinite_inputs_are_refused(spot):
    row, column, value = spot

    def spoiled(shape):
        t = torch.randn(*shape, generator=torch.Generator().manual_seed(3))
        t.view(-1)[row * shape[-1] + column] = value
        return t

    refused(lambda: metrics.effective_rank(spoiled((5, 3))), "matrix")
    refused(lambda: metrics.linear_cka(spoiled((5, 3)), torch.randn(5, 2)), "x")
    refused(lambda: metrics.circularity(spoiled((5, 2))), "points")
    refused(lambda: fourier.node_spectrum(spoiled((5, 14))), "network")
    refused(lambda: theory.energy(spoiled((5, 14)), SPLIT), "w")
    refused(lambda: theory.cosine(spoiled((5, 3)), torch.ones(5, 3)), "a")
    refused(lambda: fourier.fourier_plane(spoiled((7, 3)), 1), "embeddings")
    refused(lambda: fourier.logit_power(spoiled((7, 7, 7))), "logits")
    refused(lambda: fourier.variant_restricted_logits(spoiled((7, 7, 7)), [1]), "logits")


@given(st.integers(0, 2), st.sampled_from(["train_acc", "test_acc", "train_loss"]))
def test_histories_with_missing_values_are_refused(row, column):
    spoiled = HISTORY.copy()
    spoiled.loc[row, column] = math.nan
    refused(lambda: first_step_reaching(spoiled, column, 0.5), "history")


def test_empty_tables_are_refused():
    empty_history = HISTORY.iloc[:0]
    refused(lambda: first_step_reaching(empty_history, "test_acc", 0.5), "history")
    refused(lambda: histories(pd.DataFrame({"seed": [], "history": []})), "results")
    refused(lambda: histories(pd.DataFrame()), "results")
    refused(lambda: scaling.critical_n(pd.DataFrame(columns=["modulus", "n_train", "seed", "generalized_step"])), "results")
    refused(lambda: theory.stage_boundaries(pd.DataFrame({"step": [], "alignment": []})), "path")
    refused(lambda: forecast.fit("scaling law", RUNS.iloc[:0]), "runs")
    refused(lambda: forecast.predict(FITTED_LAW, RUNS.iloc[:0]), "runs")
    refused(lambda: plots.plot_accuracy_curves(HISTORY.assign(seed=0).iloc[:0], hue="seed", hue_label="seed"), "histories")
    refused(lambda: theory.census_of_maxima(7, [], starts=2, steps=1), "train_pairs")
    refused(lambda: forecast.boundary(FITTED_LAW, []), "moduli")


def test_empty_pair_sets_are_refused():
    none = torch.zeros(0, 2, dtype=torch.long)
    refused(lambda: metrics.accuracy(NET, none, torch.zeros(0, dtype=torch.long)), "pairs")
    refused(lambda: fourier.table_loss(LOGITS, none), "pairs")
    refused(lambda: fourier.frequencies_needed(TwoLayerNet(7, 4), none, torch.zeros(0, dtype=torch.long)), "pairs")
    refused(lambda: Split(7, SPLIT.train_pairs, SPLIT.train_labels, none, torch.zeros(0, dtype=torch.long)), "test_pairs")


@given(st.integers(3, 8), st.floats(-5, 5))
def test_a_constant_measure_cannot_judge_runs(n, value):
    outcome = [i % 2 == 0 for i in range(n + 2)]
    refused(lambda: forecast.held_out_calls([value] * (n + 2), outcome), "measure")


@given(st.sampled_from(["seed", "n_train", "lr"]))
def test_empty_or_string_grid_axes_are_refused(field):
    refused(lambda: grid(BASE, **{field: []}), field)
    refused(lambda: grid(BASE, **{field: "12"}), field)
    refused(lambda: grid(BASE, **{field: 3}), field)


# --- every other module: losses, train, sweep, tasks, fourier, forecast, results, plots, distributed ---------------


@given(st.one_of(st.integers(7, 50), st.integers(-50, -1)))
def test_losses_refuse_labels_outside_the_classes(bad):
    outputs = torch.randn(3, 7)
    labels = torch.tensor([0, 1, bad])
    for loss in losses.LOSSES.values():
        refused(lambda: loss(outputs, labels), "labels")
    refused(lambda: losses.centered_targets(labels, 7), "labels")


@given(st.sampled_from(["float", "int32", "shape", "length"]))
def test_losses_refuse_malformed_labels_and_outputs(kind):
    outputs = torch.randn(3, 7)
    labels = {
        "float": torch.zeros(3),
        "int32": torch.zeros(3, dtype=torch.int32),
        "shape": torch.zeros(3, 1, dtype=torch.long),
        "length": torch.zeros(4, dtype=torch.long),
    }[kind]
    for loss in (losses.mse, losses.cross_entropy, losses.multi_margin, losses.stablemax_cross_entropy, losses.alpha_weighted):
        refused(lambda: loss(outputs, labels), "labels")
        refused(lambda: loss(outputs.long(), torch.zeros(3, dtype=torch.long)), "outputs")


@given(st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)))
def test_training_refuses_bad_callbacks_progress_and_configs(value):
    refused(lambda: train_many([BASE], on_finish=value, progress=False), "on_finish")
    refused(lambda: train(BASE, progress=value), "progress")
    refused(lambda: sweep([BASE], progress=value), "progress")
    refused(lambda: train_transformer(TransformerConfig(modulus=7), progress=value), "progress")
    refused(lambda: train_many(value, progress=False), "configs")
    refused(lambda: sweep(value, progress=False), "configs")
    refused(lambda: ensemble_key(value), "config")
    refused(lambda: cache_key(value), "config")
    refused(lambda: with_hint(value, 0.5, 0), "split")
    if value != []:  # no chunks at all is fine: a sweep whose runs are all cached sends none
        refused(lambda: train_chunks_on_ray(value, [0]), "chunks")


def test_one_config_is_not_a_list_of_configs():
    refused(lambda: train_many(BASE, progress=False), "configs")
    refused(lambda: sweep(BASE, progress=False), "configs")


def test_results_and_summaries_refuse_wrong_types():
    refused(lambda: TrainResult(BASE, NET, SPLIT, "history"), "history")
    refused(lambda: TrainResult(BASE, "net", SPLIT, HISTORY), "model")
    result = TrainResult(BASE.replace(modulus=7, n_train=20), NET, SPLIT, HISTORY.assign(test_loss=1.0))
    refused(lambda: runs_table([result], test_level=1.5), "test_level")
    refused(lambda: runs_table(result), "results")
    refused(lambda: runs_table(["result"]), "results")
    refused(lambda: sweep([BASE], snapshot_every=0), "snapshot_every")
    refused(lambda: sweep([BASE], snapshot_every=10, backend="ray"), "snapshot_every")
    refused(lambda: RunCache(".").save("result"), "result")
    refused(lambda: train_chunks_on_ray([[BASE]], [0, 1]), "tags")


def test_division_labels_need_an_invertible_divisor():
    refused(lambda: ModularTask(6, "div").labels(torch.tensor([[1, 2]])), "pairs")
    assert ModularTask(6, "div").labels(torch.tensor([[1, 5]])).tolist() == [5]  # 1 · 5⁻¹ = 5 mod 6
    assert ModularTask(6, "div").size == ModularTask(6, "div").pairs().shape[0]


@given(st.lists(st.integers(1, 3), min_size=2, max_size=5).filter(lambda ks: len(set(ks)) < len(ks)))
def test_repeated_frequencies_are_refused(frequencies):
    refused(lambda: fourier.projector(7, frequencies), "frequencies")
    refused(lambda: fourier.fourier_network(7, frequencies), "frequencies")


@given(st.one_of(st.just(torch.ones(6, 1)), st.booleans(), st.integers()))
def test_masking_refuses_float_frequencies_and_non_bool_keep(value):
    if isinstance(value, torch.Tensor):
        refused(lambda: fourier.mask_node_frequencies(NET, value, keep=True), "frequencies")
    else:
        refused(lambda: fourier.mask_node_frequencies(NET, torch.ones(6, 1, dtype=torch.long), keep=str(value)), "keep")


@given(st.integers(2, 12).filter(lambda m: m % 2 == 0))
def test_the_fourier_view_needs_an_odd_modulus(modulus):
    refused(lambda: fourier.keep_node_frequencies(TwoLayerNet(modulus, 3), 1), "network")
    refused(lambda: fourier.frequencies_needed(TwoLayerNet(modulus, 3), SPLIT.train_pairs % 2, SPLIT.train_labels % 2), "network")
    refused(lambda: fourier.fourier_plane(torch.randn(modulus, 3), 1), "embeddings")


@given(st.one_of(st.integers(-5, 0), st.floats(max_value=0), bad_floats, st.text(max_size=3)))
def test_scaling_feature_refuses_impossible_runs(value):
    refused(lambda: scaling.scaling_feature(np.array([[23.0, value]], dtype=object)), "x")
    refused(lambda: scaling.scaling_feature(np.array([[23.0, 10.0, 1.0]])), "x")


def test_forecast_refuses_unfitted_models_and_bad_outcomes():
    refused(lambda: forecast.predict(forecast.classifier("scaling law"), RUNS), "model")
    refused(lambda: forecast.fitted_constant(forecast.classifier("scaling law")), "model")
    refused(lambda: forecast.fit("scaling law", RUNS.assign(generalized=[True, None, False, True, False, True])), "runs")
    refused(lambda: forecast.held_out_calls([1.0, 2.0, 3.0, 4.0], ["yes", "no", "yes", "no"]), "outcome")
    refused(lambda: forecast.cost_until_success([True, False], [1.0, math.nan], trials=2), "cost")
    refused(lambda: forecast.cost_until_success([True, False], [1.0, -1.0], trials=2), "cost")


@given(st.one_of(st.text(max_size=3), st.lists(st.integers(), max_size=2), st.just(math.inf), st.just(-math.inf)))
def test_whole_refuses_what_is_not_a_finite_number(value):
    refused(lambda: results.whole(value), "x")


def test_whole_keeps_never_reached_as_nan():
    assert math.isnan(results.whole(None)) and math.isnan(results.whole(math.nan)) and results.whole(12.0) == 12


@given(st.one_of(st.text(max_size=3), st.none(), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)))
def test_compare_refuses_malformed_references(entry):
    refused(lambda: results.compare({"a": 1.0}, {"a": entry}), "reference")
    refused(lambda: results.compare({"a": "one"}, {}), "values")
    refused(lambda: results.compare({"a": 1.0}, [entry]), "reference")


def test_plots_refuse_bad_axes_boundaries_and_hues():
    fig, axes = plt.subplots(2, 1)
    try:
        refused(lambda: plots.shade_stages(axes, (30, 10), 40), "boundaries")
        refused(lambda: plots.shade_stages(axes, (10, 30), 20), "boundaries")
        refused(lambda: plots.shade_stages(axes, (10.5, 30), 40), "boundaries")
        refused(lambda: plots.shade_stages([], (10, 30), 40), "axes")
        refused(lambda: plots.shade_stages(axes, (10, 30), -1), "last_step")
        plots.shade_stages(axes, (10, 30), 40)  # a numpy array of axes, as plt.subplots gives, is fine
        many = pd.concat([HISTORY.assign(seed=0, run=r) for r in range(len(plots.PALETTE) + 1)])
        refused(lambda: plots.plot_accuracy_curves(many, hue="run", hue_label="run"), "hue")
        refused(lambda: plots.plot_accuracy_curves(HISTORY.assign(seed=0), hue=3, hue_label="x"), "hue")
    finally:
        plt.close(fig)


FITTED_LAW = forecast.fit("scaling law", RUNS)


@given(st.integers(2, 6), st.sampled_from(["below", "above"]))
def test_prediction_tables_must_hold_answers(m, side):
    table = torch.zeros(m, m, dtype=torch.long)
    table[0, 1] = -1 if side == "below" else m
    refused(lambda: metrics.commutativity(table, torch.tensor([[0, 1]])), "table")
    refused(lambda: metrics.shift_equivariance(table), "table")
    refused(lambda: metrics.shift_equivariance(torch.zeros(1, 1, dtype=torch.long)), "table")


def test_theory_refuses_mismatched_inputs_and_results():
    hinted = with_hint(SPLIT, 0.5, 0)
    refused(lambda: theory.backprop_gradient(NET, hinted), "split")
    refused(lambda: theory.li2_direction(NET, hinted), "split")
    refused(lambda: theory.trajectory("result"), "result")
    refused(lambda: theory.stage_boundaries(pd.DataFrame({"step": [0, 1], "alignment": [0.1, math.nan]})), "path")
    refused(lambda: fourier.fourier_feature(7, 1, phases=(0.0, math.nan)), "phases")
    refused(lambda: theory.census_of_maxima(7, [0], starts=2, steps=1), "train_pairs")


@given(st.sampled_from(["train_labels", "test_labels"]), st.sampled_from(["short", "float", "range"]))
def test_splits_check_their_labels(part, kind):
    parts = {"train_pairs": SPLIT.train_pairs, "train_labels": SPLIT.train_labels, "test_pairs": SPLIT.test_pairs, "test_labels": SPLIT.test_labels}
    labels = parts[part]
    parts[part] = {"short": labels[:-1], "float": labels.float(), "range": labels + 7}[kind]
    refused(lambda: Split(7, **parts), part)


@given(st.sampled_from(["", "  ", 3, None]))
def test_loss_and_key_names_must_be_non_empty_strings(name):
    refused(lambda: losses.register_loss(name, losses.mse), "name")
    refused(lambda: KeyResults("chapter").glue(name, 1.0), "key")


@given(st.one_of(st.integers(), st.none(), st.just(("seed",))))
def test_histories_refuse_column_names_that_are_not_strings(column):
    table = pd.DataFrame({"seed": [0], "history": [HISTORY]})
    refused(lambda: histories(table, column), "column")
    refused(lambda: histories(table.assign(history=["not a frame"])), "history")
