# Two commands: `make book` builds the whole book into _build/html; `make test` runs the test suite.
# Both create .venv on first use and install grokkit with the pinned versions of constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: book test update-references clean

$(VENV)/installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[book,test]'
	touch $@

book: $(VENV)/installed
	$(BIN)/python tools/book.py build
	$(BIN)/python -m pytest -q -m book

test: $(VENV)/installed
	$(BIN)/python -m pytest

update-references: $(VENV)/installed
	$(BIN)/python tools/book.py update-references

clean:
	rm -rf _build
