"""The Fourier view of modular addition: which frequencies a network uses, and what is left without them.

A real function on Z_M (M odd) is a constant plus, for each frequency k = 1 … (M − 1)/2, a cosine and
a sine of angle 2πk·x/M. A network that has grokked (a + b) mod M computes its answer from a few such
frequencies (Nanda et al. 2023); these tools find them, keep or remove them, and build the algorithm
by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
from .metrics import node_spectrum
from .models import TwoLayerNet


def _check_frequencies(frequencies: Sequence[int], modulus: int, name: str = "frequencies") -> list[int]:
    if isinstance(frequencies, (str, bytes)) or not isinstance(frequencies, Sequence):
        raise TypeError(f"{name} must be a sequence of ints, got {type(frequencies).__name__}")
    top = (modulus - 1) // 2
    ks = [check_int(f"{name} entry", int(k) if isinstance(k, torch.Tensor) and k.numel() == 1 and not k.dtype.is_floating_point else k,
                    minimum=1, maximum=top) for k in frequencies]
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
    x = torch.arange(m, dtype=torch.float64)
    rows = [torch.ones(m, dtype=torch.float64)]
    for k in range(1, (m + 1) // 2):
        rows += [torch.cos(2 * math.pi * k * x / m), torch.sin(2 * math.pi * k * x / m)]
    basis = torch.stack(rows)
    return (basis / basis.norm(dim=1, keepdim=True)).to(torch.get_default_dtype())


def projector(modulus: int, frequencies: Sequence[int], *, constant: bool = True) -> torch.Tensor:
    """The ``(M, M)`` orthogonal projection onto the listed frequencies (and the constant, if asked)."""
    basis = fourier_basis(modulus)
    rows = ([0] if constant else []) + [r for k in _check_frequencies(frequencies, modulus) for r in (2 * k - 1, 2 * k)]
    kept = basis[rows]
    return kept.t() @ kept


def keep_frequencies(network: TwoLayerNet, frequencies: Sequence[int]) -> TwoLayerNet:
    """A copy of ``network`` whose weights on a, on b and on the output classes keep only the listed
    frequencies (and the constant): the network described by its Fourier coefficients at those frequencies."""
    m = _check_network(network).modulus
    keep = projector(m, frequencies)
    pruned = TwoLayerNet(m, network.hidden, network.activation, inputs=network.inputs)
    with torch.no_grad():
        pruned.W.copy_(torch.cat([block @ keep for block in network.W.detach().split(m, dim=1)], dim=1))
        pruned.V.copy_(keep @ network.V.detach())
    return pruned


def description_size(network: TwoLayerNet, frequencies: Sequence[int]) -> int:
    """Real numbers that describe ``keep_frequencies(network, frequencies)``: per node, a constant plus a
    cosine and a sine per frequency for each of its weight vectors (on a, on b, to the outputs)."""
    _check_network(network)
    return (network.inputs + 1) * network.hidden * (1 + 2 * len(_check_frequencies(frequencies, network.modulus)))


def strongest_node_frequencies(network: TwoLayerNet, per_node: int) -> torch.Tensor:
    """Each hidden node's ``per_node`` strongest non-constant frequencies, strongest first, ``(K, per_node)``."""
    if not isinstance(network, TwoLayerNet):
        raise TypeError(f"network must be a TwoLayerNet, got {type(network).__name__}")
    per_node = check_int("per_node", per_node, minimum=0, maximum=(network.modulus - 1) // 2)
    return node_spectrum(network)[:, 1:].argsort(dim=1, descending=True)[:, :per_node] + 1


def keep_node_frequencies(network: TwoLayerNet, per_node: int) -> TwoLayerNet:
    """A copy of ``network`` in which each hidden node keeps only its ``per_node`` strongest frequencies
    (ranked by :func:`grokkit.metrics.node_spectrum`) and the constant, on a, on b and to the outputs."""
    return mask_node_frequencies(network, strongest_node_frequencies(network, per_node), keep=True)


def mask_node_frequencies(network: TwoLayerNet, frequencies: torch.Tensor, *, keep: bool) -> TwoLayerNet:
    """A copy of ``network`` in which node j keeps (``keep=True``, plus the constant) or loses
    (``keep=False``) the frequencies in row j of ``frequencies`` ``(K, r)``, in all three weight vectors."""
    m, top = _check_network(network).modulus, (network.modulus - 1) // 2
    keep = check_bool("keep", keep)
    if (not isinstance(frequencies, torch.Tensor) or frequencies.dim() != 2 or frequencies.shape[0] != network.hidden
            or frequencies.dtype.is_floating_point or frequencies.dtype.is_complex or frequencies.dtype == torch.bool):
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
    centred = logits - logits.mean(dim=2, keepdim=True)  # a shift over classes changes no prediction
    exact = logits.detach().double()  # centred in double too, so that logits equal over classes give exactly zero
    if not bool((exact - exact.mean(dim=2, keepdim=True)).ne(0).any()):
        raise ValueError("logits are the same for every class of every pair, so they have no power to share among frequencies")
    _, means = _by_sum(centred, minus_c=True)
    coefficients = (fourier_basis(m).to(logits.dtype) @ means)[1:].pow(2).view(-1, 2).sum(dim=1)
    return coefficients * m * m / centred.pow(2).sum()


def key_frequencies(logits: torch.Tensor, share: float = 0.9) -> list[int]:
    """The fewest frequencies (strongest first) that together carry ``share`` of the (a + b − c) power."""
    share = check_float("share", share, minimum=0, maximum=1, open_min=True)
    power = logit_power(logits)
    order = power.argsort(descending=True)
    enough = int((power[order].cumsum(0) < share * power.sum()).sum()) + 1
    return sorted(int(k) + 1 for k in order[:enough])


def restricted_logits(logits: torch.Tensor, frequencies: Sequence[int]) -> torch.Tensor:
    """Only the cos/sin 2πk(a + b − c)/M components of the logits for the listed k (Nanda et al.'s
    restricted logits): what the network's Fourier algorithm alone would output."""
    m = _check_table(logits)
    index, means = _by_sum(logits, minus_c=True)
    kept = projector(m, frequencies, constant=False).to(logits.dtype) @ means
    return kept[index]


def excluded_logits(logits: torch.Tensor, frequencies: Sequence[int]) -> torch.Tensor:
    """The logits with their cos/sin 2πk(a + b)/M components removed, for each class c separately:
    the network without the frequencies that carry its algorithm (Nanda et al.'s excluded logits)."""
    m = _check_table(logits)
    index, means = _by_sum(logits, minus_c=False)
    removed = projector(m, frequencies, constant=False).to(logits.dtype) @ means  # (a + b, c)
    return logits - removed[index]


def table_loss(logits: torch.Tensor, pairs: torch.Tensor, loss: str = "cross_entropy") -> float:
    """Mean ``loss`` of the logit table on the given pairs, with labels (a + b) mod M."""
    m = _check_table(logits)
    check_choice("loss", loss, LOSSES)
    if check_pairs("pairs", pairs, m).shape[0] == 0:
        raise ValueError("pairs must hold at least one pair, so that the mean loss is defined")
    a, b = pairs[:, 0], pairs[:, 1]
    return float(LOSSES[loss](logits[a, b], (a + b) % m).mean())


def fourier_plane(embeddings: torch.Tensor, frequency: int) -> torch.Tensor:
    """Token embeddings ``(M, d)`` projected on the plane of frequency k: the span of Σ_x cos(2πkx/M) e_x
    and Σ_x sin(2πkx/M) e_x, in orthonormal coordinates, ``(M, 2)``. A network that uses frequency k
    places the tokens on a circle there, in the order of k·x mod M."""
    if not isinstance(embeddings, torch.Tensor) or embeddings.dim() != 2 or not embeddings.dtype.is_floating_point:
        raise TypeError("embeddings must be a 2-D float tensor (tokens × dimensions)")
    check_float_tensor("embeddings", embeddings, dim=2, shape="(M, d)")
    m = embeddings.shape[0]
    if m < 3 or m % 2 == 0:
        raise ValueError(f"embeddings must have one row per token of Z_M with M odd and >= 3, got {m} rows")
    (k,) = _check_frequencies([frequency], m, "frequency")
    e = embeddings.detach().double()
    plane = fourier_basis(m).double()[2 * k - 1 : 2 * k + 1] @ e  # (2, d)
    if not bool(plane.ne(0).any()):
        raise ValueError(f"embeddings have no component at frequency {k} (they are zero or constant there), so the plane is undefined")
    basis, _ = torch.linalg.qr(plane.t())  # (d, 2), orthonormal
    return (e @ basis).float()


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
    _check_network(network)
    pairs = check_pairs("pairs", pairs, network.modulus, network.inputs)
    if pairs.shape[0] == 0:
        raise ValueError("pairs must hold at least one pair, so that accuracy is defined")
    labels = check_labels("labels", labels, network.modulus, pairs.shape[0])
    for r in range(1, (network.modulus - 1) // 2 + 1):
        with torch.no_grad():
            correct = (keep_node_frequencies(network, r)(pairs).argmax(dim=1) == labels).float().mean()
        if float(correct) >= accuracy:
            return r
    return None
