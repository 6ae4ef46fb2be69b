"""Colab: the install cell works in a fresh environment, and no notebook reads files from the repository.

In Colab a notebook's first cell runs ``%pip install ... "grokkit @ git+<repository URL>"``. Here a fresh
virtual environment outside the repository gets the same pip arguments with the URL replaced by a wheel
built from the working tree (``grokkit @ file://...whl``), plus papermill and ipykernel (Colab has the
kernel; papermill is the executor), pinned by constraints.txt so torch is the local CPU wheel. Every
notebook of _toc.yml is then copied to a directory outside the repository and executed there with its
smoke parameters by that environment's kernel, with the repository nowhere on sys.path. A probe cell
appended to the copy proves which grokkit and which Python ran it.

Slow (one environment per session, each notebook run once): the environment's set-up and each run print
their wall time (``pytest -s tests/test_install.py``).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tokenize
from pathlib import Path

import nbformat
import pytest
import yaml
from book import toc_notebooks
from conftest import smoke_parameters

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
REQUIREMENT = f"grokkit @ git+{REPOSITORY}"  # what the install cell asks pip for in Colab
TOC_NOTEBOOKS = [ROOT / f"{entry}.ipynb" for entry in toc_notebooks()]
ALL_NOTEBOOKS = sorted({*TOC_NOTEBOOKS, *(ROOT / "notebooks").glob("*.ipynb")})
SMOKE = smoke_parameters()
# What a wheel of the working tree is built from (copied out first, so the build leaves no build/ behind
# in the shared tree). A file that pyproject.toml starts to need must be added here.
PACKAGE_FILES = ["pyproject.toml", "README.md", "src", "LICENSE", "LICENSE.txt", "MANIFEST.in", "setup.cfg", "setup.py"]
NOTEBOOK_TIMEOUT_S = 1800
PROBE_MARK = "GROKKIT-INSTALL-PROBE "
PROBE = f"""import json, os, sys
import grokkit
print({PROBE_MARK!r} + json.dumps({{"executable": sys.executable, "prefix": sys.prefix, "grokkit": grokkit.__file__, "cwd": os.getcwd(), "path": sys.path}}))"""


def install_arguments(source: str) -> list[str]:
    """pip's arguments in an install cell's ``%pip install ...`` line."""
    lines = [line.strip() for line in source.splitlines() if line.strip().startswith("%pip install ")]
    assert len(lines) == 1, f"the install cell must have exactly one `%pip install` line, found {lines}"
    return shlex.split(lines[0].removeprefix("%pip install "))


def inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def clean_environment(venv: Path, scratch: Path) -> dict[str, str]:
    """The environment of a fresh Colab-like session: the new venv first on PATH, nothing of the repository
    (no PYTHONPATH, no .venv on PATH), no user site-packages, and empty Jupyter/IPython user folders so no
    user-level ``python3`` kernelspec or startup file can point elsewhere."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "CONDA_PREFIX",
               "JUPYTER_PATH", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    path = [entry for entry in env.get("PATH", "").split(os.pathsep) if entry and not inside(entry, ROOT)]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    for name in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "IPYTHONDIR"):
        env[name] = str(scratch / name.lower())
    env["PYTHONNOUSERSITE"] = "1"
    env["GROKKIT_PROGRESS"] = "0"
    return env


def run(command: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{what} failed ({done.returncode}): {shlex.join(command)}\n{(done.stdout + done.stderr)[-4000:]}"
    return done


@pytest.fixture(scope="session")
def fresh_env(tmp_path_factory):
    """A new venv outside the repository with grokkit installed the way the install cell installs it."""
    base = tmp_path_factory.mktemp("fresh-install")
    assert not inside(base, ROOT), f"the fresh environment must lie outside the repository, not in {base}"
    sources = {path: nbformat.read(path, as_version=4).cells[0].source for path in TOC_NOTEBOOKS}
    arguments = {path.name: install_arguments(source) for path, source in sources.items()}
    assert len({tuple(a) for a in arguments.values()}) == 1, f"the install cells differ: {arguments}"
    cell_arguments = next(iter(arguments.values()))
    assert REQUIREMENT in cell_arguments, f"the install cell must install {REQUIREMENT!r}, it has {cell_arguments}"

    start = time.perf_counter()
    source = base / "source"
    source.mkdir()
    for name in PACKAGE_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
        elif (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(base / "dist"), str(source)], "building the wheel")
    (wheel,) = (base / "dist").glob("grokkit-*.whl")
    built = time.perf_counter()

    venv = base / "venv"
    env = clean_environment(venv, base)
    run([sys.executable, "-m", "venv", str(venv)], "creating the venv", env=env, cwd=base)
    python = venv / "bin" / "python"
    pip_arguments = [f"grokkit @ {wheel.as_uri()}" if a == REQUIREMENT else a for a in cell_arguments]
    run([str(python), "-m", "pip", "install", *pip_arguments, "papermill", "ipykernel", "-c", str(ROOT / "constraints.txt")],
        "installing grokkit into the fresh venv", env=env, cwd=base)
    installed = time.perf_counter()
    print(f"\n[install] wheel built in {built - start:.1f} s; venv created and grokkit installed in {installed - built:.1f} s")
    yield python, env, base
    shutil.rmtree(venv, ignore_errors=True)  # about a GiB with torch; the executed notebooks are kept


