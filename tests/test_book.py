"""Unit tests of tools/book.py: parameter checks, execution errors, the build cache and the command line.

Every notebook here is a tiny fake written into tmp_path; the book's own notebooks are never executed.
Most cache tests replace ``execute`` with a fake that only writes the files a real run writes, so they
count executions without starting a kernel; one test runs a two-cell notebook for real.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

import book
from book import BuildError, check_parameters, environment, execute, input_hash, run_notebook

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """A notebook whose first cell is the papermill ``parameters`` cell."""
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
            *(nbformat.v4.new_code_cell(source) for source in cells),
        ],
        metadata=KERNEL,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A fake repository (a one-module library, a notebook, a staged book) that book.py builds in."""
    library = tmp_path / "src" / "grokkit"
    library.mkdir(parents=True)
    (library / "__init__.py").write_text('"""A library."""\n')
    (library / "core.py").write_text("STEP = 1\n")
    write_notebook(tmp_path / "notebooks" / "01-fake.ipynb", 'results_dir = "."', "x = 1")
    (tmp_path / "_build" / "source" / "notebooks").mkdir(parents=True)
    monkeypatch.setattr(book, "ROOT", tmp_path)
    monkeypatch.setattr(book, "BUILD", tmp_path / "_build")
    monkeypatch.setattr(book, "STAGE", tmp_path / "_build" / "source")
    monkeypatch.setattr(book, "CACHE", tmp_path / "_build" / "cache")
    monkeypatch.setattr(book, "environment", lambda: "python 3.x\npackage==1")  # reading the real one takes a second
    return tmp_path


@pytest.fixture
def executions(monkeypatch):
    """Replace ``book.execute`` by a fake that writes what a notebook run writes; the parameters of each call."""
    calls = []

    def fake_execute(notebook: Path, output: Path, parameters: dict[str, object], workdir: Path) -> None:
        calls.append(parameters)
        workdir.mkdir(parents=True, exist_ok=True)
        output.write_bytes(notebook.read_bytes())
        (workdir / f"{notebook.stem}.results.json").write_text(json.dumps({"value": len(calls)}))

    monkeypatch.setattr(book, "execute", fake_execute)
    return calls


def test_toc_files_lists_every_page_root_first(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: book/intro\nparts:\n"
        "  - caption: One\n    chapters:\n      - file: book/01\n        sections:\n          - file: notebooks/01\n"
        "  - caption: Two\n    chapters:\n      - file: book/02\n"
    )
    assert book.toc_files(toc) == ["book/intro", "book/01", "notebooks/01", "book/02"]


# Parameters and execution errors


def test_unknown_parameter_fails_fast(tmp_path):
    source = write_notebook(tmp_path / "nb.ipynb", "modulus = 7")
    with pytest.raises(BuildError, match=r"unknown parameter\(s\) \['modulos'\]"):
        execute(source, tmp_path / "out.ipynb", {"modulos": 7}, tmp_path)
    assert not (tmp_path / "out.ipynb").exists(), "the check runs before the notebook is executed"


def test_mistyped_parameter_fails_fast(tmp_path):
    source = write_notebook(tmp_path / "nb.ipynb", "modulus = 71")
    with pytest.raises(BuildError, match=r"parameter modulus must be int like its default 71, got str '71'"):
        execute(source, tmp_path / "out.ipynb", {"modulus": "71"}, tmp_path)


def test_parameter_types_follow_the_default(tmp_path):
    source = write_notebook(tmp_path / "nb.ipynb", "rate = 0.5\nsteps = 10\nname = None")
    check_parameters(source, {"rate": 1, "steps": 20, "name": [1, 2]})  # an int where a float is declared; None takes anything
    with pytest.raises(BuildError, match="parameter steps must be int"):
        check_parameters(source, {"steps": True})  # a bool is an int to Python, not to the notebook


def test_a_failing_cell_names_the_notebook_and_the_cell(tmp_path):
    source = write_notebook(tmp_path / "broken.ipynb", "x = 1", "assert x == 2, 'the claim does not hold'")
    with pytest.raises(BuildError, match=r"broken\.ipynb failed in cell 2 of the executed copy .*AssertionError: the claim does not hold"):
        execute(source, tmp_path / "out.ipynb", {}, tmp_path)


