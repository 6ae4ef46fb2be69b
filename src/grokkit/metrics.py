"""What is read off a training history or a representation: when a curve reaches a level or starts to
move, how far the weights moved, shares of runs with intervals, effective rank, representation similarity
(CKA), and the consistency of a prediction table under the symmetries of the task.

The Fourier view of a network is in :mod:`grokkit.fourier`, the data law in :mod:`grokkit.scaling`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
from scipy.stats import binomtest

from ._validate import (
    INT64_MAX,
    check_float,
    check_float_tensor,
    check_frame,
    check_int,
    check_labels,
    check_memory,
    check_nonzero,
    check_pairs,
    check_sequence,
)
from .fourier import distinct_frequencies, fourier_concentration, frequencies_needed, logit_table, node_description_size
from .models import TwoLayerNet
from .tasks import Split
from .train import TrainResult


def first_step_reaching(history: pd.DataFrame, column: str, threshold: float) -> int | None:
    """The first recorded step at which ``column`` ≥ ``threshold``, or ``None`` if it never does.

    With an evaluation interval of e steps the true crossing lies in the e steps before the result.
    An accuracy (a column named ``*acc``) or a true/false column is reached at a threshold in [0, 1].
    """
    if not isinstance(history, pd.DataFrame) or "step" not in history.columns:
        raise TypeError("history must be a pandas DataFrame with a 'step' column, as train() returns")
    allowed = sorted(str(c) for c in set(history.columns) - {"step"})
    if not isinstance(column, str) or column == "step" or column not in history.columns:
        raise ValueError(f"column must be one of {allowed}, got {column!r}")
    check_frame("history", history, what="one row per recorded step")
    values = history[column]
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        raise ValueError(f"column {column!r} of history must hold numbers, got dtype {values.dtype}")
    if values.isna().any() or history["step"].isna().any():
        raise ValueError(f"history must not have missing (NaN) values in 'step' or {column!r}")
    if pd.api.types.is_bool_dtype(values) or column.endswith("acc"):
        threshold = check_float("threshold", threshold, minimum=0, maximum=1)
    else:
        threshold = check_float("threshold", threshold)
    reached = history.loc[history[column] >= threshold, "step"]
    return None if reached.empty else int(reached.iloc[0])


def weight_distance(model: TwoLayerNet, start: TwoLayerNet) -> dict[str, float]:
    """How far each layer has moved from ``start``, relative to its size there: ‖W − W₀‖/‖W₀‖, same for V."""
    for name, net in (("model", model), ("start", start)):
        if not isinstance(net, TwoLayerNet):
            raise TypeError(f"{name} must be a TwoLayerNet, got {type(net).__name__}")
    if (model.modulus, model.hidden, model.inputs) != (start.modulus, start.hidden, start.inputs):
        raise ValueError(
            "model and start differ in shape (modulus, hidden, inputs): "
            f"{(model.modulus, model.hidden, model.inputs)} vs {(start.modulus, start.hidden, start.inputs)}"
        )
    with torch.no_grad():
        for layer in ("W", "V"):
            check_float_tensor(f"model.{layer}", getattr(model, layer))
            check_nonzero(f"start.{layer}", check_float_tensor(f"start.{layer}", getattr(start, layer)), "the distance relative to it")
        return {layer: float((getattr(model, layer) - getattr(start, layer)).norm() / getattr(start, layer).norm()) for layer in ("W", "V")}


def shares(table: pd.DataFrame, by: str | list[str], outcome: str, *, level: float = 0.95) -> pd.DataFrame:
    """Per group of ``by``, the share of runs whose true/false column ``outcome`` is true, with a Wilson
    score interval at ``level``: a share of seeds is a binomial proportion, and a few seeds leave it wide.
    Columns: ``by``, ``runs``, ``successes``, ``share``, ``low``, ``high``."""
    keys = [by] if isinstance(by, str) else list(by)
    check_frame("table", table, [*keys, outcome])
    if not table[outcome].isin([True, False]).all():
        raise ValueError(f"table[{outcome!r}] must hold only True and False, got {sorted(map(str, table[outcome].unique()))[:5]}")
    level = check_float("level", level, minimum=0, maximum=1, open_min=True, open_max=True)
    rows = []
    for group, runs in table.groupby(keys):
        k, n = int(runs[outcome].sum()), len(runs)
        interval = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        rows.append(
            {
                **dict(zip(keys, group, strict=True)),
                "runs": n,
                "successes": k,
                "share": k / n,
                "low": float(interval.low),
                "high": float(interval.high),
            }
        )
    return pd.DataFrame(rows)


def shares_at_least(table: pd.DataFrame, by: str | list[str], column: str, thresholds: Sequence[float], *, level: float = 0.95) -> pd.DataFrame:
    """:func:`shares` of the runs whose ``column`` is at least each of ``thresholds`` (say a final test
    accuracy of at least 50, 90 and 99 %), one block per threshold in that order, the threshold in the
    column ``at_least``."""
    if not isinstance(column, str):
        raise TypeError(f"column must be a column name (str), got {type(column).__name__} {column!r}")
    check_frame("table", table, [column], what="one row per run")
    thresholds = check_sequence("thresholds", thresholds, what="numbers to reach")
    for threshold in thresholds:
        check_float("thresholds", threshold)
    if not pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column]):
        raise ValueError(f"table[{column!r}] must hold numbers to compare with the thresholds, got {table[column].dtype}")
    reached = "_reached"
    return pd.concat(
        [shares(table.assign(**{reached: table[column] >= t}), by, reached, level=level).assign(at_least=t) for t in thresholds], ignore_index=True
    )


def best_setting(table: pd.DataFrame, by: str | list[str], setting: str, outcome: str) -> pd.Series:
    """Per group of ``by``, the value of ``setting`` whose runs have the smallest median ``outcome`` (the
    median over the runs, say seeds, of each setting; smaller is better, as for steps to a level). A missing
    outcome (never reached) counts as +inf; a tie goes to the smallest setting. Returns a Series indexed
    by ``by`` and named ``setting``, ready for ``table[by].map(...)`` to pick each group's runs at its best."""
    keys = [by] if isinstance(by, str) else by
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise TypeError(f"by must be a column name or a non-empty list of them, got {by!r}")
    for name, value in (("setting", setting), ("outcome", outcome)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a column name (str), got {type(value).__name__} {value!r}")
    if setting in keys or outcome in (*keys, setting):
        raise ValueError(f"by, setting and outcome must be different columns, got by={by!r}, setting={setting!r}, outcome={outcome!r}")
    check_frame("table", table, [*keys, setting, outcome], what="one row per run")
    try:
        values = pd.to_numeric(table[outcome]).astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"table[{outcome!r}] must hold numbers (or missing values), got {table[outcome].dtype}") from None
    if values.isin([-math.inf]).any():
        raise ValueError(f"table[{outcome!r}] must not hold -inf, which would win every comparison")
    medians = table.assign(**{outcome: values.fillna(math.inf)}).groupby([*keys, setting])[outcome].median()
    best = medians.groupby(level=list(range(len(keys)))).idxmin().map(lambda index: index[-1])
    return best.rename(setting)


