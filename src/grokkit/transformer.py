"""The one-layer transformer of Nanda et al. (2023) on ``a b =`` → ``a ∘ b mod M``, and its trainer.

Architecture as in the paper: token and position embeddings, one attention layer (no LayerNorm), a ReLU
MLP with biases, an unembedding; full-batch AdamW. Only the prediction at ``=`` is read, and with one
layer nothing after the attention reads the other positions, so queries, the MLP and the unembedding
are computed at the last position only: the same function for a third of the work.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ._validate import check_bool, check_float, check_int, check_memory, check_pairs
from .device import pick_device
from .tasks import ModularTask, Split
from .train import _check_finite, _check_snapshot_every, _progress_bar, _Recorder, _show, _snapshots_kept


class OneLayerTransformer(nn.Module):
    """Embed ``a``, ``b`` and ``=`` (token M), attend from ``=``, MLP, unembed to M logits."""

    def __init__(self, modulus: int, d_model: int = 128, heads: int = 4, d_mlp: int = 512, *, seed: int = 0) -> None:
        super().__init__()
        self.modulus = check_int("modulus", modulus, minimum=2)
        d_model = check_int("d_model", d_model, minimum=1)
        self.heads = check_int("heads", heads, minimum=1)
        d_mlp = check_int("d_mlp", d_mlp, minimum=1)
        if d_model % heads:
            raise ValueError(f"d_model must be a multiple of heads, got d_model={d_model}, heads={heads}")
        check_memory(
            f"modulus={modulus}, d_model={d_model} and d_mlp={d_mlp} ({_parameter_count(modulus, d_model, d_mlp)} parameters)",
            2 * _parameter_count(modulus, d_model, d_mlp) * torch.get_default_dtype().itemsize,
        )
        generator = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))

        def normal(*shape: int, fan_in: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape, generator=generator) / math.sqrt(fan_in))

        self.embed = normal(modulus + 1, d_model, fan_in=d_model)  # row M is the '=' token
        self.position = normal(3, d_model, fan_in=d_model)
        self.W_Q, self.W_K, self.W_V = (normal(d_model, d_model, fan_in=d_model) for _ in range(3))
        self.W_O = normal(d_model, d_model, fan_in=d_model)
        self.W_in, self.b_in = normal(d_model, d_mlp, fan_in=d_model), nn.Parameter(torch.zeros(d_mlp))
        self.W_out, self.b_out = normal(d_mlp, d_model, fan_in=d_mlp), nn.Parameter(torch.zeros(d_model))
        self.unembed = normal(d_model, modulus, fan_in=d_model)

    def residual(self, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The residual stream at ``=`` after attention, ``(n, d_model)``, and the MLP's hidden ReLU ``(n, d_mlp)``.

        Position p holds one of M + 1 tokens, so keys and values are looked up in ``(3, M + 1, d)``
        tables, and the query at ``=`` is one vector shared by every sequence.
        """
        a, b = check_pairs("pairs", pairs, self.modulus).unbind(dim=1)
        n, h, m = pairs.shape[0], self.heads, self.modulus
        d = self.embed.shape[1]
        table = self.embed.unsqueeze(0) + self.position.unsqueeze(1)  # (position, token, d)
        keys, values = table @ self.W_K, table @ self.W_V
        last = table[2, m]
        query = (last @ self.W_Q).view(h, d // h)
        equals = torch.full_like(a, m)
        look = lambda table_, p, t: F.embedding(t, table_[p])  # noqa: E731 - deterministic backward on CPU
        k = torch.stack([look(keys, 0, a), look(keys, 1, b), look(keys, 2, equals)], dim=1).view(n, 3, h, d // h)
        v = torch.stack([look(values, 0, a), look(values, 1, b), look(values, 2, equals)], dim=1).view(n, 3, h, d // h)
        weights = torch.softmax((k * query).sum(-1) / math.sqrt(d // h), dim=1)  # (n, 3, h): '=' sees all three
        attended = (weights.unsqueeze(-1) * v).sum(dim=1).reshape(n, d)
        stream = last + attended @ self.W_O
        return stream, torch.relu(stream @ self.W_in + self.b_in)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """Logits for ``a ∘ b``, shape ``(n, M)``."""
        stream, neurons = self.residual(pairs)
        return (stream + neurons @ self.W_out + self.b_out) @ self.unembed

    def forward_all_positions(self, pairs: torch.Tensor) -> torch.Tensor:
        """The same logits computed the textbook way, causal attention and MLP at all three positions:
        the reference that :meth:`forward` is tested and benchmarked against."""
        a, b = check_pairs("pairs", pairs, self.modulus).unbind(dim=1)
        x = self.embed[torch.stack([a, b, torch.full_like(a, self.modulus)], dim=1)] + self.position
        n, t, d = x.shape
        split = lambda z: z.view(n, t, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        attended = F.scaled_dot_product_attention(split(x @ self.W_Q), split(x @ self.W_K), split(x @ self.W_V), is_causal=True)
        stream = x + attended.transpose(1, 2).reshape(n, t, d) @ self.W_O
        stream = stream + torch.relu(stream @ self.W_in + self.b_in) @ self.W_out + self.b_out
        return stream[:, -1] @ self.unembed


def _parameter_count(modulus: int, d_model: int, d_mlp: int) -> int:
    """Number of weights of a :class:`OneLayerTransformer`: embeddings, attention, MLP and unembedding."""
    return (modulus + 4) * d_model + 4 * d_model * d_model + 2 * d_model * d_mlp + d_mlp + d_model + d_model * modulus


@dataclass(frozen=True)
class TransformerConfig:
    """A run of the Nanda et al. set-up; defaults are theirs (113, 30 %, AdamW lr 1e-3, decay 1, β₂ 0.98)."""

    modulus: int = 113
    operation: str = "add"
    train_fraction: float = 0.3
    d_model: int = 128
    heads: int = 4
    d_mlp: int = 512
    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    warmup: int = 10
    steps: int = 3000
    eval_every: int = 50
    stop_at_test_acc: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        size = ModularTask(self.modulus, self.operation).size
        fraction = check_float("train_fraction", self.train_fraction, minimum=0, maximum=1, open_min=True, open_max=True)
        if not 1 <= round(fraction * size) < size:
            raise ValueError(
                f"train_fraction={fraction} gives {round(fraction * size)} of {size} pairs; it must leave at least one training and one test pair"
            )
        for name in ("d_model", "heads", "d_mlp", "steps", "eval_every"):
            check_int(name, getattr(self, name), minimum=1)
        if self.d_model % self.heads:
            raise ValueError(f"d_model must be a multiple of heads, got d_model={self.d_model}, heads={self.heads}")
        check_int("warmup", self.warmup, minimum=0)
        check_float("lr", self.lr, minimum=0, open_min=True)
        check_float("weight_decay", self.weight_decay, minimum=0)
        if not (isinstance(self.betas, tuple) and len(self.betas) == 2):
            raise TypeError(f"betas must be a tuple of two numbers, got {self.betas!r}")
        for beta in self.betas:
            check_float("betas", beta, minimum=0, maximum=1, open_max=True)
        if self.stop_at_test_acc is not None:
            check_float("stop_at_test_acc", self.stop_at_test_acc, minimum=0, maximum=1, open_min=True)
        check_int("seed", self.seed, minimum=0)

    def split(self) -> Split:
        return ModularTask(self.modulus, self.operation).split(train_fraction=self.train_fraction, seed=self.seed)


@dataclass
class TransformerResult:
    """A finished run: config, trained model, split, history, and snapshots (step → model) if asked."""

    config: TransformerConfig
    model: OneLayerTransformer
    split: Split
    history: pd.DataFrame
    snapshots: dict[int, OneLayerTransformer] = dataclasses.field(default_factory=dict)


def train_transformer(
    config: TransformerConfig,
    *,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    snapshot_every: int | None = None,
) -> TransformerResult:
    """Full-batch AdamW with a linear warm-up, as Nanda et al.; metrics every ``eval_every`` steps."""
    if not isinstance(config, TransformerConfig):
        raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")
    _check_snapshot_every(snapshot_every, config.eval_every)
    check_bool("progress", progress, optional=True)
    where = pick_device(device)
    m, d, d_mlp = config.modulus, config.d_model, config.d_mlp
    size = ModularTask(m, config.operation).size
    weights = _parameter_count(m, d, d_mlp)
    snapshots = _snapshots_kept(config.steps, snapshot_every) * weights
    activations = size * (10 * d + 3 * d_mlp + 3 * m)  # keys, values, streams, MLP and logits of train and test pairs
    check_memory(
        f"a transformer with modulus={m}, d_model={d} and d_mlp={d_mlp}" + (f", snapshot_every={snapshot_every}" if snapshots else ""),
        torch.get_default_dtype().itemsize * (6 * weights + snapshots + activations) + 96 * size,
        where,
    )
    split = config.split()
    model = OneLayerTransformer(config.modulus, config.d_model, config.heads, config.d_mlp, seed=config.seed).to(where)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=config.betas)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(1, config.warmup)))
    train_pairs, train_labels = split.train_pairs.to(where), split.train_labels.to(where)
    test_pairs, test_labels = split.test_pairs.to(where), split.test_labels.to(where)
    record = _Recorder(config, snapshot_every)
    with _progress_bar(config.steps, progress, "training transformer") as bar:
        for step in range(config.steps + 1):
            logits = model(train_pairs)
            loss = F.cross_entropy(logits, train_labels)
            _check_finite(loss.view(1), step, [config])
            if record.due(step):
                with torch.no_grad():
                    test_logits = model(test_pairs)
                    metrics = (
                        float(loss),
                        _accuracy(logits, train_labels),
                        float(F.cross_entropy(test_logits, test_labels)),
                        _accuracy(test_logits, test_labels),
                    )
                done = record.record(step, metrics, functools.partial(_copy, model))
                _show(bar, [record])
                if done:
                    break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update(1)
    return TransformerResult(config, _copy(model), split, record.history(), record.snapshots)


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(dim=1) == labels).float().mean())


def _copy(model: OneLayerTransformer) -> OneLayerTransformer:
    clone = OneLayerTransformer(model.modulus, model.embed.shape[1], model.heads, model.W_in.shape[1])
    clone.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
    return clone