# The cache key: what determines a notebook's outputs, and nothing else


def test_the_key_is_the_same_for_the_same_inputs(root):
    notebook = root / "notebooks" / "01-fake.ipynb"
    key = input_hash(notebook, {"a": 1, "b": [2, 3]}, "env")
    assert input_hash(notebook, {"b": [2, 3], "a": 1}, "env") == key, "the order of the parameters must not matter"
    notebook.touch()
    (root / "src" / "grokkit" / "core.py").touch()
    assert input_hash(notebook, {"a": 1, "b": [2, 3]}, "env") == key, "modification times must not matter"


def test_the_key_follows_the_notebook(root):
    notebook = root / "notebooks" / "01-fake.ipynb"
    key = input_hash(notebook, {}, "env")
    write_notebook(notebook, 'results_dir = "."', "x = 2")
    assert input_hash(notebook, {}, "env") != key


def add_subpackage(library: Path) -> None:
    (library / "sub").mkdir()
    (library / "sub" / "deep.py").write_text("\n")


@pytest.mark.parametrize(
    "change",
    [
        lambda library: (library / "core.py").write_text("STEP = 2\n"),
        lambda library: (library / "extra.py").write_text("\n"),
        lambda library: (library / "core.py").rename(library / "renamed.py"),
        add_subpackage,
    ],
    ids=["edited", "added", "renamed", "added-in-a-subpackage"],
)
def test_the_key_follows_the_library_source(root, change):
    notebook, library = root / "notebooks" / "01-fake.ipynb", root / "src" / "grokkit"
    key = input_hash(notebook, {}, "env")
    change(library)
    assert input_hash(notebook, {}, "env") != key


def test_the_key_ignores_files_that_cannot_change_the_outputs(root):
    """Bytecode that importing grokkit writes, and files outside the library, must not force a re-execution."""
    notebook, library = root / "notebooks" / "01-fake.ipynb", root / "src" / "grokkit"
    key = input_hash(notebook, {}, "env")
    (library / "__pycache__").mkdir()
    (library / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\x00\x01")
    (root / "README.md").write_text("changed\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_core.py").write_text("\n")
    assert input_hash(notebook, {}, "env") == key


@pytest.mark.parametrize("parameters", [{"steps": 11}, {"steps": 10.0}, {"steps": 10, "seed": 0}, {}], ids=["value", "type", "added", "removed"])
def test_the_key_follows_each_parameter(root, parameters):
    notebook = root / "notebooks" / "01-fake.ipynb"
    assert input_hash(notebook, parameters, "env") != input_hash(notebook, {"steps": 10}, "env")


def test_build_cache_key_follows_python_and_package_versions(tmp_path):
    notebook, parameters = write_notebook(tmp_path / "nb.ipynb", 'results_dir = "."'), {"results_dir": "."}
    env = environment()
    assert re.search(r"^torch==\S+$", env, re.M) and re.search(r"^papermill==\S+$", env, re.M), "the key must list the installed packages"
    assert env.startswith("python 3."), "the key must name the Python version"
    key = input_hash(notebook, parameters, env)
    assert input_hash(notebook, parameters) == key, "the key must read the running environment"
    upgraded = re.sub(r"^(numpy==)\S+$", r"\g<1>0.0.1", env, flags=re.M)
    other_python = env.replace("python 3.", "python 4.", 1)
    assert len({key, input_hash(notebook, parameters, upgraded), input_hash(notebook, parameters, other_python)}) == 3


# The cache: reuse, and never a damaged or partial entry


def test_an_unchanged_notebook_is_reused_from_the_cache(root, executions):
    first = run_notebook("notebooks/01-fake")
    staged = root / "_build" / "source" / "notebooks" / "01-fake.ipynb"
    staged.unlink()
    second = run_notebook("notebooks/01-fake")
    assert (first.status, second.status) == ("executed", "reused from cache")
    assert len(executions) == 1
    assert second.results == first.results and second.seconds == first.seconds, "a reused record reports the first run"
    assert staged.exists(), "a reused notebook is staged like an executed one"


def test_a_changed_input_executes_again_into_a_new_entry(root, executions):
    run_notebook("notebooks/01-fake")
    (root / "src" / "grokkit" / "core.py").write_text("STEP = 2\n")
    assert run_notebook("notebooks/01-fake").status == "executed"
    write_notebook(root / "notebooks" / "01-fake.ipynb", 'results_dir = "."', "x = 2")
    assert run_notebook("notebooks/01-fake").status == "executed"
    assert len(executions) == 3 and len(list((root / "_build" / "cache").iterdir())) == 3


def damage_meta_truncated(entry: Path) -> None:
    (entry / "meta.json").write_text('{"seconds": ')


def damage_meta_wrong(entry: Path) -> None:
    (entry / "meta.json").write_text("[]")


def damage_notebook_truncated(entry: Path) -> None:
    path = entry / "01-fake.ipynb"
    path.write_text(path.read_text()[:50])


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: (entry / "meta.json").unlink(),
        damage_meta_truncated,
        damage_meta_wrong,
        lambda entry: (entry / "01-fake.ipynb").unlink(),
        damage_notebook_truncated,
        lambda entry: (entry / "01-fake.results.json").unlink(),
        lambda entry: (entry / "01-fake.results.json").write_text("{"),
    ],
    ids=["no-meta", "meta-truncated", "meta-not-a-record", "no-notebook", "notebook-truncated", "no-results", "results-truncated"],
)
def test_a_damaged_cache_entry_is_executed_again(root, executions, damage):
    run_notebook("notebooks/01-fake")
    (entry,) = (root / "_build" / "cache").iterdir()
    damage(entry)
    assert run_notebook("notebooks/01-fake").status == "executed"
    assert run_notebook("notebooks/01-fake").status == "reused from cache", "the entry written again is complete"
    assert len(executions) == 2


