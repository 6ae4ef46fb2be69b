"""Shared test set-up: single-threaded torch (tiny models, fast and reproducible), the build tools and the bad-input check."""

import os
import re
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
torch.set_num_threads(1)


def smoke_parameters() -> dict[str, dict[str, object]]:
    """The smoke parameters of notebooks/smoke.yml, by notebook name (shared by the notebook and install tests)."""
    import yaml

    return yaml.safe_load((ROOT / "notebooks" / "smoke.yml").read_text())


@pytest.fixture(scope="session")
def fresh_env(tmp_path_factory):
    """The Colab-like environment of tests/colab.py, built once per session (removed afterwards: about a GiB)."""
    from colab import make_fresh_env

    fresh = make_fresh_env(tmp_path_factory.mktemp("fresh-install"))
    yield fresh
    import shutil

    shutil.rmtree(fresh.python.parent.parent, ignore_errors=True)  # the executed notebooks are kept


@pytest.fixture(scope="session")
def smoke_runs(fresh_env):
    """``smoke_runs(notebook)``: its smoke run in the fresh environment, executed once per session and shared
    by the install test and the notebook tests."""
    from colab import smoke_run_in

    done = {}

    def run(notebook):
        if notebook not in done:
            done[notebook] = smoke_run_in(fresh_env, notebook, smoke_parameters()[notebook.stem])
        return done[notebook]

    return run


def refused(call, name):
    """``call()`` must raise ValueError/TypeError whose message names ``name`` (shared by the bad-input tests)."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert re.search(rf"(?<!\w){re.escape(name)}(?!\w)", str(info.value)), f"message does not name {name!r}: {info.value}"


# Sixty examples per property, no deadline (the first call of a torch op is slow). CI draws the same examples on
# every run, so a failure there is one anyone can rerun; `HYPOTHESIS_PROFILE=deep` searches wider with fresh ones.
settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("ci", settings.get_profile("default"), derandomize=True)
settings.register_profile("deep", settings.get_profile("default"), max_examples=1000)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "default"))