def effective_rank(matrix: torch.Tensor) -> float:
    """exp of the entropy of the normalized singular values (Roy & Vetterli 2007): how many directions
    the matrix really uses; between 1 and min(shape)."""
    if not isinstance(matrix, torch.Tensor) or matrix.dim() != 2 or not matrix.dtype.is_floating_point:
        raise TypeError("matrix must be a 2-D float tensor")
    check_nonzero("matrix", check_float_tensor("matrix", matrix, dim=2), "its effective rank")
    s = torch.linalg.svdvals(matrix.detach().double())
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear centered kernel alignment (Kornblith et al. 2019) of two representations of the same inputs,
    ``(n, d₁)`` and ``(n, d₂)``: 1 when one is a rotation and scaling of the other, near 0 when unrelated."""
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or not t.dtype.is_floating_point:
            raise TypeError(f"{name} must be a 2-D float tensor (inputs × features)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must describe the same inputs, got {x.shape[0]} and {y.shape[0]} rows")
    centered = []
    for name, t in (("x", x), ("y", y)):
        t = check_float_tensor(name, t, dim=2).detach().double()
        t = t - t.mean(dim=0)
        if not bool(t.ne(0).any()):
            raise ValueError(f"{name} is the same for every input (all zero after centering), so its CKA is undefined; pass features that vary")
        centered.append(t)
    x, y = centered
    cross = (y.t() @ x).pow(2).sum()
    return float(cross / ((x.t() @ x).norm() * (y.t() @ y).norm()))


def all_pair_features(network: TwoLayerNet) -> torch.Tensor:
    """The hidden representation F = σ(W x) of every pair of Z_M × Z_M, ``(M², K)``, rows in the
    row-major order of (a, b) (as :meth:`grokkit.ModularTask.pairs`), computed without gradients: the
    inputs on which two networks' representations are compared (:func:`linear_cka`)."""
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network must be a TwoLayerNet, got {type(network).__name__}")
    if network.inputs != 2:
        raise ValueError(f"network must take pairs (a, b) (inputs=2), got inputs={network.inputs}")
    m = network.modulus
    check_memory(f"modulus={m} and hidden={network.hidden} ({m}² pairs × {network.hidden} features)", 4 * m * m * network.hidden + 16 * m * m)
    with torch.no_grad():
        return network.features(_all_pairs(m))


