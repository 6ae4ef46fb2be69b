"""Performance of grokkit's engine, as ratios measured in one run on one machine.

    .venv/bin/python benchmarks/run.py            # writes benchmarks/results.md

a. time to 99 % test accuracy on the classic run (mod 71, K=2048, n=2016, x², MSE, Adam lr 1e-3,
   weight decay 2e-4): grokkit versus a plain PyTorch loop written the obvious way;
b. sweep throughput, 64 runs (K=512, mixed sizes and seeds, mod 71): batched sweep versus the same
   runs one after another with grokkit.train;
c. achieved floating-point throughput of the classic run versus this machine's own measured
   matrix-multiply throughput;
d. one full-batch AdamW step of the one-layer transformer (mod 113, 30 %, d_model 128): grokkit's
   forward pass, which computes only what the prediction at '=' needs, versus the textbook pass over
   all three positions.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch
from torch import nn

import grokkit
from grokkit import TrainConfig, grid, sweep, train
from grokkit.transformer import OneLayerTransformer, TransformerConfig

CLASSIC = TrainConfig(modulus=71, n_train=2016, hidden=2048, weight_decay=2e-4, lr=1e-3, steps=1000,
                      eval_every=10, stop_at_test_acc=0.99)


def plain_pytorch_time_to_99(config: TrainConfig) -> tuple[float, int]:
    """The obvious loop: nn.Linear layers on one-hot inputs, torch.optim.Adam, evaluation every step."""
    m = config.modulus
    split = config.split()

    def one_hot(pairs: torch.Tensor) -> torch.Tensor:
        return torch.cat([nn.functional.one_hot(pairs[:, 0], m), nn.functional.one_hot(pairs[:, 1], m)], 1).float()

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = nn.Linear(2 * m, config.hidden, bias=False)
            self.out = nn.Linear(config.hidden, m, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.hidden(x) ** 2)

    torch.manual_seed(config.seed)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    x_train, x_test = one_hot(split.train_pairs), one_hot(split.test_pairs)
    y_train = nn.functional.one_hot(split.train_labels, m).float() - 1 / m
    start = time.perf_counter()
    for step in range(1, config.steps + 1):
        opt.zero_grad()
        loss = ((net(x_train) - y_train) ** 2).sum(1).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            if (net(x_test).argmax(1) == split.test_labels).float().mean() >= 0.99:
                return time.perf_counter() - start, step
    return float("nan"), config.steps


def grokkit_time_to_99(config: TrainConfig) -> tuple[float, int]:
    start = time.perf_counter()
    history = train(config, progress=False).history
    return time.perf_counter() - start, int(history["step"].iloc[-1])


def matmul_gflops(size: int = 2048, repeats: int = 10, trials: int = 5) -> float:
    """Best of ``trials`` timings of a square fp32 matmul: the machine's attainable peak."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * repeats / best / 1e9


def classic_flops(config: TrainConfig, steps: int) -> float:
    """Matrix-multiply FLOPs of a run: forward + two backward products per step, test forward per evaluation."""
    n, k, m = config.n_train, config.hidden, config.modulus
    n_test = m * m - n
    evaluations = steps // config.eval_every + 1
    return 6 * n * k * m * steps + 2 * n_test * k * m * evaluations


def transformer_step_seconds(all_positions: bool, steps: int = 20) -> float:
    """Mean wall time of a training step (forward, backward, AdamW) on the Nanda et al. set-up."""
    config = TransformerConfig()
    split = config.split()
    model = OneLayerTransformer(config.modulus, seed=0)
    forward = model.forward_all_positions if all_positions else model
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()  # step 0 warms up
        loss = nn.functional.cross_entropy(forward(split.train_pairs), split.train_labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return (time.perf_counter() - start) / steps


def sweep_configs() -> list[TrainConfig]:
    base = TrainConfig(modulus=71, hidden=512, weight_decay=2e-4, steps=100, eval_every=10)
    return grid(base, n_train=[1000, 1500, 2000, 2500], seed=range(16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=Path(__file__).with_name("results.md"), type=Path)
    args = parser.parse_args()
    os.environ["GROKKIT_PROGRESS"] = "0"

    peak = matmul_gflops()
    plain_s, plain_steps = plain_pytorch_time_to_99(CLASSIC)
    ours_s, ours_steps = grokkit_time_to_99(CLASSIC)
    achieved = classic_flops(CLASSIC, ours_steps) / ours_s / 1e9

    configs = sweep_configs()
    start = time.perf_counter()
    sweep(configs, progress=False)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    for config in configs:
        train(config, progress=False)
    sequential_s = time.perf_counter() - start

    textbook_s, shortcut_s = transformer_step_seconds(True), transformer_step_seconds(False)

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, {torch.get_num_threads()} intra-op threads"
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine}. Device: CPU. grokkit {grokkit.__version__}.",
        "Produced by `.venv/bin/python benchmarks/run.py`; all numbers below come from one run of it.",
        "",
        "| measurement | baseline | grokkit | ratio |",
        "| --- | --- | --- | --- |",
        f"| a. classic run, wall time to 99 % test accuracy | plain PyTorch {plain_s:.2f} s ({plain_steps} steps) | {ours_s:.2f} s ({ours_steps} steps) | {plain_s / ours_s:.2f}x faster |",
        f"| b. sweep of {len(configs)} runs (K=512, n in 1000-2500, 16 seeds, 100 steps) | one after another {sequential_s:.1f} s | batched {batched_s:.1f} s | {sequential_s / batched_s:.2f}x faster |",
        f"| c. classic run, achieved matmul throughput | machine's 2048² fp32 matmul {peak:.1f} GFLOP/s | {achieved:.1f} GFLOP/s | {achieved / peak:.0%} of it |",
        f"| d. transformer training step (mod 113, 30 %, d_model 128) | all three positions {1000 * textbook_s:.0f} ms | only what '=' needs {1000 * shortcut_s:.0f} ms | {textbook_s / shortcut_s:.2f}x faster |",
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
