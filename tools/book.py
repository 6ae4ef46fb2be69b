"""Build the book: execute every notebook in _toc.yml with papermill, check its key results, render HTML.

    python tools/book.py build                 # what `make book` runs: HTML in _build/html
    python tools/book.py build --no-solutions  # `make book-student`: HTML without solutions in _build/student/html
    python tools/book.py build --pdf           # `make pdf`: PDF in _build/latex/book.pdf (needs TeX, see README.md)
    python tools/book.py update-references     # accept the current key results as the new references

Source notebooks are stored without outputs; executed copies go to _build/source (a staged copy of
the book), which Jupyter Book renders into _build/html with its own execution off. A notebook whose
inputs (notebook, library source, parameters, Python and package versions) are unchanged is reused
from _build/cache.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill
import yaml

from grokkit.results import compare

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAGE = BUILD / "source"
CACHE = BUILD / "cache"
STUDENT = BUILD / "student"  # the edition without solutions (`build --no-solutions`)
REFERENCES = ROOT / "notebooks" / "reference"


class BuildError(RuntimeError):
    """A failure the build reports in one readable message (no traceback needed)."""


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every page of the table of contents (root first), as paths relative to the root without suffix."""

    def walk(node: object) -> list[str]:
        if isinstance(node, dict):
            return ([node["file"]] if "file" in node else []) + [f for value in node.values() for f in walk(value)]
        return [f for item in node for f in walk(item)] if isinstance(node, list) else []

    toc = yaml.safe_load(toc_path.read_text())
    return [toc["root"], *walk(toc.get("parts", toc.get("chapters", [])))]


def toc_notebooks() -> list[str]:
    """The toc pages that are notebooks."""
    return [page for page in toc_files() if (ROOT / f"{page}.ipynb").exists()]


def check_parameters(notebook: Path, parameters: dict[str, object]) -> None:
    """Fail before executing if a parameter is not declared in the ``parameters`` cell or has the wrong type.

    The type allowed is the type of the declared default (an int is accepted where the default is a
    float; a default of ``None`` accepts anything).
    """
    declared = papermill.inspect_notebook(str(notebook))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise BuildError(f"{notebook.name}: unknown parameter(s) {unknown}; the notebook declares {sorted(declared)}")
    for name, value in parameters.items():
        default = ast.literal_eval(declared[name]["default"])
        if default is None or value is None:
            continue
        expected = (int, float) if type(default) is float else type(default)
        if type(value) is bool and expected is not bool or not isinstance(value, expected):
            raise BuildError(
                f"{notebook.name}: parameter {name} must be {type(default).__name__} like its default "
                f"{declared[name]['default']}, got {type(value).__name__} {value!r}"
            )


def execute(notebook: Path, output: Path, parameters: dict[str, object], workdir: Path) -> None:
    """Run ``notebook`` top to bottom into ``output``; a failing cell raises BuildError naming it."""
    check_parameters(notebook, parameters)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            cwd=str(workdir),
            kernel_name="python3",
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as error:
        raise BuildError(
            f"{notebook.name} failed in cell {error.cell_index + 1} of the executed copy (execution count {error.exec_count}): "
            f"{error.ename}: {error.evalue}\nExecuted copy with the traceback: {output}"
        ) from None
    clean_executed(output)