@pytest.mark.parametrize("notebook", TOC_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_a_fresh_environment_outside_the_repository(notebook, fresh_env):
    python, env, base = fresh_env
    assert notebook.stem in SMOKE, f"notebooks/smoke.yml has no entry for {notebook.stem}"
    workdir = base / notebook.stem
    workdir.mkdir()
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    copy, executed = workdir / notebook.name, workdir / f"{notebook.stem}.executed.ipynb"
    nbformat.write(nb, copy)
    parameters = {**SMOKE[notebook.stem], "results_dir": "."}  # "." is the cwd: key results land beside the copy

    start = time.perf_counter()
    done = subprocess.run(
        [str(python), "-m", "papermill", copy.name, executed.name, "-k", "python3", "--cwd", str(workdir),
         "-y", json.dumps(parameters), "--no-progress-bar"],
        capture_output=True, text=True, env=env, cwd=workdir, timeout=NOTEBOOK_TIMEOUT_S,
    )
    print(f"\n[install] {notebook.stem} executed in {time.perf_counter() - start:.1f} s")
    assert done.returncode == 0, f"{notebook.name} failed in the fresh environment; executed copy {executed}\n{done.stderr[-4000:]}"

    outputs = nbformat.read(executed, as_version=4).cells[-1].outputs
    lines = [line for o in outputs if o.output_type == "stream" for line in o.text.splitlines() if line.startswith(PROBE_MARK)]
    assert lines, f"the probe cell printed nothing: {outputs}"
    probe = json.loads(lines[0].removeprefix(PROBE_MARK))
    venv = python.parent.parent
    assert inside(probe["prefix"], venv), f"the kernel ran {probe['executable']}, not the fresh venv's Python"
    assert inside(probe["grokkit"], venv), f"grokkit was imported from {probe['grokkit']}, not the fresh venv"
    assert inside(probe["cwd"], workdir), f"the kernel ran in {probe['cwd']}, not {workdir}"
    on_path = [entry for entry in probe["path"] if entry and inside(entry, ROOT)]
    assert not on_path, f"the repository is on the kernel's sys.path: {on_path}"
    assert (workdir / f"{notebook.stem}.results.json").exists(), "the key results were not written to the working directory"


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
    found = [f"cell {index}: {hit}" for index, cell in enumerate(cells) if cell.cell_type == "code"
             for hit in repository_reads(cell.source)]
    assert not found, (f"{notebook.name} reads files by path, which a notebook opened in Colab does not have "
                       "(compute the data, or ship it inside grokkit):\n  " + "\n  ".join(found))


@pytest.mark.parametrize("source", [
    'df = pd.read_csv("../data/x.csv")',
    'with open("notebooks/smoke.yml") as f:\n    pass',
    'table = Path("book") / "table.md"',
    'sys.path.insert(0, "../src")',
    '%run ../tools/helper.py',
    'cfg = yaml.safe_load(open("_config.yml"))',
    'weights = torch.load("data/weights.pt")',
])
def test_the_scan_finds_reads_of_repository_files(source):
    assert repository_reads(source)


@pytest.mark.parametrize("source", [
    "# Parameters. The defaults are the full run; tests run a smoke set (notebooks/smoke.yml).\nsteps = 10",
    'results = grokkit.KeyResults("02-representation-learning", results_dir)',
    'if "google.colab" in sys.modules:\n    %pip install --quiet "grokkit @ git+https://github.com/grokkit-book/grokkit"',
    "table = grokkit.sweep(configs, cache_dir=cache_dir)",
])
def test_the_scan_leaves_computed_data_and_comments_alone(source):
    assert repository_reads(source) == []