def _all_pairs(m: int) -> torch.Tensor:
    """Every pair of Z_M × Z_M, ``(M², 2)``, in the row-major order of (a, b)."""
    return torch.stack([torch.arange(m).repeat_interleave(m), torch.arange(m).repeat(m)], dim=1)


def all_pair_accuracy(model: torch.nn.Module, modulus: int) -> float:
    """:func:`accuracy` on every pair of Z_M × Z_M with labels (a + b) mod M: whether a model has the
    whole addition table, seen and unseen pairs alike."""
    modulus = check_int("modulus", modulus, minimum=2)
    if getattr(model, "modulus", modulus) != modulus:
        raise ValueError(f"modulus must be the model's modulus {model.modulus}, got {modulus}")
    check_memory(f"modulus={modulus} ({modulus}² pairs × {modulus} outputs)", 4 * modulus**3 + 48 * modulus**2)
    pairs = _all_pairs(modulus)
    return accuracy(model, pairs, pairs.sum(dim=1) % modulus)


def symmetry_consistency(model: torch.nn.Module, modulus: int, train_pairs: torch.Tensor) -> dict[str, float]:
    """The model's :func:`commutativity` (on ``train_pairs`` whose swap was not trained on) and
    :func:`shift_equivariance`, read off its :func:`prediction_table`: keys ``"commutativity"`` and
    ``"shift equivariance"``."""
    table = prediction_table(model, modulus)
    return {"commutativity": commutativity(table, train_pairs), "shift equivariance": shift_equivariance(table)}


