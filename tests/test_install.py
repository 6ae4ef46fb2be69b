"""Colab: the install cell works in a fresh environment, and no notebook reads files from the repository.

The fresh environment and the smoke run of each notebook in it are made once per session (tests/colab.py,
conftest.py) and shared with tests/test_notebooks.py. Slow: the environment's set-up and each run print their
wall time (``pytest -s tests/test_install.py``).
"""

from __future__ import annotations

import io
import re
import tokenize

import nbformat
import pytest

from colab import ROOT, TOC_NOTEBOOKS, inside

ALL_NOTEBOOKS = sorted({*TOC_NOTEBOOKS, *(ROOT / "notebooks").glob("*.ipynb")})


@pytest.mark.parametrize("notebook", TOC_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_a_fresh_environment_outside_the_repository(notebook, smoke_runs, fresh_env):
    run = smoke_runs(notebook)
    probe, venv = run.probe, fresh_env.python.parent.parent
    assert inside(probe["prefix"], venv), f"the kernel ran {probe['executable']}, not the fresh venv's Python"
    assert inside(probe["grokkit"], venv), f"grokkit was imported from {probe['grokkit']}, not the fresh venv"
    assert inside(probe["cwd"], run.workdir), f"the kernel ran in {probe['cwd']}, not {run.workdir}"
    on_path = [entry for entry in probe["path"] if entry and inside(entry, ROOT)]
    assert not on_path, f"the repository is on the kernel's sys.path: {on_path}"


# Static check: a notebook opened in Colab has no repository beside it, so it must not read repository
# files (data, configs, code) by path. Reading what it wrote itself through its results_dir / cache_dir
# parameters is fine.
READS = [
    (r"\bopen\(", "open()"),
    (r"\bread_(csv|json|table|excel|parquet|pickle|feather|hdf|fwf|sql)\(", "pandas read_*()"),
    (r"\b(np|numpy)\.(load|loadtxt|genfromtxt|fromfile)\(", "numpy load"),
    (r"\btorch\.load\(", "torch.load()"),
    (r"\b(json|yaml|pickle|tomllib)\.(safe_)?load\(", "load() of a file"),
    (r"\bPath\(\s*[rbfu]*[\"']", "Path() of a literal path"),
    (r"\.read_(text|bytes)\(", "read_text()/read_bytes()"),
    (r"\b(i?glob|listdir|scandir)\(", "listing a folder"),
    (r"\bos\.chdir\(|run_line_magic\(['\"](cd|run|load)['\"]", "%cd, %run, %load or os.chdir()"),
    (r"\bsys\.path\b", "sys.path"),
    (r"__file__", "__file__"),
    (r"\bimread\(", "imread()"),
    (r"""["'][^"'\n]*(\.\./|(?<![\w.-])(notebooks|book|src|tools|tests|benchmarks|_build|data)/)""", "a path into the repository"),
    (r"""["'][^"'\n]*\b(_config\.yml|_toc\.yml|smoke\.yml|constraints\.txt|pyproject\.toml|references\.bib)\b""", "a repository file"),
]
PARAMETER_PATHS = re.compile(r"\b(results_dir|cache_dir)\b")


def repository_reads(source: str) -> list[str]:
    """``line: what`` for every line of a code cell that reads a file by path (comments ignored)."""
    from IPython.core.inputtransformer2 import TransformerManager

    python = TransformerManager().transform_cell(source)  # magics become get_ipython().run_line_magic(...)
    lines = python.splitlines()
    try:
        for token in tokenize.generate_tokens(io.StringIO(python).readline):
            if token.type == tokenize.COMMENT:
                (row, col), (_, end) = token.start, token.end
                lines[row - 1] = lines[row - 1][:col] + " " * (end - col) + lines[row - 1][end:]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # an unparsable cell is still scanned, comments and all
    found = []
    for line in lines:
        if PARAMETER_PATHS.search(line):
            continue
        found += [f"{line.strip()}  ({what})" for pattern, what in READS if re.search(pattern, line)]
    return found


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_reads_files_by_paths_relative_to_the_repository(notebook):
    cells = nbformat.read(notebook, as_version=4).cells
    found = [f"cell {index}: {hit}" for index, cell in enumerate(cells) if cell.cell_type == "code" for hit in repository_reads(cell.source)]
    assert not found, (
        f"{notebook.name} reads files by path, which a notebook opened in Colab does not have "
        "(compute the data, or ship it inside grokkit):\n  " + "\n  ".join(found)
    )


@pytest.mark.parametrize(
    "source",
    [
        'df = pd.read_csv("../data/x.csv")',
        'with open("notebooks/smoke.yml") as f:\n    pass',
        'table = Path("book") / "table.md"',
        'sys.path.insert(0, "../src")',
        "%run ../tools/helper.py",
        'cfg = yaml.safe_load(open("_config.yml"))',
        'weights = torch.load("data/weights.pt")',
    ],
)
def test_the_scan_finds_reads_of_repository_files(source):
    assert repository_reads(source)


@pytest.mark.parametrize(
    "source",
    [
        "# Parameters. The defaults are the full run; tests run a smoke set (notebooks/smoke.yml).\nsteps = 10",
        'results = grokkit.KeyResults("02-representation-learning", results_dir)',
        'if "google.colab" in sys.modules:\n    %pip install --quiet "grokkit @ git+https://github.com/grokkit-book/grokkit"',
        "table = grokkit.sweep(configs, cache_dir=cache_dir)",
    ],
)
def test_the_scan_leaves_computed_data_and_comments_alone(source):
    assert repository_reads(source) == []