def test_a_partial_entry_of_an_interrupted_build_is_neither_used_nor_mixed_in(root, executions):
    run_notebook("notebooks/01-fake")
    (entry,) = (root / "_build" / "cache").iterdir()
    partial = entry.with_name(f"{entry.name}.tmp")
    entry.rename(partial)  # as if the build had stopped before renaming the entry into place
    (partial / "stale.txt").write_text("from the interrupted build\n")
    assert run_notebook("notebooks/01-fake").status == "executed"
    assert not (entry / "stale.txt").exists() and not partial.exists()


def test_a_failed_execution_leaves_no_cache_entry(root, monkeypatch):
    def failing_execute(notebook, output, parameters, workdir):
        workdir.mkdir(parents=True, exist_ok=True)
        output.write_text("{}")
        raise BuildError("cell 2 failed")

    monkeypatch.setattr(book, "execute", failing_execute)
    with pytest.raises(BuildError, match="cell 2 failed"):
        run_notebook("notebooks/01-fake")
    assert not (root / "_build" / "cache").exists() or not any((root / "_build" / "cache").iterdir())


def test_a_notebook_without_key_results_fails_and_is_not_cached(root, monkeypatch):
    def silent_execute(notebook, output, parameters, workdir):
        workdir.mkdir(parents=True, exist_ok=True)
        output.write_text("{}")

    monkeypatch.setattr(book, "execute", silent_execute)
    with pytest.raises(BuildError, match=r"01-fake did not write 01-fake\.results\.json"):
        run_notebook("notebooks/01-fake")
    assert not (root / "_build" / "cache").exists() or not any((root / "_build" / "cache").iterdir())


def test_notebooks_that_sweep_share_the_run_cache_of_the_build(root, executions):
    write_notebook(root / "notebooks" / "02-sweep.ipynb", 'results_dir = "."\ncache_dir = None')
    run_notebook("notebooks/01-fake")
    run_notebook("notebooks/02-sweep")
    assert executions == [{"results_dir": "."}, {"results_dir": ".", "cache_dir": str(root / "_build" / "runs")}]


