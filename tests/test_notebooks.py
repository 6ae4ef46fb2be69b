"""Notebook conventions (DESIGN.md §4) and a papermill smoke run of every notebook in the book."""

import json
import re
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml
from book import BuildError, check_parameters, environment, execute, input_hash, toc_notebooks
from conftest import smoke_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SMOKE = smoke_parameters()
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


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
def test_colab_cell_then_parameters_cell(path):
    cells = nbformat.read(path, as_version=4).cells
    install, parameters = cells[0], cells[1]
    assert "remove-cell" in install.metadata.get("tags", [])
    assert '"google.colab" in sys.modules' in install.source
    # tests/test_install.py installs a wheel of the working tree with this requirement, git+URL → file://wheel.
    assert f'"grokkit @ git+{REPOSITORY}"' in install.source, f"the install cell must %pip install \"grokkit @ git+{REPOSITORY}\""
    assert "parameters" in parameters.metadata.get("tags", [])


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


def test_a_constant_quoted_from_another_notebook_matches_its_reference():
    """03-two-peaks compares the landscape with the trained networks' boundary measured in 03-scaling-law."""
    quoted = papermill.inspect_notebook(str(ROOT / "notebooks" / "03-two-peaks.ipynb"))["training_c"]["default"]
    measured = json.loads((ROOT / "notebooks" / "reference" / "03-scaling-law.json").read_text())["c_long"]["value"]
    assert float(quoted) == measured, f"training_c = {quoted} in 03-two-peaks, but 03-scaling-law measures c_long = {measured}"


def test_build_cache_key_follows_python_and_package_versions():
    notebook, parameters = NOTEBOOKS[0], {"results_dir": "."}
    env = environment()
    assert re.search(r"^torch==\S+$", env, re.M) and re.search(r"^papermill==\S+$", env, re.M), "the key must list the installed packages"
    assert env.startswith("python 3."), "the key must name the Python version"
    key = input_hash(notebook, parameters, env)
    assert input_hash(notebook, parameters) == key, "the key must read the running environment"
    upgraded = re.sub(r"^(numpy==)\S+$", r"\g<1>0.0.1", env, flags=re.M)
    other_python = env.replace("python 3.", "python 4.", 1)
    assert len({key, input_hash(notebook, parameters, upgraded), input_hash(notebook, parameters, other_python)}) == 3


def test_unknown_parameter_fails_fast(tmp_path):
    path = NOTEBOOKS[0]
    with pytest.raises(BuildError, match=r"unknown parameter\(s\) \['modulos'\]"):
        execute(path, tmp_path / "out.ipynb", {"modulos": 7}, tmp_path)


def test_mistyped_parameter_fails_fast(tmp_path):
    with pytest.raises(BuildError, match=r"parameter modulus must be int like its default 71, got str '71'"):
        execute(ROOT / "notebooks" / "03-grokking-dynamics.ipynb", tmp_path / "out.ipynb", {"modulus": "71"}, tmp_path)


def smoke_run(path: Path, directory: Path) -> tuple[dict[str, float], Path]:
    """Execute ``path`` with its smoke parameters in ``directory``; its key results and executed copy."""
    out = directory / path.name
    execute(path, out, {**SMOKE[path.stem], "results_dir": str(directory)}, directory)
    return json.loads((directory / f"{path.stem}.results.json").read_text()), out


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.stem)
def smoke(request, tmp_path_factory):
    """One smoke run per notebook, shared by the tests below."""
    path = request.param
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GROKKIT_PROGRESS", "0")
        results, out = smoke_run(path, tmp_path_factory.mktemp(path.stem))
    return path, results, out


def test_smoke_run(smoke):
    path, results, out = smoke
    reference = json.loads((ROOT / "notebooks" / "reference" / f"{path.stem}.json").read_text())
    assert set(results) == set(reference), "the smoke run must record the same key results as the full run"
    images = [o for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the notebook drew no figure"


def test_executing_twice_gives_identical_key_results(smoke, tmp_path, monkeypatch):
    path, first, _ = smoke
    monkeypatch.setenv("GROKKIT_PROGRESS", "0")
    second, _ = smoke_run(path, tmp_path)
    assert second == first


def test_a_failing_cell_names_the_notebook_and_the_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("assert x == 2, 'the claim does not hold'"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    source = tmp_path / "broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(BuildError, match=r"broken\.ipynb failed in cell 2 of the executed copy .*AssertionError: the claim does not hold"):
        execute(source, tmp_path / "out.ipynb", {}, tmp_path)


def test_each_figure_cell_shows_exactly_one_image_and_nothing_else(smoke):
    """myst-nb gives a figure cell's name to every output it has; a stray result (a returned Legend, a
    table) would make a second target with the same name and break the book build."""
    _, _, out = smoke
    for index, cell in enumerate(nbformat.read(out, as_version=4).cells):
        if "figure" in cell.metadata.get("mystnb", {}):
            shown = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
            name = cell.metadata["mystnb"]["figure"]["name"]
            assert len(shown) == 1 and "image/png" in shown[0].data, f"cell {index} ({name}) shows {len(shown)} outputs"
