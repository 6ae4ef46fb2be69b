# Two commands: `make book` builds the whole book into _build/html; `make test` runs the test suite.
# `make lint` checks the style (ruff) and types (mypy). All create .venv on first use and install grokkit
# with the pinned versions of constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: book book-student pdf test test-lowest lint linkcheck update-references clean

$(VENV)/installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[book,test]'
	touch $@

book: $(VENV)/installed
	$(BIN)/python tools/book.py build
	$(BIN)/python -m pytest -q -m book

# The edition for students: every exercise solution left out (_build/student/html).
book-student: $(VENV)/installed
	$(BIN)/python tools/book.py build --no-solutions
	$(BIN)/python -m pytest -q -m book tests/test_student_edition.py

# A PDF of the book (_build/latex/book.pdf); needs XeLaTeX and the TeX packages listed in README.md.
pdf: $(VENV)/installed
	$(BIN)/python tools/book.py build --pdf

test: $(VENV)/installed
	$(BIN)/python -m pytest

# The fresh-install smoke runs of every notebook with the lowest versions pyproject.toml's dependencies allow
# (torch stays the CPU wheel of constraints.txt); not part of `make test`, 9 to 14 minutes on 2 cores.
test-lowest: $(VENV)/installed
	$(BIN)/python tools/lowest.py

# Lint and format of every Python file and notebook, types of the library; settings in pyproject.toml.
LINTED := src tests tools benchmarks notebooks
lint: $(VENV)/installed
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy src

# Every external link of the book, with Sphinx's linkcheck builder (needs the network, so CI does not run it). It reads
# the executed sources that the last `make book` staged in _build/source, fails on a broken link and writes its report
# to _build/linkcheck/_build/html/output.txt (Jupyter Book names every builder's folder html).
linkcheck: $(VENV)/installed
	@test -f _build/source/_toc.yml || { echo "make linkcheck: run \`make book\` first (it stages _build/source)"; exit 1; }
	$(BIN)/jupyter-book build _build/source --builder linkcheck --path-output _build/linkcheck --all

update-references: $(VENV)/installed
	$(BIN)/python tools/book.py update-references

clean:
	rm -rf _build
