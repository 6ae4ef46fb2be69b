"""A Colab-like session for the tests: a fresh virtual environment outside the repository with grokkit
installed the way each notebook's install cell installs it, and one smoke run of each notebook in it.

In Colab a notebook's first cell runs ``%pip install ... "grokkit @ git+<repository URL>"``. Here a fresh
virtual environment outside the repository gets the same pip arguments with the URL replaced by a wheel
built from the working tree (``grokkit @ file://...whl``), plus papermill and ipykernel (Colab has the
kernel; papermill is the executor). The versions are Colab's: constraints-colab.txt (the numpy, pandas,
matplotlib, seaborn, scikit-learn, scipy and tqdm of Colab's runtime) replaces those packages' lines of
constraints.txt, whose pins hold for everything else, torch (the local CPU wheel) among them; the environment
variable GROKKIT_FRESH_VERSIONS names another such file (tools/lowest.py: the lowest versions that
pyproject.toml allows). A notebook is copied to a directory outside the repository and executed there with
its smoke parameters by that environment's kernel, with the repository nowhere on sys.path; a probe cell
appended to the copy proves which grokkit and which Python ran it. conftest.py shares one such run per
notebook between the install test and the notebook tests (tests/test_install.py, tests/test_notebooks.py).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from book import toc_notebooks

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
VERSION = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]
REQUIREMENT = f"grokkit @ git+{REPOSITORY}@v{VERSION}"  # what the install cell asks pip for in Colab: the book's release
TOC_NOTEBOOKS = [ROOT / f"{entry}.ipynb" for entry in toc_notebooks()]
# What a wheel of the working tree is built from (copied out first, so the build leaves no build/ behind
# in the shared tree). A file that pyproject.toml starts to need must be added here.
PACKAGE_FILES = ["pyproject.toml", "README.md", "src", "LICENSE", "LICENSE.txt", "MANIFEST.in", "setup.cfg", "setup.py"]
NOTEBOOK_TIMEOUT_S = 1800
# The versions the fresh environment gets in place of constraints.txt's (see the module's docstring).
VERSIONS = Path(os.environ.get("GROKKIT_FRESH_VERSIONS") or ROOT / "constraints-colab.txt")
PROBE_MARK = "GROKKIT-INSTALL-PROBE "
PROBE = f"""import json, os, sys
import grokkit
seen = {{"executable": sys.executable, "prefix": sys.prefix, "grokkit": grokkit.__file__, "cwd": os.getcwd(), "path": sys.path}}
print({PROBE_MARK!r} + json.dumps(seen))"""


def install_cell(path: Path) -> nbformat.NotebookNode:
    """The notebook's one code cell that runs ``%pip install`` (the Colab install cell)."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" and "%pip install" in c.source]
    assert len(cells) == 1, f"{path.name} must have exactly one install cell, found {len(cells)}"
    return cells[0]


def install_arguments(source: str) -> list[str]:
    """pip's arguments in an install cell's ``%pip install ...`` line."""
    lines = [line.strip() for line in source.splitlines() if line.strip().startswith("%pip install ")]
    assert len(lines) == 1, f"the install cell must have exactly one `%pip install` line, found {lines}"
    return shlex.split(lines[0].removeprefix("%pip install "))


def package_name(line: str) -> str:
    """The normalized package name of a constraints line (``Scikit_Learn==1.6.1`` gives ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line.strip())[0]).lower()


def constraint_lines(path: Path) -> list[str]:
    """The lines of a constraints file, without comments and blank lines."""
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#")]


def merged_constraints(overrides: Path, base: Path = ROOT / "constraints.txt") -> list[str]:
    """``base``'s lines with each package named in ``overrides`` replaced by its line there; a bare name there
    (no version) drops the package's pin."""
    replaced = {package_name(line): line for line in constraint_lines(overrides)}
    kept = [line for line in constraint_lines(base) if package_name(line) not in replaced]
    return kept + [line for line in replaced.values() if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)]


def inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def clean_environment(venv: Path, scratch: Path) -> dict[str, str]:
    """The environment of a fresh Colab-like session: the new venv first on PATH, nothing of the repository
    (no PYTHONPATH, no .venv on PATH), no user site-packages, and empty Jupyter/IPython user folders so no
    user-level ``python3`` kernelspec or startup file can point elsewhere."""
    dropped = {
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "JUPYTER_PATH",
        "JUPYTER_DATA_DIR",
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_RUNTIME_DIR",
        "IPYTHONDIR",
    }
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


@dataclass(frozen=True)
class FreshEnv:
    python: Path
    env: dict[str, str]
    base: Path


def make_fresh_env(base: Path) -> FreshEnv:
    """A new venv in ``base`` (outside the repository) with grokkit installed the way the install cell installs it."""
    assert not inside(base, ROOT), f"the fresh environment must lie outside the repository, not in {base}"
    sources = {path: install_cell(path).source for path in TOC_NOTEBOOKS}
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
    constraints = base / "constraints.txt"
    constraints.write_text(f"# constraints.txt with the versions of {VERSIONS}\n" + "\n".join(merged_constraints(VERSIONS)) + "\n")
    run(
        [str(python), "-m", "pip", "install", *pip_arguments, "papermill", "ipykernel", "-c", str(constraints)],
        "installing grokkit into the fresh venv",
        env=env,
        cwd=base,
    )
    listed = run([str(python), "-m", "pip", "list", "--format=json"], "listing the installed packages", env=env, cwd=base).stdout
    installed = {package_name(p["name"]): p["version"] for p in json.loads(listed)}
    chosen = ", ".join(f"{name} {installed.get(name, '-')}" for name in sorted({package_name(line) for line in constraint_lines(VERSIONS)}))
    print(f"\n[install] wheel built in {built - start:.1f} s; venv created and grokkit installed in {time.perf_counter() - built:.1f} s")
    print(f"[install] versions of {VERSIONS.name}: {chosen}; torch {installed.get('torch')}")
    return FreshEnv(python, env, base)


@dataclass(frozen=True)
class SmokeRun:
    """A notebook executed with its smoke parameters in the fresh environment."""

    notebook: Path
    workdir: Path
    executed: Path
    results: dict[str, float]
    probe: dict[str, object]


def smoke_run_in(fresh: FreshEnv, notebook: Path, parameters: dict[str, object]) -> SmokeRun:
    """Execute a copy of ``notebook`` (with the probe cell appended) outside the repository in ``fresh``."""
    workdir = fresh.base / notebook.stem
    workdir.mkdir()
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    copy, executed = workdir / notebook.name, workdir / f"{notebook.stem}.executed.ipynb"
    nbformat.write(nb, copy)
    parameters = {**parameters, "results_dir": "."}  # "." is the cwd: key results land beside the copy
    start = time.perf_counter()
    done = subprocess.run(
        [
            str(fresh.python),
            "-m",
            "papermill",
            copy.name,
            executed.name,
            "-k",
            "python3",
            "--cwd",
            str(workdir),
            "-y",
            json.dumps(parameters),
            "--no-progress-bar",
        ],
        capture_output=True,
        text=True,
        env=fresh.env,
        cwd=workdir,
        timeout=NOTEBOOK_TIMEOUT_S,
    )
    print(f"\n[install] {notebook.stem} executed in {time.perf_counter() - start:.1f} s")
    assert done.returncode == 0, f"{notebook.name} failed in the fresh environment; executed copy {executed}\n{done.stderr[-4000:]}"
    outputs = nbformat.read(executed, as_version=4).cells[-1].outputs
    lines = [line for o in outputs if o.output_type == "stream" for line in o.text.splitlines() if line.startswith(PROBE_MARK)]
    assert lines, f"the probe cell printed nothing: {outputs}"
    results_path = workdir / f"{notebook.stem}.results.json"
    assert results_path.exists(), "the key results were not written to the working directory"
    return SmokeRun(notebook, workdir, executed, json.loads(results_path.read_text()), json.loads(lines[0].removeprefix(PROBE_MARK)))
