# `make demo` / `make test` work on a fresh machine: they create (or refresh) the virtual
# environment in $(VENV) with torch pinned by constraints.txt, then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hashaudit-installed

.PHONY: venv demo test test-fast lint ruff unit clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/audit demo

ruff: $(STAMP)
	$(BIN)/ruff check auditor hashing cli tests examples
	$(BIN)/ruff format --check auditor hashing cli tests examples

lint: ruff
	$(BIN)/mypy auditor hashing cli examples

unit: $(STAMP)
	$(BIN)/python -m pytest

# The full suite: lint, then every test not marked slow (torchrun and end-to-end runs included).
test: lint unit

# The inner loop: ruff (lint and format) and the tests without worker processes (distributed)
# or end-to-end training (e2e); about a minute and a half on two cores. `make test` before a
# commit still.
test-fast: ruff
	$(BIN)/python -m pytest -m "not distributed and not e2e and not slow"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
