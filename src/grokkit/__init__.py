"""grokkit: the experiments of *From Memorization to Generalization*, a book on grokking."""

from .device import pick_device
from .losses import LOSSES
from .metrics import first_step_reaching
from .models import ACTIVATIONS, TwoLayerNet
from .results import KeyResults
from .sweep import grid, histories, random_configs, runs_table, sweep
from .tasks import OPERATIONS, ModularTask, Split
from .train import OPTIMIZERS, TrainConfig, TrainResult, train, train_many

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "OPERATIONS",
    "OPTIMIZERS",
    "KeyResults",
    "ModularTask",
    "Split",
    "TrainConfig",
    "TrainResult",
    "TwoLayerNet",
    "first_step_reaching",
    "pick_device",
    "train",
    "train_many",
    "grid",
    "histories",
    "random_configs",
    "runs_table",
    "sweep",
]
