"""The Fourier view of modular addition: which frequencies a network uses, and what is left without them.

Spectra of the hidden nodes (:func:`node_spectrum`, :func:`fourier_concentration`, :data:`FOURIER_NODE`),
key frequencies of the logits, projections on frequencies, pruning, Nanda et al.'s progress measures,
single Fourier features and the hand-built Fourier network.

A real function on Z_M (M odd) is a constant plus, for each frequency k = 1 … (M − 1)/2, a cosine and
a sine of angle 2πk·x/M. A network that has grokked (a + b) mod M computes its answer from a few such
frequencies (Nanda et al. 2023); these tools find them, keep or remove them, build the algorithm by
hand, and track its formation during training with Nanda et al.'s progress measures (restricted and
excluded loss, exactly as they define and evaluate them) beside an a + b − c variant of our own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import pandas as pd
import torch

from ._validate import (
    check_bool,
    check_choice,
    check_float,
    check_float_tensor,
    check_int,
    check_labels,
    check_memory,
    check_pairs,
)
from .losses import LOSSES
from .models import TwoLayerNet


def _check_frequencies(frequencies: Sequence[int], modulus: int, name: str = "frequencies") -> list[int]:
    if isinstance(frequencies, (str, bytes)) or not isinstance(frequencies, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {type(frequencies).__name__}")
    top = (modulus - 1) // 2
    ks = [
        check_int(
            f"{name} entry", int(k) if isinstance(k, torch.Tensor) and k.numel() == 1 and not k.dtype.is_floating_point else k, minimum=1, maximum=top
        )
        for k in frequencies
    ]
    repeated = sorted({k for k in ks if ks.count(k) > 1})
    if repeated:
        raise ValueError(f"{name} must list each frequency once, got {repeated} more than once")
    return ks


def _check_network(network: object) -> TwoLayerNet:
    """``network`` if it is a TwoLayerNet whose modulus is odd, as the Fourier view needs."""
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network must be a TwoLayerNet, got {type(network).__name__}")
    if network.modulus < 3 or network.modulus % 2 == 0:
        raise ValueError(f"network must be for an odd modulus >= 3 (every frequency has a cosine and a sine), got modulus {network.modulus}")
    return network


def fourier_basis(modulus: int) -> torch.Tensor:
    """Orthonormal rows: the constant, then cos and sin of 2πk·x/M for k = 1 … (M − 1)/2; shape ``(M, M)``."""
    m = check_int("modulus", modulus, minimum=3)
    if m % 2 == 0:
        raise ValueError(f"modulus must be odd so that every frequency has a cosine and a sine, got {m}")
    check_memory(f"modulus={m} (an {m} × {m} basis)", 24 * m * m)
    return _basis64(m).to(torch.get_default_dtype())


def _basis64(m: int) -> torch.Tensor:
    """:func:`fourier_basis` in double precision (``m`` already checked)."""
    x = torch.arange(m, dtype=torch.float64)
    rows = [torch.ones(m, dtype=torch.float64)]
    for k in range(1, (m + 1) // 2):
        rows += [torch.cos(2 * math.pi * k * x / m), torch.sin(2 * math.pi * k * x / m)]
    basis = torch.stack(rows)
    return basis / basis.norm(dim=1, keepdim=True)


def projector(modulus: int, frequencies: Sequence[int], *, constant: bool = True) -> torch.Tensor:
    """The ``(M, M)`` orthogonal projection onto the listed frequencies (and the constant, if asked)."""
    return _projector64(modulus, frequencies, constant).to(torch.get_default_dtype())


def _projector64(modulus: int, frequencies: Sequence[int], constant: bool) -> torch.Tensor:
    """:func:`projector` computed and returned in double precision, so that double logits stay exact."""
    fourier_basis(modulus)  # validates the modulus
    basis = _basis64(modulus)
    rows = ([0] if constant else []) + [r for k in _check_frequencies(frequencies, modulus) for r in (2 * k - 1, 2 * k)]
    kept = basis[rows]
    return kept.t() @ kept


def strongest_node_frequencies(network: TwoLayerNet, per_node: int) -> torch.Tensor:
    """Each hidden node's ``per_node`` strongest non-constant frequencies, strongest first, ``(K, per_node)``."""
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network must be a TwoLayerNet, got {type(network).__name__}")
    per_node = check_int("per_node", per_node, minimum=0, maximum=(network.modulus - 1) // 2)
    return node_spectrum(network)[:, 1:].argsort(dim=1, descending=True)[:, :per_node] + 1


def keep_node_frequencies(network: TwoLayerNet, per_node: int) -> TwoLayerNet:
    """A copy of ``network`` in which each hidden node keeps only its ``per_node`` strongest frequencies
    (ranked by :func:`grokkit.metrics.node_spectrum`) and the constant, on a, on b and to the outputs."""
    return mask_node_frequencies(_check_network(network), strongest_node_frequencies(network, per_node), keep=True)


def mask_node_frequencies(network: TwoLayerNet, frequencies: torch.Tensor, *, keep: bool) -> TwoLayerNet:
    """A copy of ``network`` in which node j keeps (``keep=True``, plus the constant) or loses
    (``keep=False``) the frequencies in row j of ``frequencies`` ``(K, r)``, in all three weight vectors."""
    m, top = _check_network(network).modulus, (network.modulus - 1) // 2
    keep = check_bool("keep", keep)
    if (
        not isinstance(frequencies, torch.Tensor)
        or frequencies.dim() != 2
        or frequencies.shape[0] != network.hidden
        or frequencies.dtype.is_floating_point
        or frequencies.dtype.is_complex
        or frequencies.dtype == torch.bool
    ):
        raise ValueError(f"frequencies must be a ({network.hidden}, r) integer tensor, one row per node")
    if frequencies.numel() and (int(frequencies.min()) < 1 or int(frequencies.max()) > top):
        raise ValueError(f"frequencies must be between 1 and {top}")
    basis = fourier_basis(m)
    frequency_of_row = torch.arange(m).add(1).div(2, rounding_mode="floor")  # basis row → its frequency
    chosen = (frequency_of_row.view(1, 1, m) == frequencies.unsqueeze(-1)).any(dim=1).float()  # (K, M)
    mask = chosen if keep else 1.0 - chosen
    if keep:
        mask[:, 0] = 1.0
    pruned = TwoLayerNet(m, network.hidden, network.activation, inputs=network.inputs)
    with torch.no_grad():
        masked = lambda rows: ((rows @ basis.t()) * mask) @ basis  # noqa: E731 - per-node rows (K, M)
        pruned.W.copy_(torch.cat([masked(block) for block in network.W.detach().split(m, dim=1)], dim=1))
        pruned.V.copy_(masked(network.V.detach().t()).t())
    return pruned


def node_description_size(network: TwoLayerNet, per_node: int) -> int:
    """Real numbers that describe ``keep_node_frequencies(network, per_node)``: per node, one constant per
    weight vector (on a, on b, to the outputs) and, per kept frequency, its index and a cosine and a sine
    on each of them."""
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network must be a TwoLayerNet, got {type(network).__name__}")
    vectors = network.inputs + 1
    return network.hidden * (vectors + (1 + 2 * vectors) * check_int("per_node", per_node, minimum=0))


def logit_table(model: torch.nn.Module, modulus: int) -> torch.Tensor:
    """The model's outputs for every pair, ``(M, M, M)``: entry [a, b, c] is the logit of class c for (a, b)."""
    modulus = check_int("modulus", modulus, minimum=2)
    if not callable(model):
        raise TypeError(f"model must be a torch.nn.Module that maps pairs to outputs, got {type(model).__name__}")
    check_memory(f"modulus={modulus} ({modulus}² pairs × {modulus} logits)", 8 * modulus**3 + 48 * modulus**2)
    a = torch.arange(modulus).repeat_interleave(modulus)
    b = torch.arange(modulus).repeat(modulus)
    with torch.no_grad():
        return model(torch.stack([a, b], dim=1)).reshape(modulus, modulus, modulus)


def _by_sum(logits: torch.Tensor, minus_c: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of (a + b − c) mod M (or (a + b) mod M) for every entry of the table, and the table's mean
    over the entries sharing each index: ``(M,)`` for a + b − c, ``(M, M)`` (index, class) for a + b."""
    m = logits.shape[0]
    r = torch.arange(m)
    if minus_c:
        index = (r.view(m, 1, 1) + r.view(1, m, 1) - r.view(1, 1, m)) % m
        means = torch.zeros(m, dtype=logits.dtype).index_add_(0, index.reshape(-1), logits.reshape(-1)) / (m * m)
        return index, means
    index = (r.view(m, 1) + r.view(1, m)) % m
    means = torch.zeros(m, m, dtype=logits.dtype).index_add_(0, index.reshape(-1), logits.reshape(m * m, m)) / m
    return index, means


def logit_power(logits: torch.Tensor) -> torch.Tensor:
    """Share of the logit table's power along cos/sin 2πk(a + b − c)/M, for each k = 1 … (M − 1)/2.

    These are the directions of the Fourier algorithm; a network that uses frequency k puts power there.
    """
    m = _check_table(logits)
    centered = logits - logits.mean(dim=2, keepdim=True)  # a shift over classes changes no prediction
    exact = logits.detach().double()  # centered in double too, so that logits equal over classes give exactly zero
    if not bool((exact - exact.mean(dim=2, keepdim=True)).ne(0).any()):
        raise ValueError("logits are the same for every class of every pair, so they have no power to share among frequencies")
    _, means = _by_sum(centered, minus_c=True)
    coefficients = (fourier_basis(m).to(logits.dtype) @ means)[1:].pow(2).view(-1, 2).sum(dim=1)
    return coefficients * m * m / centered.pow(2).sum()


def key_frequencies(logits: torch.Tensor, share: float = 0.9) -> list[int]:
    """The fewest frequencies (strongest first) that together carry ``share`` of the (a + b − c) power."""
    share = check_float("share", share, minimum=0, maximum=1, open_min=True)
    return _fewest_carrying(logit_power(logits), share)


def _fewest_carrying(power: torch.Tensor, share: float) -> list[int]:
    """The fewest frequencies (``power[i]`` is frequency i + 1's) that together carry ``share`` of the
    total, strongest first; returned in ascending order."""
    order = power.argsort(descending=True)
    enough = int((power[order].cumsum(0) < share * power.sum()).sum()) + 1
    return sorted(int(k) + 1 for k in order[:enough])


def weight_frequencies(network: TwoLayerNet, share: float = 0.9) -> list[int]:
    """The fewest frequencies that together carry ``share`` of the hidden weights' non-constant power,
    summed over nodes (:func:`node_spectrum`): the frequencies a network's first layer is made of. A
    network that has grokked needs a handful; one that memorized needs most of them."""
    share = check_float("share", share, minimum=0, maximum=1, open_min=True)
    power = node_spectrum(_check_network(network))[:, 1:].sum(dim=0)
    if not bool(power.ne(0).any()):
        raise ValueError("network has no power at any non-constant frequency, so no frequencies carry a share of it")
    return _fewest_carrying(power, share)


def frequency_share(network: TwoLayerNet, frequencies: torch.Tensor) -> torch.Tensor:
    """Each hidden node's share of its weight power at one frequency, ``(K,)``: node j at ``frequencies[j]``
    (for example its final frequency, to watch nodes lock onto it during training)."""
    _check_network(network)
    top = network.modulus // 2
    if (
        not isinstance(frequencies, torch.Tensor)
        or frequencies.shape != (network.hidden,)
        or frequencies.dtype.is_floating_point
        or frequencies.dtype.is_complex
        or frequencies.dtype == torch.bool
    ):
        raise ValueError(f"frequencies must be a ({network.hidden},) integer tensor, one frequency per node")
    if int(frequencies.min()) < 0 or int(frequencies.max()) > top:
        raise ValueError(f"frequencies must be between 0 and {top}, got values from {int(frequencies.min())} to {int(frequencies.max())}")
    power = _nonzero_spectrum(network)
    return power.gather(1, frequencies.view(-1, 1))[:, 0] / power.sum(dim=1)


def variant_restricted_logits(logits: torch.Tensor, frequencies: Sequence[int]) -> torch.Tensor:
    """The a + b − c variant of the restricted logits (not Nanda et al.'s definition): only the components
    of the whole table along cos/sin 2πk(a + b − c)/M for the listed k, with no constant.

    This keeps only the output shape of the Fourier algorithm itself, the same two numbers per frequency
    for every class; Nanda et al.'s restricted logits (:func:`nanda_restricted_logits`) keep, for each class
    c separately, every component along cos/sin 2πk(a + b) and the class's mean, a larger space that
    contains this one (cos θ(a + b − c) = cos θ(a + b) cos θc + sin θ(a + b) sin θc). The variant asks a
    stricter question: how well the algorithm's ideal read-out, the same for every class, would do alone.
    """
    m = _check_table(logits)
    index, means = _by_sum(logits, minus_c=True)
    kept = projector(m, frequencies, constant=False).to(logits.dtype) @ means
    return kept[index]


def _sum_projection(logits: torch.Tensor, frequencies: Sequence[int], *, constant: bool) -> torch.Tensor:
    """For each class c, the projection of the function (a, b) ↦ logits[a, b, c] on cos and sin of
    2πk(a + b)/M for the listed k (and on the constant, if asked), as an (M, M, M) table."""
    m = _check_table(logits)
    ks = _check_frequencies(frequencies, m)
    if not ks:
        raise ValueError("frequencies must name at least one key frequency")
    # A function of (a, b) projected on functions of s = a + b mod M is its mean over each anti-diagonal s;
    # cos/sin 2πk s/M are orthogonal there, so projecting the means on them is the projection over all pairs.
    index, means = _by_sum(logits, minus_c=False)  # means: (s, c)
    kept = _projector64(m, ks, constant).to(logits.dtype) @ means
    return kept[index]


def nanda_restricted_logits(logits: torch.Tensor, frequencies: Sequence[int]) -> torch.Tensor:
    """Nanda et al.'s restricted logits: for each class c, the logits as a function of the pair (a, b)
    keep only their components along cos 2πk(a + b)/M and sin 2πk(a + b)/M for the key frequencies k,
    plus their mean over all pairs.

    Definition: Nanda et al. (2023, "Progress measures for grokking via mechanistic interpretability",
    section 5.1); code: ``calculate_trig_loss`` in ``transformers.py`` (lines 407–416) of the authors'
    repository mechanistic-interpretability-grokking/progress-measures-paper, which sums
    ``get_component_cos_xpy`` and ``get_component_sin_xpy`` (``helpers.py``, lines 182–203: projection of
    each class's column of the (M², M) logits on the normalized cos/sin (a + b) direction) and adds back
    each class's mean over all pairs (``test_logits(..., bias_correction=True)``, lines 118–137). The
    restricted *loss*, :func:`nanda_restricted_loss`, is the loss of this table.
    """
    return _sum_projection(logits, frequencies, constant=True)


def nanda_excluded_logits(logits: torch.Tensor, frequencies: Sequence[int]) -> torch.Tensor:
    """Nanda et al.'s excluded logits: the logits with, for each class c, their components along
    cos 2πk(a + b)/M and sin 2πk(a + b)/M removed for the key frequencies k (nothing else changes).

    Definition: Nanda et al. (2023), section 5.1; code: ``calculate_excluded_loss`` in ``transformers.py``
    (lines 397–405) of the authors' repository (``logits - cos - sin`` with the same projections as
    :func:`nanda_restricted_logits`, no mean added back). The excluded *loss*,
    :func:`nanda_excluded_loss`, is the loss of this table on the training pairs.
    """
    return logits - _sum_projection(logits, frequencies, constant=False)


def nanda_restricted_loss(logits: torch.Tensor, frequencies: Sequence[int], loss: str = "cross_entropy", pairs: torch.Tensor | None = None) -> float:
    """Nanda et al.'s restricted loss: the mean ``loss`` of :func:`nanda_restricted_logits` on **all**
    M² pairs, as the authors' code evaluates it (``calculate_trig_loss`` with its default ``mode='all'``;
    the paper's section 5.1 names no split for it).

    It falls as the Fourier algorithm forms, before test accuracy rises. The grokking demo of the
    TransformerLens library (``demos/Grokking_Demo.ipynb``) evaluates it on the test pairs only, and
    projects the MLP activations rather than the logits; pass ``pairs`` (for example
    ``split.test_pairs``) to evaluate this table there. The authors use cross-entropy, the loss their
    network is trained on.
    """
    table = nanda_restricted_logits(logits, frequencies)
    m = table.shape[0]
    if pairs is None:
        a = torch.arange(m).repeat_interleave(m)
        pairs = torch.stack([a, torch.arange(m).repeat(m)], dim=1)
    return table_loss(table, pairs, loss)


def nanda_excluded_loss(logits: torch.Tensor, frequencies: Sequence[int], train_pairs: torch.Tensor, loss: str = "cross_entropy") -> float:
    """Nanda et al.'s excluded loss: the mean ``loss`` of :func:`nanda_excluded_logits` on the
    **training** pairs (``test_logits(..., mode='train')`` in ``calculate_excluded_loss``).

    It rises when the network's fit of its training data comes to rest on the key frequencies: a
    memorizing network, whose fit is spread over all frequencies, hardly notices their removal. As in
    the paper's main figure (its appendix C.1.5 contrasts it with one frequency at a time), all listed
    frequencies are removed at once; ``calculate_excluded_loss`` in the authors' training code instead
    records one value per key frequency removed alone.
    """
    table = nanda_excluded_logits(logits, frequencies)
    train_pairs = check_pairs("train_pairs", train_pairs, table.shape[0])
    if train_pairs.shape[0] == 0:
        raise ValueError("train_pairs must hold at least one pair, so that the mean loss is defined")
    return table_loss(table, train_pairs, loss)


def progress_measures(
    snapshots: Mapping[int, torch.nn.Module],
    modulus: int,
    frequencies: Sequence[int],
    train_pairs: torch.Tensor,
    loss: str = "cross_entropy",
    test_pairs: torch.Tensor | None = None,
) -> pd.DataFrame:
    """The progress measures of every saved copy of a network, one row per step in ascending order.

    Columns: ``step``; ``restricted loss`` and ``excluded loss``, Nanda et al.'s measures as they define
    and evaluate them (:func:`nanda_restricted_loss` on all pairs, :func:`nanda_excluded_loss` on
    ``train_pairs``); ``variant restricted loss``, the loss on all pairs of the a + b − c variant
    (:func:`variant_restricted_logits`); and, if ``test_pairs`` is given, ``restricted loss on test
    pairs`` (Nanda's TransformerLens demo evaluates the restricted logits there). ``frequencies`` are the
    key frequencies, usually of the final network; ``loss`` should be the network's training loss.
    Any model that maps (n, 2) pairs to (n, M) outputs works, so both of chapter 2's architectures can
    be compared on the same measures.
    """
    if not isinstance(snapshots, Mapping):
        raise TypeError(f"snapshots must be a dict mapping a step to a saved network, got {type(snapshots).__name__}")
    if not snapshots:
        raise ValueError("snapshots must hold at least one saved network")
    steps = [check_int("snapshots step", step, minimum=0) for step in snapshots]
    for step in steps:
        if not callable(snapshots[step]):
            raise TypeError(f"snapshots must map steps to networks, got {type(snapshots[step]).__name__} at step {step}")
    m = check_int("modulus", modulus, minimum=3)
    if m % 2 == 0:
        raise ValueError(f"modulus must be odd so that every frequency has a cosine and a sine, got {m}")
    ks = _check_frequencies(frequencies, m)
    if not ks:
        raise ValueError("frequencies must name at least one key frequency")
    check_choice("loss", loss, LOSSES)
    if check_pairs("train_pairs", train_pairs, m).shape[0] == 0:
        raise ValueError("train_pairs must hold at least one pair, so that the excluded loss is defined")
    if test_pairs is not None and check_pairs("test_pairs", test_pairs, m).shape[0] == 0:
        raise ValueError("test_pairs must hold at least one pair, or be None")
    check_memory(f"modulus={m} ({m}² pairs × {m} logits, several tables)", 32 * m**3 + 96 * m**2)
    everything = torch.stack([torch.arange(m).repeat_interleave(m), torch.arange(m).repeat(m)], dim=1)
    rows = []
    for step in sorted(steps):
        table = logit_table(snapshots[step], m)
        row = {
            "step": step,
            "restricted loss": nanda_restricted_loss(table, ks, loss),
            "excluded loss": nanda_excluded_loss(table, ks, train_pairs, loss),
            "variant restricted loss": table_loss(variant_restricted_logits(table, ks), everything, loss),
        }
        if test_pairs is not None:
            row["restricted loss on test pairs"] = nanda_restricted_loss(table, ks, loss, test_pairs)
        rows.append(row)
    return pd.DataFrame(rows)


def run_progress_measures(run: object, frequencies: Sequence[int], *, on_test_pairs: bool = False) -> pd.DataFrame:
    """:func:`progress_measures` of a finished run's snapshots (a :class:`grokkit.TrainResult` or a
    :class:`grokkit.transformer.TransformerResult`, trained with ``snapshot_every``), with its training
    loss, its training pairs (and its test pairs, if ``on_test_pairs``), joined on ``step`` with its
    history: one table for the losses and accuracies of every recorded step."""
    from .train import TrainResult
    from .transformer import TransformerResult

    if not isinstance(run, (TrainResult, TransformerResult)):
        raise TypeError(f"run must be a TrainResult or a TransformerResult, got {type(run).__name__}")
    if not run.snapshots:
        raise ValueError("run has no snapshots; train it with snapshot_every=k to keep copies of the network")
    loss = getattr(run.config, "loss", "cross_entropy")  # the transformer is trained on cross-entropy
    test_pairs = run.split.test_pairs if check_bool("on_test_pairs", on_test_pairs) else None
    measures = progress_measures(run.snapshots, run.config.modulus, frequencies, run.split.train_pairs, loss, test_pairs=test_pairs)
    return measures.merge(run.history, on="step")


def table_loss(logits: torch.Tensor, pairs: torch.Tensor, loss: str = "cross_entropy") -> float:
    """Mean ``loss`` of the logit table on the given pairs, with labels (a + b) mod M."""
    m = _check_table(logits)
    check_choice("loss", loss, LOSSES)
    if check_pairs("pairs", pairs, m).shape[0] == 0:
        raise ValueError("pairs must hold at least one pair, so that the mean loss is defined")
    a, b = pairs[:, 0], pairs[:, 1]
    return float(LOSSES[loss](logits[a, b], (a + b) % m).mean())


def _check_embeddings(embeddings: object) -> int:
    """The modulus M of token embeddings ``(M, d)``: a finite float tensor with one row per token of Z_M, M odd."""
    if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 2 or not embeddings.dtype.is_floating_point:
        raise TypeError("embeddings must be a 2-D float tensor (tokens × dimensions)")
    check_float_tensor("embeddings", embeddings, dim=2, shape="(M, d)")
    m = embeddings.shape[0]
    if m < 3 or m % 2 == 0:
        raise ValueError(f"embeddings must have one row per token of Z_M with M odd and >= 3, got {m} rows")
    return m


def fourier_plane(embeddings: torch.Tensor, frequency: int) -> torch.Tensor:
    """Token embeddings ``(M, d)`` projected on the plane of frequency k: the span of Σ_x cos(2πkx/M) e_x
    and Σ_x sin(2πkx/M) e_x, in orthonormal coordinates, ``(M, 2)``. A network that uses frequency k
    places the tokens on a circle there, in the order of k·x mod M."""
    m = _check_embeddings(embeddings)
    (k,) = _check_frequencies([frequency], m, "frequency")
    e = embeddings.detach().double()
    plane = fourier_basis(m).double()[2 * k - 1 : 2 * k + 1] @ e  # (2, d)
    if not bool(plane.ne(0).any()):
        raise ValueError(f"embeddings have no component at frequency {k} (they are zero or constant there), so the plane is undefined")
    basis, _ = torch.linalg.qr(plane.t())  # (d, 2), orthonormal
    return (e @ basis).float()


def token_embeddings(model: torch.nn.Module) -> torch.Tensor:
    """Each token's input embedding, ``(M, d)``: for a :class:`TwoLayerNet`, column a of the first block of
    W (the weights on a, so d = K); for the one-layer transformer, its token embedding (without ``=``)."""
    from .transformer import OneLayerTransformer

    if isinstance(model, TwoLayerNet):
        return model.W.detach()[:, : model.modulus].t()
    if isinstance(model, OneLayerTransformer):
        return model.embed.detach()[: model.modulus]
    raise TypeError(f"model must be a TwoLayerNet or a OneLayerTransformer, got {type(model).__name__}")


def embedding_spectrum(embeddings: torch.Tensor) -> torch.Tensor:
    """Share of token embeddings' power ``(M, d)`` at each frequency k = 1 … (M − 1)/2 (the constant
    left out), ``((M − 1)/2,)``: how the tokens vary along cos and sin of 2πk·x/M, summed over dimensions."""
    m = _check_embeddings(embeddings)
    if not bool(embeddings.ne(embeddings[:1]).any()):  # every token alike: only the constant, up to round-off
        raise ValueError("embeddings have no power at any non-constant frequency (they are the same for every token)")
    power = (fourier_basis(m).to(embeddings.dtype) @ embeddings.detach()).pow(2).sum(dim=1)[1:].view(-1, 2).sum(dim=1)
    return power / power.sum()


def fourier_network(modulus: int, frequencies: Sequence[int]) -> TwoLayerNet:
    """A Li₂ network (σ(z) = z²) built by hand that computes (a + b) mod M from the listed frequencies.

    Each frequency gets 9 nodes, with weights cos(θa + φ) on a, cos(θb + ψ) on b and cos(θc + φ + ψ)
    to class c, for phases φ, ψ ∈ {0, 2π/3, 4π/3} and θ = 2πk/M. Averaged over the phases, every term
    of (cos(θa + φ) + cos(θb + ψ))² · cos(θc + φ + ψ) cancels except ½ cos(θ(a + b − c)), which is
    largest exactly at c = a + b mod M.
    """
    m = check_int("modulus", modulus, minimum=3)
    ks = _check_frequencies(frequencies, m)
    if not ks:
        raise ValueError("frequencies must name at least one frequency")
    check_memory(f"modulus={m} with {len(ks)} frequencies ({9 * len(ks)} nodes)", 9 * len(ks) * 3 * m * 16)
    phases = [2 * math.pi * j / 3 for j in range(3)]
    x = torch.arange(m, dtype=torch.float64)
    w_rows, v_columns = [], []
    for k in ks:
        theta = 2 * math.pi * k / m
        for phi in phases:
            for psi in phases:
                w_rows.append(torch.cat([torch.cos(theta * x + phi), torch.cos(theta * x + psi)]))
                v_columns.append(torch.cos(theta * x + phi + psi))
    network = TwoLayerNet(m, len(w_rows), "x2")
    with torch.no_grad():
        network.W.copy_(torch.stack(w_rows))
        network.V.copy_(torch.stack(v_columns, dim=1) * (2 / len(w_rows)))
    return network


def _check_table(logits: torch.Tensor) -> int:
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or len(set(logits.shape)) != 1:
        raise ValueError(f"logits must be an (M, M, M) tensor from logit_table, got {getattr(logits, 'shape', type(logits).__name__)}")
    check_float_tensor("logits", logits, dim=3, shape="(M, M, M)")
    m = logits.shape[0]
    if m < 3 or m % 2 == 0:
        raise ValueError(f"logits must be (M, M, M) for an odd modulus M >= 3, got M = {m}")
    return m


def frequencies_needed(network: TwoLayerNet, pairs: torch.Tensor, labels: torch.Tensor, accuracy: float = 0.99) -> int | None:
    """The fewest frequencies per node r such that ``keep_node_frequencies(network, r)`` still answers
    ``accuracy`` of the given pairs correctly (``None`` if even all of them do not): with
    :func:`node_description_size`, the length of the network's shortest description of this kind."""
    accuracy = check_float("accuracy", accuracy, minimum=0, maximum=1)
    return next((r for r, correct in _pruned_accuracies(network, pairs, labels) if correct >= accuracy), None)


def _pruned_accuracies(network: TwoLayerNet, pairs: torch.Tensor, labels: torch.Tensor) -> Iterator[tuple[int, float]]:
    """(r, accuracy of ``keep_node_frequencies(network, r)`` on the pairs) for r = 1 … (M − 1)/2, lazily."""
    _check_network(network)
    pairs = check_pairs("pairs", pairs, network.modulus, network.inputs)
    if pairs.shape[0] == 0:
        raise ValueError("pairs must hold at least one pair, so that accuracy is defined")
    labels = check_labels("labels", labels, network.modulus, pairs.shape[0])
    for r in range(1, (network.modulus - 1) // 2 + 1):
        with torch.no_grad():
            yield r, float((keep_node_frequencies(network, r)(pairs).argmax(dim=1) == labels).float().mean())


def pruning_curve(network: TwoLayerNet, pairs: torch.Tensor, labels: torch.Tensor) -> pd.DataFrame:
    """Accuracy on the given pairs when every node keeps only its r strongest frequencies, for each
    r = 1 … (M − 1)/2: columns ``per_node`` (r), ``accuracy`` (a fraction) and ``numbers``
    (:func:`node_description_size`). :func:`frequencies_needed` is the first r that reaches a level."""
    return pd.DataFrame(
        [
            {"per_node": r, "accuracy": correct, "numbers": node_description_size(network, r)}
            for r, correct in _pruned_accuracies(network, pairs, labels)
        ]
    )


ABLATIONS = ("trained", "each node keeps only its own frequency", "each node loses its own frequency", "each node loses one other frequency")
"""The networks :func:`frequency_ablations` returns, in order."""


def frequency_ablations(network: TwoLayerNet, *, seed: int = 0) -> dict[str, TwoLayerNet]:
    """The network and three copies that test whether its nodes' own frequencies are its algorithm,
    keyed by :data:`ABLATIONS`: each node keeps only its strongest frequency (and the constant); each node
    loses it; each node loses one other frequency, drawn uniformly from the rest with ``seed`` (the control)."""
    top = (_check_network(network).modulus - 1) // 2
    if top < 2:
        raise ValueError(f"network must be for a modulus >= 5, so that a node has another frequency to lose, got {network.modulus}")
    generator = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    own = strongest_node_frequencies(network, 1)
    other = (own + torch.randint(1, top, own.shape, generator=generator) - 1) % top + 1
    return dict(
        zip(
            ABLATIONS,
            (
                network,
                keep_node_frequencies(network, 1),
                mask_node_frequencies(network, own, keep=False),
                mask_node_frequencies(network, other, keep=False),
            ),
            strict=True,
        )
    )


FOURIER_NODE = 0.5
"""A hidden node whose :func:`fourier_concentration` is at least this is a *Fourier node* (see the glossary):
more of its power lies in one frequency than in all the others together."""


def fourier_nodes(network: TwoLayerNet | torch.Tensor) -> float:
    """The share of hidden nodes that are Fourier nodes (concentration ≥ :data:`FOURIER_NODE`)."""
    return float((fourier_concentration(network) >= FOURIER_NODE).float().mean())


def hidden_weights(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """The hidden layer as a ``(K, 2M)`` tensor (row j: node j's weights on a, then on b)."""
    if isinstance(network, TwoLayerNet):
        return check_float_tensor("network", network.W.detach(), dim=2, shape="(K, 2M)")
    if isinstance(network, torch.Tensor) and network.dtype.is_floating_point and network.dim() == 2 and network.shape[1] % 2 == 0:
        if network.shape[1] < 4:
            raise ValueError(f"network must have shape (K, 2M) with M >= 2, got {tuple(network.shape)}")
        return check_float_tensor("network", network.detach(), dim=2, shape="(K, 2M)")
    raise TypeError("network must be a TwoLayerNet or a float tensor of shape (K, 2M)")


def node_spectrum(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """Weight power of each hidden node per frequency k = 0 … ⌊M/2⌋, shape ``(K, ⌊M/2⌋ + 1)``.

    Node j's weights on a and on b (and on a hint, if any) are length-M vectors; the power at k adds
    their discrete-Fourier power at k and at M − k, so each row sums to the node's squared weight norm.
    A bare tensor is read as weights on a and b.
    """
    weights = hidden_weights(network)
    m = network.modulus if isinstance(network, TwoLayerNet) else weights.shape[1] // 2
    power = torch.fft.rfft(weights.reshape(weights.shape[0], -1, m), dim=-1).abs().pow(2).sum(dim=1) / m
    power[:, 1 : (m + 1) // 2] *= 2  # k and M − k carry the same power for real weights
    return power


def fourier_concentration(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """Per hidden node, the fraction of its weight power in its strongest non-constant frequency, ``(K,)``.

    A node that has become a Fourier feature scores near 1; a random node scores a few percent. A node
    with all-zero weights has no concentration and is refused.
    """
    power = _nonzero_spectrum(network)
    return power[:, 1:].max(dim=1).values / power.sum(dim=1)


def _nonzero_spectrum(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """:func:`node_spectrum`, refusing a network with a hidden node whose weights are all zero."""
    power = node_spectrum(network)
    zero = (power.sum(dim=1) == 0).nonzero().flatten()
    if zero.numel():
        raise ValueError(f"network has hidden node(s) {zero[:5].tolist()} with all-zero weights, whose frequency content is undefined")
    return power


VARYING = 1e-9
"""A node whose non-constant power is below this share of its power is constant up to round-off."""


def _varying(power: torch.Tensor) -> torch.Tensor:
    """Which nodes have power at a non-constant frequency beyond float round-off (``power`` from :func:`node_spectrum`)."""
    return power[:, 1:].sum(dim=1) > VARYING * power.sum(dim=1)


def dominant_frequency(network: TwoLayerNet | torch.Tensor) -> torch.Tensor:
    """Per hidden node, the non-constant frequency k ∈ 1 … ⌊M/2⌋ that carries most of its power, ``(K,)``.

    A node with no power at any non-constant frequency (all zero, or constant) has none and is refused.
    """
    power = node_spectrum(network)
    flat = (~_varying(power)).nonzero().flatten()
    if flat.numel():
        raise ValueError(f"network has hidden node(s) {flat[:5].tolist()} with no power at any non-constant frequency, so no dominant frequency")
    return power[:, 1:].argmax(dim=1) + 1


def distinct_frequencies(network: TwoLayerNet | torch.Tensor, concentration: float = FOURIER_NODE) -> int:
    """How many different frequencies the network has learned: dominant frequencies of the nodes whose
    concentration is at least ``concentration`` (a node without non-constant power has learned none)."""
    concentration = check_float("concentration", concentration, minimum=0, maximum=1)
    power = _nonzero_spectrum(network)
    learned = _varying(power) & (power[:, 1:].max(dim=1).values / power.sum(dim=1) >= concentration)
    return int((power[:, 1:].argmax(dim=1) + 1)[learned].unique().numel())


def frequencies_over_training(result: object, concentration: float = FOURIER_NODE) -> pd.DataFrame:
    """:func:`distinct_frequencies` of every snapshot of a finished run (a :class:`grokkit.TrainResult`
    trained with ``snapshot_every``): one row per snapshot, in step order, columns ``step`` and ``frequencies``."""
    from .train import TrainResult

    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    if not result.snapshots:
        raise ValueError("result has no snapshots; train it with snapshot_every=k to keep copies of the network")
    concentration = check_float("concentration", concentration, minimum=0, maximum=1)
    rows = [{"step": step, "frequencies": distinct_frequencies(network, concentration)} for step, network in sorted(result.snapshots.items())]
    return pd.DataFrame(rows)


def frequency_locking(result: object) -> pd.DataFrame:
    """How each hidden node locks onto the frequency it ends with: its share of weight power at its final
    strongest frequency (:func:`frequency_share`) at every snapshot of a run (a :class:`grokkit.TrainResult`
    trained with ``snapshot_every``). One row per node (indexed by node), sorted by final frequency; one
    column per snapshot step, in step order."""
    from .train import TrainResult

    if not isinstance(result, TrainResult):
        raise TypeError(f"result must be a TrainResult, got {type(result).__name__}")
    if not result.snapshots:
        raise ValueError("result has no snapshots; train it with snapshot_every=k to keep copies of the network")
    final = strongest_node_frequencies(result.model, 1)[:, 0]
    order = final.argsort(stable=True)
    steps = sorted(result.snapshots)
    locking = torch.stack([frequency_share(result.snapshots[step], final)[order] for step in steps], dim=1)
    return pd.DataFrame(locking.numpy(), index=pd.Index(order.numpy(), name="node"), columns=steps)


def top_frequency_share(run: object, count: int) -> pd.Series:
    """The share of the token embeddings' Fourier power (:func:`embedding_spectrum` of
    :func:`token_embeddings`) in the ``count`` frequencies strongest at the end of a run, at every snapshot
    (a :class:`grokkit.TrainResult` or :class:`grokkit.transformer.TransformerResult` trained with
    ``snapshot_every``): a Series indexed by step, in step order. It rises as the embedding becomes Fourier-sparse."""
    from .train import TrainResult
    from .transformer import TransformerResult

    if not isinstance(run, (TrainResult, TransformerResult)):
        raise TypeError(f"run must be a TrainResult or a TransformerResult, got {type(run).__name__}")
    if not run.snapshots:
        raise ValueError("run has no snapshots; train it with snapshot_every=k to keep copies of the network")
    final = embedding_spectrum(token_embeddings(run.model))
    count = check_int("count", count, minimum=1, maximum=len(final))
    top = final.argsort(descending=True)[:count]
    steps = sorted(run.snapshots)
    return pd.Series([float(embedding_spectrum(token_embeddings(run.snapshots[step]))[top].sum()) for step in steps], index=steps, name="top share")


def fourier_feature(modulus: int, frequency: int, *, phases: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """The unit-norm node weights [cos(2πka/M + φ₁), cos(2πkb/M + φ₂)] of a Fourier feature, shape (2M,)."""
    check_int("modulus", modulus, minimum=3)
    check_int("frequency", frequency, minimum=1, maximum=modulus // 2)
    if not isinstance(phases, (tuple, list)) or len(phases) != 2:
        raise TypeError(f"phases must be a tuple of two numbers (φ₁, φ₂), got {phases!r}")
    phi = [check_float("phases", p) for p in phases]
    check_memory(f"modulus={modulus}", 16 * modulus * torch.get_default_dtype().itemsize)
    x = torch.arange(modulus, dtype=torch.get_default_dtype()) * (2 * math.pi * frequency / modulus)
    w = torch.cat([torch.cos(x + phi[0]), torch.cos(x + phi[1])])
    return w / w.norm()