def test_the_build_asserts_the_claims_of_a_notebook_that_has_them(root, executions):
    """A learner's default is check_claims = False; the book runs the defaults, for which the claims are written."""
    write_notebook(root / "notebooks" / "02-claims.ipynb", 'results_dir = "."\ncheck_claims = False')
    run_notebook("notebooks/02-claims")
    assert executions == [{"results_dir": ".", "check_claims": True}]


def test_a_notebook_is_executed_for_real_then_reused(root):
    """The one real execution: two cells, the key results written where the build reads them."""
    write_notebook(
        root / "notebooks" / "01-fake.ipynb",
        'results_dir = "."\ncache_dir = None',
        'import json, pathlib; pathlib.Path(results_dir, "01-fake.results.json").write_text(json.dumps({"answer": 42}))',
    )
    first = run_notebook("notebooks/01-fake")
    second = run_notebook("notebooks/01-fake")
    assert (first.status, second.status, second.results) == ("executed", "reused from cache", {"answer": 42})
    staged_path = root / "_build" / "source" / "notebooks" / "01-fake.ipynb"
    staged = nbformat.read(staged_path, as_version=4)
    assert [cell.source for cell in staged.cells][0] == 'results_dir = "."\ncache_dir = None', "the page and download keep the defaults"
    assert "injected-parameters" not in staged_path.read_text() and str(root) not in staged_path.read_text(), "no build path leaks"


def test_the_report_tables_notebooks_key_results_and_environment(root, monkeypatch):
    references = root / "notebooks" / "reference"
    references.mkdir()
    (references / "01-fake.json").write_text(json.dumps({"step": {"value": 100, "abs": 5, "rel": 0.0}, "share": {"value": 0.5, "rel": 0.1}}))
    monkeypatch.setattr(book, "REFERENCES", references)
    (root / "_build" / "source" / "book").mkdir(parents=True)
    book.write_report([book.Executed("01-fake", "executed", 12.34, {"step": 103, "share": 0.52})])
    report = (root / "_build" / "source" / "book" / "execution-report-table.md").read_text()
    assert "| 01-fake | executed | 12.3 | {ref}`2 <report-01-fake>` |" in report
    assert "(report-01-fake)=\n:::{admonition} 01-fake: 2 key results\n:class: dropdown" in report
    assert "| `share` | 0.52 | 0.5 | ± 10 % |" in report and "| `step` | 103 | 100 | ± 5 |" in report
    for name in ("Python", "torch", "numpy", "CPU", "torch threads", "git commit", "built"):
        assert re.search(rf"^\| {name} \| \S", report, re.MULTILINE), f"the environment names no {name}"


# The command line the Makefile calls


@pytest.mark.parametrize(
    ("argv", "call"),
    [
        (["build"], ("build", {"solutions": True, "pdf": False})),
        (["build", "--no-solutions"], ("build", {"solutions": False, "pdf": False})),
        (["build", "--pdf"], ("build", {"solutions": True, "pdf": True})),
        (["update-references"], ("update_references", {})),
    ],
)
def test_each_make_target_calls_its_function(monkeypatch, argv, call):
    calls = []
    monkeypatch.setattr(book, "build", lambda **options: calls.append(("build", options)))
    monkeypatch.setattr(book, "update_references", lambda: calls.append(("update_references", {})))
    book.main(argv)
    assert calls == [call]


@pytest.mark.parametrize("argv", [[], ["build", "--pdf", "--no-solutions"], ["update-references", "--pdf"], ["publish"]])
def test_a_wrong_command_line_shows_the_usage(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        book.main(argv)
    assert exit_info.value.code == 2 and "usage: python tools/book.py" in capsys.readouterr().err


def test_a_build_error_ends_with_one_readable_line(monkeypatch):
    def failing_build(**options):
        raise BuildError("01-fake.ipynb failed in cell 2")

    monkeypatch.setattr(book, "build", failing_build)
    with pytest.raises(SystemExit, match=r"^\[book\] BUILD FAILED: 01-fake\.ipynb failed in cell 2$"):
        book.main(["build"])
