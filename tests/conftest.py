"""Shared test set-up: single-threaded torch (tiny models, fast and reproducible) and the build tools."""

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
torch.set_num_threads(1)
