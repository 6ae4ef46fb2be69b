"""Notebook conventions and a papermill smoke run of every notebook in the book.

The conventions: each notebook is in the toc, stored without outputs, opens with its title, the Colab install
cell, the folded papermill parameters cell and its quick setting, has smoke parameters and reference key results. tools/book.py itself (parameter
checks, execution errors, the build cache) is tested in tests/test_book.py.
"""

import ast
import json
import re
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from book import check_parameters, execute, toc_notebooks
from colab import REQUIREMENT
from conftest import smoke_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SMOKE = smoke_parameters()
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
PAGE_WIDTH = 76  # characters of code a notebook page shows without scrolling in a 1280-pixel-wide window


def test_every_toc_notebook_exists_and_every_notebook_is_in_the_toc():
    entries = toc_notebooks()
    assert entries, "the toc lists no notebooks"
    assert sorted(f"{e}.ipynb" for e in entries) == sorted(p.relative_to(ROOT).as_posix() for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have stored outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_title_then_colab_cell_then_folded_parameters_then_quick_setting(path):
    cells = nbformat.read(path, as_version=4).cells
    title, install, parameters, quick = cells[:4]
    assert title.cell_type == "markdown" and title.source.startswith("# "), "the page opens with its title and purpose"
    assert "`quick = True`" in title.source and "`check_claims = True`" in title.source, "the first cell tells the learner how to run it"
    assert "remove-cell" in install.metadata.get("tags", [])
    assert '"google.colab" in sys.modules' in install.source
    # tests/colab.py installs a wheel of the working tree with this requirement, git+URL@tag → file://wheel.
    assert f'"{REQUIREMENT}"' in install.source, f'the install cell must %pip install "{REQUIREMENT}"'
    assert {"parameters", "hide-input"} <= set(parameters.metadata.get("tags", [])), "the parameters cell is tagged and folded"
    long = [line for line in parameters.source.splitlines() if len(line) > PAGE_WIDTH]
    assert not long, f"parameter lines wider than the page ({PAGE_WIDTH} characters): {long}"
    declared = papermill.inspect_notebook(str(path))
    assert declared["quick"]["default"] == "False" and declared["check_claims"]["default"] == "False", (
        "a learner starts from the full run and is never stopped by a claim written for the defaults"
    )
    assert quick.source.startswith("if quick:"), "the quick setting follows the parameters (and papermill's injected cell)"
    changed = {target.id for node in ast.walk(ast.parse(quick.source)) if isinstance(node, ast.Assign) for target in node.targets}
    assert changed and changed <= set(declared), f"the quick setting assigns names that are not parameters: {changed - set(declared)}"


def test_every_repository_url_agrees_with_config():
    """The repository URL is set once in _config.yml; every other mention must be the same URL."""
    places = [*NOTEBOOKS, ROOT / "README.md", *(ROOT / "book").glob("*.md")]
    found = {}
    for path in places:
        for url in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", path.read_text()):
            found.setdefault(url.removesuffix(".git"), []).append(path.name)
    assert found, "no repository URL found outside _config.yml"
    assert set(found) == {REPOSITORY}, f"URLs other than {REPOSITORY}: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_smoke_parameters_exist_and_are_declared(path):
    assert path.stem in SMOKE, f"notebooks/smoke.yml has no entry for {path.stem}"
    check_parameters(path, SMOKE[path.stem])
    assert (ROOT / "notebooks" / "reference" / f"{path.stem}.json").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_reference_states_its_tolerance_and_why(path):
    reference = json.loads((ROOT / "notebooks" / "reference" / f"{path.stem}.json").read_text())
    unexplained = [key for key, entry in reference.items() if not entry.get("why") or entry["why"].startswith("state a tolerance")]
    assert not unexplained, f"{path.stem}: reference entries without the reason for their tolerance: {unexplained}"


def test_a_constant_quoted_from_another_notebook_matches_its_reference():
    """03-two-peaks compares the landscape with the trained networks' boundary measured in 03-scaling-law."""
    quoted = papermill.inspect_notebook(str(ROOT / "notebooks" / "03-two-peaks.ipynb"))["training_c"]["default"]
    measured = json.loads((ROOT / "notebooks" / "reference" / "03-scaling-law.json").read_text())["c_long"]["value"]
    assert float(quoted) == measured, f"training_c = {quoted} in 03-two-peaks, but 03-scaling-law measures c_long = {measured}"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def smoke(request, smoke_runs):
    """Each notebook's smoke run, made once in the fresh Colab-like environment and shared with tests/test_install.py."""
    run = smoke_runs(request.param)
    return request.param, run.results, run.executed


def test_smoke_run(smoke):
    path, results, out = smoke
    reference = json.loads((ROOT / "notebooks" / "reference" / f"{path.stem}.json").read_text())
    assert set(results) == set(reference), "the smoke run must record the same key results as the full run"
    images = [o for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the notebook drew no figure"


# Run twice: a notebook that trains (MLPs and a transformer) and is among the cheapest. The quick setting, measured one
# notebook at a time on 2 cores: 03-two-peaks 8 s (no training), 02-representation-learning 45 s, 03-scaling-law 51 s,
# 01-insight 52 s, 03-grokking-dynamics 54 s, 04-loss-as-surrogate 85 s.
TWICE = ROOT / "notebooks" / "02-representation-learning.ipynb"


@pytest.mark.parametrize("smoke", [TWICE], indirect=True, ids=[TWICE.stem])
def test_executing_twice_gives_identical_key_results(smoke, tmp_path, monkeypatch):
    """The same notebook and parameters give the same key results.

    The first run is the shared smoke run in the fresh environment; the second runs here, in the repository's
    environment, so the two installs must agree as well. tests/test_train.py trains a config twice and compares the histories
    exactly inside the test process (single-threaded, conftest.py); this covers a whole notebook in a kernel.
    """
    path, first, _ = smoke
    monkeypatch.setenv("GROKKIT_PROGRESS", "0")
    execute(path, tmp_path / path.name, {**SMOKE[path.stem], "results_dir": str(tmp_path)}, tmp_path)
    assert json.loads((tmp_path / f"{path.stem}.results.json").read_text()) == first


def test_each_figure_cell_shows_exactly_one_image_and_nothing_else(smoke):
    """myst-nb gives a figure cell's name to every output it has; a stray result (a returned Legend, a
    table) would make a second target with the same name and break the book build."""
    _, _, out = smoke
    for index, cell in enumerate(nbformat.read(out, as_version=4).cells):
        if "figure" in cell.metadata.get("mystnb", {}):
            shown = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
            name = cell.metadata["mystnb"]["figure"]["name"]
            assert len(shown) == 1 and "image/png" in shown[0].data, f"cell {index} ({name}) shows {len(shown)} outputs"