def clean_executed(path: Path) -> None:
    """Drop what only the build machine needs from an executed notebook, which readers download from its page:
    papermill's injected-parameters cell (the build's settings, such as an absolute ``cache_dir``) and
    papermill's record of the build's paths. The parameters cell keeps the defaults a learner starts from."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [cell for cell in notebook.cells if "injected-parameters" not in cell.metadata.get("tags", [])]
    notebook.metadata.pop("papermill", None)
    nbformat.write(notebook, path)


def environment() -> str:
    """The Python version and every installed distribution with its version, one per line.

    Everything the kernel can import counts (torch, numpy, pandas, matplotlib, seaborn, papermill, ...):
    an upgrade of any of them can change a figure or a number, so it must re-execute the notebooks.
    """
    packages = sorted({f"{d.metadata['Name'].lower()}=={d.version}" for d in importlib.metadata.distributions() if d.metadata["Name"]})
    return "\n".join([f"python {sys.version} {platform.machine()}", *packages])


def input_hash(notebook: Path, parameters: dict[str, object], env: str | None = None) -> str:
    """Hash of what determines a notebook's outputs: its source, grokkit's source, the parameters and
    the environment (:func:`environment`, read now unless given)."""
    digest = hashlib.sha256(notebook.read_bytes())
    for path in sorted((ROOT / "src" / "grokkit").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    digest.update((environment() if env is None else env).encode())
    return digest.hexdigest()[:16]


def cache_entry(entry: Path, name: str) -> dict[str, float] | None:
    """The metadata of a complete cache entry for notebook ``name``, or None for a missing or damaged one.

    A build writes meta.json last and renames the entry into place, so an interrupted build leaves no
    entry; the checks here catch one damaged afterwards (a file deleted or truncated), which is then
    executed again rather than failing the build or staging a broken page.
    """
    try:
        meta = json.loads((entry / "meta.json").read_text())
        json.loads((entry / f"{name}.results.json").read_text())
        nbformat.read(entry / f"{name}.ipynb", as_version=4)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("seconds"), (int, float)) else None


@dataclass
class Executed:
    name: str
    status: str
    seconds: float
    results: dict[str, float]


def run_notebook(entry: str) -> Executed:
    """Execute one toc notebook into the stage (or reuse it from the cache) and return its record."""
    source = ROOT / f"{entry}.ipynb"
    name = source.stem
    target = STAGE / f"{entry}.ipynb"
    results_name = f"{name}.results.json"
    declared = papermill.inspect_notebook(str(source))
    parameters: dict[str, object] = {"results_dir": "."}
    if "check_claims" in declared:  # the claims hold for the defaults, which the book runs: assert them
        parameters["check_claims"] = True
    if "cache_dir" in declared:  # notebooks that sweep share one run cache
        parameters["cache_dir"] = str(BUILD / "runs")
    cached = CACHE / f"{name}-{input_hash(source, parameters)}"
    meta = cache_entry(cached, name)
    if meta is not None:
        status = "reused from cache"
    else:
        scratch = BUILD / "run" / name
        shutil.rmtree(scratch, ignore_errors=True)
        start = time.perf_counter()
        execute(source, scratch / source.name, parameters, scratch)
        meta = {"seconds": round(time.perf_counter() - start, 1)}
        if not (scratch / results_name).exists():
            raise BuildError(f"{name} did not write {results_name}; every notebook must save its KeyResults")
        partial = cached.with_name(f"{cached.name}.tmp")
        shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted build: none of it may leak in
        shutil.copytree(scratch, partial)
        (partial / "meta.json").write_text(json.dumps(meta))
        shutil.rmtree(cached, ignore_errors=True)
        partial.rename(cached)  # the cache entry appears only once it is complete
        status = "executed"
    shutil.copy(cached / source.name, target)
    return Executed(name, status, meta["seconds"], json.loads((cached / results_name).read_text()))


def compare_with_reference(record: Executed) -> list[str]:
    """Readable lines for every key result that drifted from its committed reference."""
    reference_file = REFERENCES / f"{record.name}.json"
    if not reference_file.exists():
        return [f"{record.name}: no reference file {reference_file.relative_to(ROOT)} (run `make update-references`)"]
    reference = json.loads(reference_file.read_text())
    return [f"{record.name}: {drift}" for drift in compare(record.results, reference)]


def tolerance(entry: dict) -> str:
    """A reference entry's tolerance in words: absolute, relative (as a percentage), both, or exact."""
    parts = [f"± {entry['abs']:g}" if entry.get("abs") else "", f"± {100 * entry['rel']:g} %" if entry.get("rel") else ""]
    return " or ".join(part for part in parts if part) or "exact"


