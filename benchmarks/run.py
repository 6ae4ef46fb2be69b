"""Performance of grokkit's engine, as ratios measured in one run on one machine.

    .venv/bin/python benchmarks/run.py            # writes benchmarks/results.md

a. time to 99 % test accuracy on the classic run (mod 71, K=2048, n=2016, x², MSE, Adam lr 1e-3,
   weight decay 2e-4): grokkit versus a plain PyTorch loop written the obvious way;
b. sweep throughput, 64 runs (K=128, mod 53, four sizes, 16 seeds): batched sweep versus the same
   runs one after another with grokkit.train;
c. achieved floating-point throughput of the classic run versus this machine's own measured
   matrix-multiply throughput;
d. one full-batch AdamW step of the one-layer transformer (mod 113, 30 %, d_model 128): grokkit's
   forward pass, which computes only what the prediction at '=' needs, versus the textbook pass over
   all three positions;
e. fairness on a busy machine: throughput with one competing CPU-bound process (``sh -c 'while :; do
   :; done'``) over throughput on the quiet machine, for a small (K=128) and a large (K=2048) shape,
   one run and a sweep each; beside it, the same with torch's default thread count, which is what
   grokkit did before it chose threads from the free cores;
f. a long-budget sweep like the converged measurements (K=128, M from 23 to 127, budgets up to 4000
   steps, evaluation every 10 steps): runs per hour and achieved GFLOP/s against the matmul peak.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import grokkit
import grokkit.device
from grokkit import TrainConfig, grid, sweep, train
from grokkit.scaling import training_cost
from grokkit.transformer import OneLayerTransformer, TransformerConfig

CLASSIC = TrainConfig(modulus=71, n_train=2016, hidden=2048, weight_decay=2e-4, lr=1e-3, steps=1000, eval_every=10, stop_at_test_acc=0.99)


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


def run_flops(config: TrainConfig, steps: int) -> float:
    """Matrix-multiply FLOPs of a run: the training cost of grokkit.scaling plus a test forward per evaluation."""
    k, m = config.hidden, config.modulus
    n = config.split().n_train
    evaluations = steps // config.eval_every + 1
    return float(training_cost(m, k, n, steps)[0]) + 2 * (m * m - n) * k * m * evaluations


def transformer_step_seconds(all_positions: bool, steps: int = 20) -> float:
    """Mean wall time of a training step (forward, backward, AdamW) on the Nanda et al. set-up."""
    config = TransformerConfig()
    split = config.split()
    model = OneLayerTransformer(config.modulus, seed=0)
    forward = model.forward_all_positions if all_positions else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()  # step 0 warms up
        loss = nn.functional.cross_entropy(forward(split.train_pairs), split.train_labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def sweep_configs() -> list[TrainConfig]:
    base = TrainConfig(modulus=53, hidden=128, weight_decay=5e-4, steps=100, eval_every=10)
    return grid(base, n_train=[700, 1000, 1300, 1600], seed=range(16))


def seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def quiet(work: Callable[[], object], repeats: int = 3) -> float:
    """Median wall time of ``work`` on a quiet machine, after a pause that lets any earlier load pass."""
    time.sleep(2 * grokkit.device.RECHECK_SECONDS)
    return statistics.median(seconds(work) for _ in range(repeats))


def with_competitor(work: Callable[[], object]) -> float:
    """Wall time of ``work`` while one other process keeps a core busy."""
    competitor = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        time.sleep(0.5)
        return seconds(work)
    finally:
        competitor.kill()
        competitor.wait()


FAIRNESS_WORK = {
    "K=128, one run (mod 53, n=1100, 300 steps)": lambda: train(
        TrainConfig(modulus=53, n_train=1100, hidden=128, weight_decay=5e-4, steps=300), progress=False
    ),
    "K=128, sweep of 32 (mod 53, n 800 and 1100, 16 seeds, 300 steps)": lambda: sweep(
        grid(TrainConfig(modulus=53, hidden=128, weight_decay=5e-4, steps=300), n_train=[800, 1100], seed=range(16)), progress=False
    ),
    "K=2048, one run (classic, 150 steps)": lambda: train(CLASSIC.replace(steps=150, stop_at_test_acc=None), progress=False),
    "K=2048, sweep of 4 (classic, 4 seeds, 50 steps)": lambda: sweep(
        grid(CLASSIC.replace(steps=50, stop_at_test_acc=None), seed=range(4)), progress=False
    ),
}


def fairness() -> list[tuple[str, float, float, float, float]]:
    """(work, quiet s, busy s, quiet s and busy s with torch's default thread count) for each shape."""
    fair = grokkit.device.fair_threads
    rows = []
    for name, work in FAIRNESS_WORK.items():
        quiet_s, busy = quiet(work), with_competitor(work)
        grokkit.device.fair_threads = lambda limit: limit  # every thread torch has, however busy the cores
        try:
            quiet_all, busy_all = quiet(work), with_competitor(work)
        finally:
            grokkit.device.fair_threads = fair
        rows.append((name, quiet_s, busy, quiet_all, busy_all))
    return rows


LONG_BUDGETS = {23: 4000, 53: 4000, 127: 1000}
"""Steps per modulus in (f): the budgets the converged measurements need, cut at M=127 to keep this run short."""


def long_budget_configs() -> list[TrainConfig]:
    """Eight runs per modulus (four at M=127) at n = 2.5 and 3.5 M ln M, no early stop."""
    configs = []
    for m, steps in LONG_BUDGETS.items():
        base = TrainConfig(modulus=m, hidden=128, weight_decay=5e-4, steps=steps, eval_every=10, n_train=1)
        seeds = range(2 if m == 127 else 4)
        configs += grid(base, n_train=[round(2.5 * m * math.log(m)), round(3.5 * m * math.log(m))], seed=seeds)
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=Path(__file__).with_name("results.md"), type=Path)
    args = parser.parse_args()
    os.environ["GROKKIT_PROGRESS"] = "0"

    peak = matmul_gflops()
    plain_s, plain_steps = plain_pytorch_time_to_99(CLASSIC)
    ours_s, ours_steps = grokkit_time_to_99(CLASSIC)
    achieved = run_flops(CLASSIC, ours_steps) / ours_s / 1e9

    configs = sweep_configs()
    batched_s = seconds(lambda: sweep(configs, progress=False))
    sequential_s = seconds(lambda: [train(config, progress=False) for config in configs])

    textbook_s, shortcut_s = transformer_step_seconds(True), transformer_step_seconds(False)
    fair = fairness()

    long = long_budget_configs()
    long_s = seconds(lambda: sweep(long, progress=False))
    long_gflops = sum(run_flops(c, c.steps) for c in long) / long_s / 1e9

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, {torch.get_num_threads()} intra-op threads by default"
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine}. Device: CPU. grokkit {grokkit.__version__}.",
        "Produced by `.venv/bin/python benchmarks/run.py`; all numbers below come from one run of it.",
        "",
        "| measurement | baseline | grokkit | ratio |",
        "| --- | --- | --- | --- |",
        f"| a. classic run, wall time to 99 % test accuracy | plain PyTorch {plain_s:.2f} s ({plain_steps} steps) | {ours_s:.2f} s ({ours_steps} steps) | {plain_s / ours_s:.2f}x faster |",
        f"| b. sweep of {len(configs)} runs (K=128, mod 53, n in 700-1600, 16 seeds, 100 steps) | one after another {sequential_s:.1f} s | batched {batched_s:.1f} s | {sequential_s / batched_s:.2f}x faster |",
        f"| c. classic run, achieved matmul throughput | machine's 2048² fp32 matmul {peak:.1f} GFLOP/s | {achieved:.1f} GFLOP/s | {achieved / peak:.0%} of it |",
        f"| d. transformer training step (mod 113, 30 %, d_model 128) | all three positions {1000 * textbook_s:.0f} ms | only what '=' needs {1000 * shortcut_s:.0f} ms | {textbook_s / shortcut_s:.2f}x faster |",
        f"| f. long-budget sweep, {len(long)} runs (K=128; M 23, 53, 127 with {', '.join(map(str, LONG_BUDGETS.values()))} steps; n 2.5 and 3.5 M ln M; no early stop) | matmul peak {peak:.1f} GFLOP/s | {long_s:.0f} s, {3600 * len(long) / long_s:.0f} runs per hour, {long_gflops:.1f} GFLOP/s | {long_gflops / peak:.0%} of peak |",
        "",
        "e. Throughput with one competing CPU-bound process, as a fraction of the quiet throughput (quiet s / busy s; quiet is the median of three runs):",
        "",
        "| work | quiet | one competitor | busy / quiet throughput | torch's default threads: quiet | one competitor | busy / quiet |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(f"| {name} | {q:.2f} s | {b:.2f} s | {q / b:.2f} | {qa:.2f} s | {ba:.2f} s | {qa / ba:.2f} |" for name, q, b, qa, ba in fair),
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