def accuracy(model: torch.nn.Module, pairs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of ``pairs`` whose largest output is the label, for any model that maps pairs to outputs."""
    if not callable(model):
        raise TypeError(f"model must be a torch.nn.Module that maps pairs to outputs, got {type(model).__name__}")
    modulus = getattr(model, "modulus", None)
    pairs = check_pairs("pairs", pairs, modulus if isinstance(modulus, int) else INT64_MAX, getattr(model, "inputs", 2))
    if pairs.shape[0] == 0:
        raise ValueError("pairs must hold at least one pair, so that accuracy is defined")
    with torch.no_grad():
        outputs = model(pairs)
    labels = check_labels("labels", labels, outputs.shape[1], pairs.shape[0])
    return float((outputs.argmax(dim=1) == labels).float().mean())


def prediction_table(model: torch.nn.Module, modulus: int) -> torch.Tensor:
    """The model's answer for every pair as an ``(M, M)`` table: entry [a, b] is its prediction for (a, b)."""
    return logit_table(model, modulus).argmax(dim=-1)


def _check_table(table: torch.Tensor) -> int:
    if not isinstance(table, torch.Tensor) or table.dim() != 2 or table.shape[0] != table.shape[1] or table.dtype.is_floating_point:
        raise TypeError("table must be an (M, M) integer tensor from prediction_table")
    m = table.shape[0]
    if m < 2:
        raise ValueError(f"table must be (M, M) with M >= 2, got {tuple(table.shape)}")
    if int(table.min()) < 0 or int(table.max()) >= m:
        raise ValueError(f"table entries must be answers in [0, {m - 1}], got values from {int(table.min())} to {int(table.max())}")
    return m


def commutativity(table: torch.Tensor, train_pairs: torch.Tensor) -> float:
    """Share of pairs (a, b) whose swap (b, a) was not trained on, although (a, b) was, where the model
    gives the same answer to both: f(b, a) = f(a, b) is the same question in other words."""
    m = _check_table(table)
    trained = torch.zeros(m, m, dtype=torch.bool)
    trained[check_pairs("train_pairs", train_pairs, m).unbind(dim=1)] = True
    one_order = trained & ~trained.t()
    if not one_order.any():
        raise ValueError("no training pair has its swap missing from training, so commutativity cannot be tested")
    return float((table == table.t())[one_order].float().mean())


def shift_equivariance(table: torch.Tensor) -> float:
    """Share of triples (a, b, k) with f(a + k, b) = f(a, b) + k (mod M), over all a, b and k ≠ 0: moving
    the first argument by k should move the answer by k."""
    m = _check_table(table)
    check_memory(f"table of size {m} ({m}³ shifted entries)", 17 * m**3)
    shifted = torch.stack([table.roll(-k, dims=0) for k in range(1, m)])  # [k-1, a, b] = f(a + k, b)
    expected = (table.unsqueeze(0) + torch.arange(1, m).view(-1, 1, 1)) % m
    return float((shifted == expected).float().mean())


def circularity(points: torch.Tensor) -> float:
    """Spread of 2-D points' distances from their center, std / mean: 0 for points on a circle, about
    0.5 for a Gaussian cloud."""
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] != 2 or not points.dtype.is_floating_point:
        raise TypeError("points must be an (n, 2) float tensor")
    check_float_tensor("points", points, dim=2, shape="(n, 2)")
    if points.shape[0] < 3:
        raise ValueError(f"points must hold at least 3 points to say whether they lie on a circle, got {points.shape[0]}")
    points = points.detach().double()  # centered in double, so that equal points give exactly zero
    radius = (points - points.mean(dim=0)).norm(dim=1)
    if not bool(radius.ne(0).any()):
        raise ValueError("points all coincide, so their spread around a circle is undefined")
    return float(radius.std() / radius.mean())


def first_step_moving(frame: pd.DataFrame, column: str, fraction: float = 0.1) -> int:
    """The first recorded step at which ``column`` has covered ``fraction`` of its way from its first to
    its last value (downwards if it ends lower, upwards if it ends higher).

    A threshold relative to each curve's own range lets curves in different units (a loss, an accuracy)
    be compared on when they *start to move*; an absolute threshold would favor whichever curve has the
    larger scale.
    """
    frame = check_frame("frame", frame, ["step"], what="one row per recorded step")
    if not isinstance(column, str) or column == "step" or column not in frame.columns:
        raise ValueError(f"column must be one of {sorted(str(c) for c in frame.columns if c != 'step')}, got {column!r}")
    fraction = check_float("fraction", fraction, minimum=0, maximum=1)
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise ValueError(f"column {column!r} of frame must hold numbers, got dtype {values.dtype}")
    if values.isna().any() or frame["step"].isna().any() or not bool(values.map(math.isfinite).all()):
        raise ValueError(f"frame must not have missing or infinite values in 'step' or {column!r}")
    ordered = frame.sort_values("step")
    start, end = float(ordered[column].iloc[0]), float(ordered[column].iloc[-1])
    if start == end:
        raise ValueError(f"frame column {column!r} ends where it starts ({start}), so it has no way to cover")
    level = start + fraction * (end - start)
    hit = ordered[column] <= level if end < start else ordered[column] >= level
    return int(ordered.loc[hit, "step"].iloc[0])