def build_environment() -> list[tuple[str, str]]:
    """What the report says the notebooks ran on: versions, CPU, threads, commit and date."""
    import numpy
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), None)
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    commit = git.stdout.strip() if git.returncode == 0 else "not a git checkout"
    return [
        ("Python", platform.python_version()),
        ("torch", torch.__version__),
        ("numpy", numpy.__version__),
        ("CPU", cpu or platform.processor() or platform.machine()),
        ("CPU cores", str(os.cpu_count())),
        ("torch threads", str(torch.get_num_threads())),
        ("git commit", commit + (" (with uncommitted changes)" if git.returncode == 0 and dirty else "")),
        ("built", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
    ]


def write_report(records: list[Executed]) -> None:
    """The execution report's tables: one row per notebook, each notebook's key results against their
    references (folded), and the environment of the build."""
    lines = ["| notebook | status | wall time (s) | key results |", "| --- | --- | ---: | ---: |"]
    for r in records:
        lines.append(f"| {r.name} | {r.status} | {r.seconds:.1f} | {{ref}}`{len(r.results)} <report-{r.name}>` |")
    lines += ["", "## Key results", ""]
    for r in records:
        reference = json.loads((REFERENCES / f"{r.name}.json").read_text())
        lines += [f"(report-{r.name})=", f":::{{admonition}} {r.name}: {len(r.results)} key results", ":class: dropdown", ""]
        lines += ["| key | value | reference | tolerance |", "| --- | ---: | ---: | --- |"]
        for key, value in sorted(r.results.items()):
            entry = reference.get(key, {})
            lines.append(f"| `{key}` | {value:.6g} | {entry.get('value', float('nan')):.6g} | {tolerance(entry) if entry else 'none'} |")
        lines += [":::", ""]
    lines += ["## Environment", "", "| item | value |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in build_environment())]
    (STAGE / "book" / "execution-report-table.md").write_text("\n".join(lines) + "\n")


def stage_sources() -> None:
    """Copy the book's sources into _build/source, where executed notebooks replace the clean ones."""
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, STAGE / name)
    for folder in ("book", "notebooks"):
        shutil.copytree(ROOT / folder, STAGE / folder)


def execute_all() -> list[Executed]:
    os.environ["GROKKIT_PROGRESS"] = "0"  # no progress bars in the rendered pages
    os.environ["GROKKIT_BOOK_BUILD"] = "1"  # KeyResults glue their values for the prose only in the build
    records = []
    for entry in toc_notebooks():
        print(f"[book] {entry}.ipynb ...", flush=True)
        record = run_notebook(entry)
        print(f"[book] {entry}.ipynb {record.status} ({record.seconds:.1f} s)", flush=True)
        records.append(record)
    return records


def student_config() -> Path:
    """A copy of the staged _config.yml for the student edition: sphinx-exercise's ``hide_solutions`` on,
    and no page sources to download (``_sources/*.md`` would still hold the solutions)."""
    config = yaml.safe_load((STAGE / "_config.yml").read_text())
    sphinx = config.setdefault("sphinx", {})
    sphinx.setdefault("config", {}).update(hide_solutions=True, html_copy_source=False, html_theme_options={"use_download_button": False})
    sphinx["recursive_update"] = True  # merge html_theme_options into Jupyter Book's, do not replace them
    local = sphinx.get("local_extensions") or {}
    for name, folder in local.items():  # Jupyter Book reads these relative to the config file
        local[name] = str((STAGE / folder).resolve())
    path = STUDENT / "_config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return path


def build(solutions: bool = True, pdf: bool = False) -> None:
    """Execute (or reuse) the notebooks, check their key results, and render the book.

    The default renders HTML into _build/html. ``solutions=False`` renders the student edition, with
    every exercise solution left out, into _build/student/html. ``pdf=True`` renders a PDF with
    Jupyter Book's pdflatex builder (XeLaTeX, as _config.yml sets) into _build/latex/book.pdf.
    """
    if pdf and not solutions:
        raise BuildError("--pdf and --no-solutions cannot be combined")
    stage_sources()
    records = execute_all()
    drifts = [line for record in records for line in compare_with_reference(record)]
    if drifts:
        raise BuildError(
            "key results drifted from notebooks/reference:\n  "
            + "\n  ".join(drifts)
            + "\nIf the change is intended, run `make update-references` and commit the result."
        )
    write_report(records)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(STAGE), "--warningiserror", "--keep-going"]
    if not solutions:
        command += ["--config", str(student_config()), "--path-output", str(STUDENT)]
        output = STUDENT / "html"  # a link to _build/student/_build/html, where Jupyter Book writes
    elif pdf:
        command += ["--path-output", str(ROOT), "--builder", "pdflatex"]
        output = BUILD / "latex" / "book.pdf"
    else:
        command += ["--path-output", str(ROOT)]
        output = BUILD / "html"
    print("[book]", " ".join(command), flush=True)
    if subprocess.run(command, cwd=ROOT).returncode != 0:
        raise BuildError("jupyter-book build failed (warnings count as errors); see the messages above")
    if not solutions and not output.is_symlink():
        shutil.rmtree(output, ignore_errors=True)
        output.symlink_to(Path("_build") / "html", target_is_directory=True)
    print(f"[book] {'PDF' if pdf else 'HTML'} in {output}", flush=True)


def update_references() -> None:
    """Execute the notebooks and store their key results as references, keeping stated tolerances."""
    stage_sources()
    for record in execute_all():
        path = REFERENCES / f"{record.name}.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        new = {
            key: {**old.get(key, {"abs": 0.0, "rel": 0.0, "why": "state a tolerance and its reason"}), "value": value}
            for key, value in record.results.items()
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n")
        print(f"[book] wrote {path.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> None:
    """The command line of the Makefile's book targets; a BuildError ends it with one readable line."""
    parser = argparse.ArgumentParser(
        prog="python tools/book.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    build_command = commands.add_parser(
        "build",
        help="execute (or reuse) the notebooks, check their key results and render the book (`make book`)",
        description="Execute (or reuse from _build/cache) every notebook of _toc.yml, compare its key results with "
        "notebooks/reference, and render the HTML book into _build/html.",
    )
    edition = build_command.add_mutually_exclusive_group()
    edition.add_argument(
        "--no-solutions",
        dest="solutions",
        action="store_false",
        help="the student edition, every exercise solution left out, into _build/student/html (`make book-student`)",
    )
    edition.add_argument("--pdf", action="store_true", help="a PDF into _build/latex/book.pdf (`make pdf`; needs XeLaTeX, see README.md)")
    build_command.set_defaults(action=lambda options: build(solutions=options.solutions, pdf=options.pdf))
    references_command = commands.add_parser(
        "update-references",
        help="execute the notebooks and accept their key results as notebooks/reference (`make update-references`)",
        description="Execute (or reuse) every notebook and write its key results to notebooks/reference/<name>.json, "
        "keeping the tolerances and their reasons already stated there.",
    )
    references_command.set_defaults(action=lambda options: update_references())
    options = parser.parse_args(argv)
    try:
        options.action(options)
    except BuildError as error:
        sys.exit(f"[book] BUILD FAILED: {error}")


if __name__ == "__main__":
    main()
