"""The Fourier tools: the hand-built network, keeping and removing frequencies, Nanda's progress measures."""

import math

import pytest
import torch

from grokkit import ModularTask, TwoLayerNet
from grokkit.fourier import (
    description_size, excluded_logits, frequencies_needed, fourier_basis, fourier_network, fourier_plane, keep_frequencies,
    keep_node_frequencies, key_frequencies, logit_power, logit_table, mask_node_frequencies,
    node_description_size, projector, restricted_logits, strongest_node_frequencies, table_loss,
)
from grokkit.metrics import circularity


def accuracy(logits: torch.Tensor) -> float:
    m = logits.shape[0]
    r = torch.arange(m)
    return float((logits.argmax(dim=2) == (r.view(-1, 1) + r.view(1, -1)) % m).float().mean())


def test_basis_is_orthonormal():
    basis = fourier_basis(11).double()
    assert torch.allclose(basis @ basis.t(), torch.eye(11, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("modulus, frequencies", [(7, [1]), (23, [4]), (31, [2, 9]), (113, [17])])
def test_hand_built_network_solves_every_pair(modulus, frequencies):
    net = fourier_network(modulus, frequencies)
    assert net.hidden == 9 * len(frequencies)
    logits = logit_table(net, modulus)
    assert accuracy(logits) == 1.0
    assert key_frequencies(logits) == sorted(frequencies)


def test_hand_built_logits_are_half_cosine_of_the_answer_distance():
    m, k = 13, 3
    logits = logit_table(fourier_network(m, [k]), m)
    r = torch.arange(m)
    distance = (r.view(-1, 1, 1) + r.view(1, -1, 1) - r.view(1, 1, -1)).double()
    # V is scaled by 2/9 so the nine nodes together output cos θ(a + b − c) exactly
    assert torch.allclose(logits.double(), torch.cos(2 * math.pi * k * distance / m), atol=1e-5)


def test_restricted_keeps_the_algorithm_and_excluded_removes_it():
    m = 23
    logits = logit_table(fourier_network(m, [3, 7]), m)
    pairs = ModularTask(m).pairs()
    assert torch.allclose(restricted_logits(logits, [3, 7]), logits - logits.mean(dim=2, keepdim=True), atol=1e-5)
    assert accuracy(restricted_logits(logits, [3])) == 1.0
    assert accuracy(excluded_logits(logits, [3, 7])) < 0.2
    assert table_loss(excluded_logits(logits, [3, 7]), pairs) > table_loss(logits, pairs)


def test_logit_power_finds_the_frequencies_in_use():
    power = logit_power(logit_table(fourier_network(31, [5]), 31))
    assert power.shape == (15,)
    assert power[4] == pytest.approx(1.0, abs=1e-4)
    assert float(power.sum()) == pytest.approx(1.0, abs=1e-4)


def test_projector_is_idempotent_and_keeps_its_frequencies():
    p = projector(17, [2, 5]).double()
    assert torch.allclose(p @ p, p, atol=1e-6)
    assert torch.trace(p) == pytest.approx(5, abs=1e-5)  # constant + two (cos, sin) pairs


def test_keeping_a_networks_own_frequencies_changes_nothing():
    net = fourier_network(19, [2, 6])
    for pruned in (keep_frequencies(net, [2, 6]), keep_node_frequencies(net, 1)):
        assert torch.allclose(logit_table(pruned, 19), logit_table(net, 19), atol=1e-5)
    removed = mask_node_frequencies(net, strongest_node_frequencies(net, 1), keep=False)
    assert float(logit_table(removed, 19).abs().max()) < 1e-5


def test_description_sizes():
    net = TwoLayerNet(11, 6)
    assert description_size(net, [1, 2]) == 3 * 6 * 5
    assert node_description_size(net, 2) == 6 * (3 + 14)


def test_embeddings_of_a_fourier_network_lie_on_a_circle_and_random_ones_do_not():
    m = 29
    net = fourier_network(m, [4])
    assert circularity(fourier_plane(net.W.detach()[:, :m].t(), 4)) < 1e-4
    cloud = fourier_plane(torch.randn(m, 16, generator=torch.Generator().manual_seed(0)), 4)
    assert circularity(cloud) > 0.2


@pytest.mark.parametrize("call, message", [
    (lambda: fourier_basis(10), "odd"),
    (lambda: fourier_network(11, [6]), "frequencies entry must be <= 5"),
    (lambda: fourier_network(11, []), "at least one"),
    (lambda: fourier_network(11, "3"), "sequence of ints"),
    (lambda: key_frequencies(torch.zeros(5, 5)), r"\(M, M, M\)"),
    (lambda: keep_node_frequencies(TwoLayerNet(11, 4), 6), "per_node must be <= 5"),
    (lambda: mask_node_frequencies(TwoLayerNet(11, 4), torch.ones(3, 1, dtype=torch.long), keep=True), r"\(4, r\)"),
    (lambda: fourier_plane(torch.zeros(11), 1), "2-D float tensor"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_frequencies_needed_is_one_for_a_fourier_network_and_more_for_a_random_one():
    m = 13
    pairs, labels = ModularTask(m).pairs(), ModularTask(m).labels()
    assert frequencies_needed(fourier_network(m, [2, 5]), pairs, labels) == 1
    random = TwoLayerNet(m, 32, generator=torch.Generator().manual_seed(0))
    wanted = float((random(pairs).argmax(dim=1) == labels).float().mean())
    assert frequencies_needed(random, pairs, random(pairs).argmax(dim=1).detach()) > 1  # its own answers need many
    assert frequencies_needed(random, pairs, labels, accuracy=min(1.0, wanted + 0.5)) is None
