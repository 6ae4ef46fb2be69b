"""Shared test set-up: single-threaded torch (tiny models, fast and reproducible) and the build tools."""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
torch.set_num_threads(1)


def smoke_parameters() -> dict[str, dict[str, object]]:
    """The smoke parameters of notebooks/smoke.yml, by notebook name (shared by the notebook and install tests)."""
    import yaml

    return yaml.safe_load((ROOT / "notebooks" / "smoke.yml").read_text())