def first_step_below(history: pd.DataFrame, column: str, fraction: float) -> int | None:
    """The first recorded step at which ``column`` is at most ``fraction`` of its first recorded value
    (a loss that has fallen to 3 % of where it started: ``fraction=0.03``), or ``None`` if it never is."""
    history = check_frame("history", history, ["step"], what="one row per recorded step")
    if not isinstance(column, str) or column == "step" or column not in history.columns:
        raise ValueError(f"column must be one of {sorted(str(c) for c in history.columns if c != 'step')}, got {column!r}")
    fraction = check_float("fraction", fraction, minimum=0)
    values = history[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise ValueError(f"column {column!r} of history must hold numbers, got dtype {values.dtype}")
    if values.isna().any() or history["step"].isna().any():
        raise ValueError(f"history must not have missing (NaN) values in 'step' or {column!r}")
    ordered = history.sort_values("step")
    reached = ordered.loc[ordered[column] <= fraction * ordered[column].iloc[0], "step"]
    return None if reached.empty else int(reached.iloc[0])


def representation_summary(results: Sequence[TrainResult], *, level: float = 0.99) -> pd.DataFrame:
    """How compressed each run's final network is, one row per run in order (to join with
    :func:`grokkit.runs_table`).

    Columns: ``concentration`` (median :func:`~grokkit.fourier.fourier_concentration` of the hidden
    nodes), ``distinct_frequencies``, ``squared_norm`` (‖W‖² + ‖V‖²), ``effective_rank`` (of W),
    ``frequencies_needed`` (the fewest frequencies per node that still answer ``level`` of the training
    pairs, missing if none do; :func:`~grokkit.fourier.frequencies_needed`) and ``description_size``
    (the real numbers of that description; :func:`~grokkit.fourier.node_description_size`).
    """
    if isinstance(results, TrainResult) or not isinstance(results, Sequence):
        raise TypeError(f"results must be a list of TrainResult, got {type(results).__name__}")
    bad = [i for i, r in enumerate(results) if not isinstance(r, TrainResult)]
    if bad:
        raise TypeError(f"results must hold only TrainResult; items {bad[:5]} are not")
    level = check_float("level", level, minimum=0, maximum=1)
    rows = []
    for result in results:
        net, split = result.model, result.split
        needed = frequencies_needed(net, split.train_pairs, split.train_labels, level)
        rows.append(
            {
                "concentration": float(fourier_concentration(net).median()),
                "distinct_frequencies": distinct_frequencies(net),
                "squared_norm": float(net.W.detach().norm() ** 2 + net.V.detach().norm() ** 2),
                "effective_rank": effective_rank(net.W.detach()),
                "frequencies_needed": needed,
                "description_size": None if needed is None else node_description_size(net, needed),
            }
        )
    return pd.DataFrame(
        rows, columns=["concentration", "distinct_frequencies", "squared_norm", "effective_rank", "frequencies_needed", "description_size"]
    )


def input_shares(network: TwoLayerNet) -> list[float]:
    """The share of the hidden layer's squared weights on each input token: a, b (and the hint, if the
    network has one). A network that ignores an input has (almost) no weight on it; they sum to 1."""
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network must be a TwoLayerNet, got {type(network).__name__}")
    weights = check_nonzero("network.W", check_float_tensor("network.W", network.W.detach(), dim=2), "the shares of its power")
    power = [float(block.pow(2).sum()) for block in weights.split(network.modulus, dim=1)]
    total = sum(power)
    return [p / total for p in power]


def honest_hint_accuracy(network: TwoLayerNet, split: Split) -> float:
    """Test accuracy of a network trained with a hint (``TrainConfig(hint=…)``) when every test pair's hint
    is set to its label: near 1 if the network reads its answer off the hint, its plain test accuracy if
    it ignores the hint."""
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network must be a TwoLayerNet, got {type(network).__name__}")
    if not isinstance(split, Split):
        raise TypeError(f"split must be a Split, got {type(split).__name__}")
    if network.inputs != 3 or split.test_pairs.shape[1] != 3:
        raise ValueError(
            f"network and split must carry a hint (3 inputs); got network inputs={network.inputs} and "
            f"split pairs of width {split.test_pairs.shape[1]}"
        )
    honest = split.test_pairs.clone()
    honest[:, 2] = split.test_labels
    return accuracy(network, honest, split.test_labels)


def cka_pairs(trained: Mapping[tuple[object, int], torch.Tensor], initial: Mapping[int, torch.Tensor]) -> pd.DataFrame:
    """Linear CKA like for like between networks trained under several conditions (losses, optimizers, …)
    from several seeds (a seed fixes the initial weights and the training pairs), one row per pair.

    ``trained[(condition, seed)]`` is the representation of a trained network (as :func:`all_pair_features`
    gives it), for every condition and every seed of ``initial``; ``initial[seed]`` is that of the
    untrained network of the seed. Columns: ``seeds`` ("s-t"), ``x`` and ``y`` (the conditions; missing
    for untrained pairs), ``kind`` and ``cka``. For each pair of seeds s < t: ``"initial"`` (the untrained
    networks), then every x at s against every y at t, ``"same"`` if x = y, else ``"different"``. Then,
    for contrast, ``"same seed"``: two different conditions from one seed, which share their start.
    """
    for name, value in (("trained", trained), ("initial", initial)):
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    if any(not isinstance(key, tuple) or len(key) != 2 for key in trained):
        raise TypeError("trained must be keyed by (condition, seed) pairs")
    seeds = list(initial)
    if len(seeds) < 2:
        raise ValueError(f"initial must hold the untrained networks of at least 2 seeds, got {len(seeds)}")
    conditions = list(dict.fromkeys(condition for condition, _ in trained))
    missing = [(c, s) for c in conditions for s in seeds if (c, s) not in trained]
    extra = sorted({str(s) for _, s in trained if s not in initial})
    if missing or extra:
        raise ValueError(
            f"trained must hold every (condition, seed) of conditions {conditions} and the seeds of initial "
            f"{seeds}; missing {missing[:5]}, seeds without an initial network {extra[:5]}"
        )
    rows: list[dict[str, object]] = []
    for s, t in itertools.combinations(seeds, 2):
        rows.append({"seeds": f"{s}-{t}", "x": None, "y": None, "kind": "initial", "cka": linear_cka(initial[s], initial[t])})
        for x, y in itertools.product(conditions, conditions):
            rows.append(
                {"seeds": f"{s}-{t}", "x": x, "y": y, "kind": "same" if x == y else "different", "cka": linear_cka(trained[(x, s)], trained[(y, t)])}
            )
    for seed in seeds:
        for x, y in itertools.combinations(conditions, 2):
            rows.append({"seeds": f"{seed}-{seed}", "x": x, "y": y, "kind": "same seed", "cka": linear_cka(trained[(x, seed)], trained[(y, seed)])})
    return pd.DataFrame(rows)


def mean_cka(pairs: pd.DataFrame, x: object, y: object) -> float:
    """Mean CKA of condition ``x`` at one seed against ``y`` at another, both ways round, over the pairs
    of different seeds of a :func:`cka_pairs` table."""
    pairs = check_frame("pairs", pairs, ["x", "y", "kind", "cka"], what="a table from cka_pairs")
    conditions = set(pairs["x"].dropna()) | set(pairs["y"].dropna())
    for name, value in (("x", x), ("y", y)):
        if value not in conditions:
            raise ValueError(f"{name} must be one of the conditions {sorted(map(str, conditions))}, got {value!r}")
    across = pairs[pairs["kind"].isin(["same", "different"])]
    chosen = across[((across["x"] == x) & (across["y"] == y)) | ((across["x"] == y) & (across["y"] == x))]
    if chosen.empty:
        raise ValueError(f"pairs holds no pair of {x!r} and {y!r} from different seeds")
    return float(chosen["cka"].mean())


def _check_results(results: object) -> list[TrainResult]:
    """``results`` as a list, if it is a non-empty list of TrainResult."""
    if isinstance(results, TrainResult) or not isinstance(results, Sequence):
        raise TypeError(f"results must be a list of TrainResult, got {type(results).__name__}")
    bad = [i for i, r in enumerate(results) if not isinstance(r, TrainResult)]
    if bad:
        raise TypeError(f"results must hold only TrainResult; items {bad[:5]} are not")
    if not results:
        raise ValueError("results must hold at least one TrainResult")
    return list(results)


def cka_pairs_of_runs(results: Sequence[TrainResult], condition: str) -> pd.DataFrame:
    """:func:`cka_pairs` of trained runs, one run per value of the config field ``condition`` (``"loss"``,
    ``"optimizer"``, …) and seed, on their final hidden representations (:func:`all_pair_features`).

    The untrained network of a seed is the step-0 snapshot of its first run (train with ``snapshot_every``);
    the initial weights depend only on the seed, so any run of that seed would give the same one.
    """
    results = _check_results(results)
    fields = list(results[0].config.to_dict())
    if not isinstance(condition, str) or condition not in fields or condition == "seed":
        raise ValueError(f"condition must name a TrainConfig field other than 'seed' (one of {fields}), got {condition!r}")
    trained: dict[tuple[object, int], torch.Tensor] = {}
    initial: dict[int, torch.Tensor] = {}
    for result in results:
        key = (getattr(result.config, condition), result.config.seed)
        if key in trained:
            raise ValueError(f"results must hold one run per ({condition}, seed); {key} appears twice")
        if 0 not in result.snapshots:
            raise ValueError(f"every run needs its step-0 snapshot (train with snapshot_every); run {key} has steps {sorted(result.snapshots)}")
        trained[key] = all_pair_features(result.model)
        if result.config.seed not in initial:
            initial[result.config.seed] = all_pair_features(result.snapshots[0])
    return cka_pairs(trained, initial)


def shortcut_use(results: Sequence[TrainResult]) -> pd.DataFrame:
    """How much each run trained with a hint (``TrainConfig(hint=…)``) reads its answer off the hint, one
    row per run in order (to join with :func:`grokkit.runs_table`); a run without a hint is refused.

    Columns: ``honest_hint_acc`` (test accuracy when every test hint is the label,
    :func:`honest_hint_accuracy`), ``hint_share`` (the hint's share of the hidden layer's squared weights,
    :func:`input_shares`) and ``concentration`` (median :func:`~grokkit.fourier.fourier_concentration` of
    the hidden nodes: high when the network computes the sum with Fourier features instead).
    """
    rows = [
        {
            "honest_hint_acc": honest_hint_accuracy(result.model, result.split),
            "hint_share": input_shares(result.model)[2],
            "concentration": float(fourier_concentration(result.model).median()),
        }
        for result in _check_results(results)
    ]
    return pd.DataFrame(rows, columns=["honest_hint_acc", "hint_share", "concentration"])


def cka_over_training(results: Sequence[TrainResult], condition: str) -> pd.DataFrame:
    """Linear CKA between the hidden representations (:func:`all_pair_features`) of every two seeds' runs
    that share the value of the config field ``condition`` (``"n_train"``, ``"loss"``, …), at every snapshot
    step they all kept (train with ``snapshot_every``): do different seeds find the same representation?

    One row per value of ``condition`` (in order of appearance), step and pair of seeds s < t (in the order
    of the seeds' appearance): columns ``condition``, ``step``, ``seeds`` ("s-t") and ``cka``.
    """
    results = _check_results(results)
    fields = list(results[0].config.to_dict())
    if not isinstance(condition, str) or condition not in fields or condition == "seed":
        raise ValueError(f"condition must name a TrainConfig field other than 'seed' (one of {fields}), got {condition!r}")
    groups: dict[object, dict[int, TrainResult]] = {}
    for result in results:
        value = getattr(result.config, condition)
        group = groups.setdefault(value, {})
        if result.config.seed in group:
            raise ValueError(f"results must hold one run per ({condition}, seed); {condition}={value!r} repeats seed {result.config.seed}")
        group[result.config.seed] = result
    rows = []
    for value, by_seed in groups.items():
        if len(by_seed) < 2:
            raise ValueError(f"every {condition} needs runs from at least 2 seeds; {condition}={value!r} has {len(by_seed)}")
        steps = sorted(set.intersection(*(set(run.snapshots) for run in by_seed.values())))
        if not steps:
            raise ValueError(f"the runs of {condition}={value!r} share no snapshot step; train them with snapshot_every")
        for step in steps:
            features = {seed: all_pair_features(run.snapshots[step]) for seed, run in by_seed.items()}
            rows += [
                {condition: value, "step": step, "seeds": f"{s}-{t}", "cka": linear_cka(features[s], features[t])}
                for s, t in itertools.combinations(by_seed, 2)
            ]
    return pd.DataFrame(rows, columns=[condition, "step", "seeds", "cka"])


PROGRESS_COLUMNS = ("step", "restricted loss", "variant restricted loss", "test_acc", "excluded loss")


def progress_milestones(progress: pd.DataFrame, fraction: float = 0.1) -> dict[str, int]:
    """When the hidden progress shows in a table of :func:`grokkit.fourier.run_progress_measures`, in this
    order: ``restricted_moves``, ``variant_moves`` and ``test_moves``, the first steps at which the restricted
    loss, its a+b−c variant and test accuracy have covered ``fraction`` of their way
    (:func:`first_step_moving`), and ``excluded_low_step``, where the excluded loss is lowest and turns."""
    progress = check_frame("progress", progress, PROGRESS_COLUMNS, what="a table from run_progress_measures")
    excluded = progress.set_index("step")["excluded loss"]
    if excluded.isna().any():
        raise ValueError("progress must not have missing (NaN) values in 'excluded loss'")
    return {
        "restricted_moves": first_step_moving(progress, "restricted loss", fraction),
        "variant_moves": first_step_moving(progress, "variant restricted loss", fraction),
        "test_moves": first_step_moving(progress, "test_acc", fraction),
        "excluded_low_step": int(excluded.idxmin()),
    }


def consistency_over_training(result: TrainResult) -> pd.DataFrame:
    """:func:`symmetry_consistency` of every snapshot of a run (a :class:`grokkit.TrainResult` trained with
    ``snapshot_every``), on the run's own training pairs, with its test accuracy at that step: one row per
    snapshot in step order, columns ``step``, ``commutativity``, ``shift equivariance`` and ``test_acc``."""
    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    if not result.snapshots:
        raise ValueError("result has no snapshots; train it with snapshot_every=k to keep copies of the network")
    rows = [
        {"step": step, **symmetry_consistency(network, result.config.modulus, result.split.train_pairs)}
        for step, network in sorted(result.snapshots.items())
    ]
    return pd.DataFrame(rows).merge(result.history[["step", "test_acc"]], on="step")
