"""Run the fresh-install smoke runs with the lowest versions that pyproject.toml's dependencies allow.

    python tools/lowest.py          # what `make test-lowest` runs
    python tools/lowest.py --show   # print the version overrides and exit

Each dependency in pyproject.toml's ``[project] dependencies`` is pinned to its lower bound (``numpy>=1.24.1`` gives
``numpy==1.24.1``), except torch, which keeps constraints.txt's CPU wheel. The packages these dependencies pull in
are left to pip (their constraints.txt pins may not fit the old versions), and every other package (papermill, the
kernel) keeps its constraints.txt pin. The overrides go to tests/colab.py through GROKKIT_FRESH_VERSIONS, in place of
constraints-colab.txt, and pytest runs the fresh-install tests: every notebook of the book with its smoke parameters
in a new virtual environment. A lower bound that does not install or run there is one to raise in pyproject.toml.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
KEPT = {"torch"}  # stays at constraints.txt's version: the CPU wheel on disk
# The fresh-install tests, less the one that compares with a second run in the repository's (newest) environment.
PYTEST = ["tests/test_install.py", "tests/test_notebooks.py", "-k", "not executing_twice"]


def lower_bounds(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """``{name: lowest allowed version}`` of every dependency in ``[project] dependencies`` (torch left out)."""
    bounds = {}
    for text in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        if name in KEPT:
            continue
        lows = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==", "~=")]
        if not lows:
            raise SystemExit(f"pyproject.toml: {text!r} states no lower bound (>=, == or ~=)")
        low = max(lows)
        if not requirement.specifier.contains(low, prereleases=True):
            raise SystemExit(f"pyproject.toml: {text!r} excludes its own lower bound {low}")
        bounds[name] = str(low)
    return bounds


def pulled_in(names: set[str]) -> set[str]:
    """The packages that ``names`` require, directly or not, as installed here (extras left out)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        try:
            requires = metadata.requires(todo.pop()) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(requirement.name)
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def overrides() -> list[str]:
    """The lines for GROKKIT_FRESH_VERSIONS: ``name==version`` pins the lower bounds, a bare ``name`` drops the
    package's constraints.txt pin (what the dependencies pull in, apart from what torch pulls in)."""
    bounds = lower_bounds()
    released = pulled_in(set(bounds)) - pulled_in(KEPT) - KEPT - set(bounds)
    return [f"{name}=={version}" for name, version in sorted(bounds.items())] + sorted(released)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print the version overrides and exit")
    args = parser.parse_args()
    lines = overrides()
    header = "# The lowest versions pyproject.toml allows (tools/lowest.py); a bare name drops the constraints.txt pin.\n"
    if args.show:
        print(header + "\n".join(lines))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "constraints-lowest.txt"
        path.write_text(header + "\n".join(lines) + "\n")
        print("Lowest versions: " + ", ".join(line for line in lines if "==" in line), flush=True)
        command = [sys.executable, "-m", "pytest", "-q", "-s", *PYTEST]
        return subprocess.call(command, cwd=ROOT, env={**os.environ, "GROKKIT_FRESH_VERSIONS": str(path)})


if __name__ == "__main__":
    sys.exit(main())
